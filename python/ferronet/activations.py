"""Activation functions with Keras' names, computed by the Rust core.

Each function works on NumPy arrays (``ferronet.activations.relu(x)``, also
reachable as ``ferronet.nn.relu``) and can be given to a layer, by name or as
the function itself: ``Dense(64, activation="relu")`` or
``Dense(64, activation=ferronet.nn.relu)``. Inside a layer every built-in
activation has its backward pass in the core too; an arbitrary Python callable
works for inference but cannot be trained through (there is no autodiff).

Example:
    >>> import numpy as np, ferronet as fn
    >>> fn.activations.relu(np.array([-1.0, 2.0], dtype=np.float32))
    array([0., 2.], dtype=float32)
"""

from __future__ import annotations

from . import _core, ops

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "log_softmax", "leaky_relu", "elu", "gelu", "silu", "swish",
    "softplus", "linear", "get", "serialize", "deserialize",
]


def relu(x):
    """Rectified linear unit: ``max(x, 0)``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> relu(x)
        array([0., 0., 2.], dtype=float32)
    """
    return ops.relu(x)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(sigmoid(x), 4)
        array([0.2689, 0.5   , 0.8808], dtype=float32)
    """
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(tanh(x), 4)
        array([-0.7616,  0.    ,  0.964 ], dtype=float32)
    """
    return ops.tanh(x)


def softmax(x, axis=-1):
    """Softmax along ``axis`` (numerically stable).

    Example:
        >>> np.round(softmax(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)), 4)
        array([[0.09  , 0.2447, 0.6652]], dtype=float32)
    """
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """Logarithm of the softmax along ``axis``.

    Example:
        >>> np.round(log_softmax(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)), 4)
        array([[-2.4076, -1.4076, -0.4076]], dtype=float32)
    """
    return ops.log_softmax(x, axis=axis)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras default slope 0.2).

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> leaky_relu(x)
        array([-0.2,  0. ,  2. ], dtype=float32)
        >>> leaky_relu(x, negative_slope=0.5)
        array([-0.5,  0. ,  2. ], dtype=float32)
    """
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(elu(x), 4)
        array([-0.6321,  0.    ,  2.    ], dtype=float32)
    """
    return ops.elu(x, alpha=alpha)


def gelu(x, approximate=False):
    """Gaussian error linear unit (exact erf form, or the tanh approximation).

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(gelu(x), 4)
        array([-0.1587,  0.    ,  1.9545], dtype=float32)
    """
    return ops.gelu(x, approximate=approximate)


def silu(x):
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish).

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(silu(x), 4)
        array([-0.2689,  0.    ,  1.7616], dtype=float32)
    """
    return ops.silu(x)


swish = silu


def softplus(x):
    """``log(1 + exp(x))``, computed without overflow.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(softplus(x), 4)
        array([0.3133, 0.6931, 2.1269], dtype=float32)
    """
    return ops.softplus(x)


def linear(x):
    """Identity (Keras' ``"linear"`` activation, the default of Dense/Conv2D).

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> linear(x)
        array([-1.,  0.,  2.], dtype=float32)
    """
    return x


_FUNCTIONS = {
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax,
    "leaky_relu": leaky_relu, "elu": elu, "gelu": gelu, "silu": silu, "swish": silu,
    "softplus": softplus, "linear": linear,
}


def get(identifier):
    """The activation function for a name, a function, or ``None`` (linear).

    Args:
        identifier: ``None``, a name such as ``"relu"``, or a callable.

    Returns:
        A callable.

    Raises:
        ValueError: for an unknown name or a non-callable.

    Example:
        >>> get("relu") is relu
        True
        >>> get(None) is linear
        True
        >>> get("relu")(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _FUNCTIONS.get(identifier.lower())
        if fn is None:
            raise ValueError(
                f"Unknown activation. Known names: {', '.join(sorted(_FUNCTIONS))}. Received: activation={identifier!r}"
            )
        return fn
    if isinstance(identifier, dict) and "class_name" in identifier:
        return get(identifier.get("config", {}).get("name", identifier["class_name"]))
    builtin = _builtin_for_tensor_op(identifier)
    if builtin is not None:
        return builtin
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation. Received: activation={identifier!r}")


def _builtin_for_tensor_op(fn):
    """The built-in activation a tensor op stands for (``tf.nn.relu`` -> ``relu``), so layers use their kernels."""
    from .tensor import nn_ops

    for name, op in nn_ops._ACTIVATIONS.items():
        if op is not None and op is fn and name in _FUNCTIONS:
            return _FUNCTIONS[name]
    return None


def serialize(fn) -> str:
    """The name of an activation function (what ``get_config`` stores).

    Example:
        >>> serialize(relu)
        'relu'
        >>> serialize(ferronet.activations.get("gelu"))
        'gelu'
    """
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize an activation without a __name__. Received: {fn!r}")
    return "silu" if fn is silu else name


def deserialize(name, custom_objects=None):
    """Inverse of :func:`serialize`; ``custom_objects`` maps names of user functions.

    Example:
        >>> deserialize("tanh") is tanh
        True
        >>> def cube(x):
        ...     return x ** 3
        >>> deserialize("cube", custom_objects={"cube": cube})(np.array([2.0]))
        array([8.])
    """
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)


class _Act:
    """Forward/backward pair of one activation inside a layer (internal).

    ``forward(x, out)`` returns the activation; ``backward(dy, x, y, out)``
    returns the gradient with respect to ``x`` given the saved input ``x`` and
    output ``y``. ``name`` is the registry name (``None`` for a custom
    callable, which has no backward).
    """

    __slots__ = ("name", "forward", "backward", "_recipe")

    def __init__(self, name, forward, backward):
        self.name = name
        self.forward = forward
        self.backward = backward
        self._recipe = None

    def __reduce__(self):
        # The kernels are closures, which pickle cannot store: rebuild them from what made them.
        return self._recipe


def _made(act, factory, *args):
    act._recipe = (factory, args)
    return act


def _pair(name, **kw):
    """The core forward/backward kernels of a built-in activation (picklable: rebuilt from ``name, kw``)."""
    return _made(_kernels(name, kw), _pair_of, name, kw)


def _pair_of(name, kw):
    return _pair(name, **kw)


def _kernels(name, kw):
    """The core forward/backward kernels of a built-in activation.

    NOTE: layers call the compiled kernels directly: their buffers are always
    C-contiguous and of the layer's dtype, so the argument checks of the
    ``ferronet.ops`` wrappers would only add their cost (comparable to the
    kernel itself at batch 32) to every step.
    """
    c = _core
    if name == "relu":
        return _Act(name, c.relu, lambda dy, x, y, out: c.relu_backward(dy, x, out))
    if name == "sigmoid":
        return _Act(name, c.sigmoid, lambda dy, x, y, out: c.sigmoid_backward(dy, y, out))
    if name == "tanh":
        return _Act(name, c.tanh, lambda dy, x, y, out: c.tanh_backward(dy, y, out))
    if name in ("softmax", "log_softmax"):
        axis = int(kw.get("axis", -1))
        f, b = getattr(c, name), getattr(c, name + "_backward")
        return _Act(name, lambda x, out: f(x, axis, out), lambda dy, x, y, out: b(dy, y, axis, out))
    if name == "leaky_relu":
        s = float(kw.get("negative_slope", 0.2))
        return _Act(name, lambda x, out: c.leaky_relu(x, s, out), lambda dy, x, y, out: c.leaky_relu_backward(dy, x, s, out))
    if name == "elu":
        a = float(kw.get("alpha", 1.0))
        return _Act(name, lambda x, out: c.elu(x, a, out), lambda dy, x, y, out: c.elu_backward(dy, x, a, out))
    if name == "gelu":
        ap = bool(kw.get("approximate", False))
        return _Act(name, lambda x, out: c.gelu(x, ap, out), lambda dy, x, y, out: c.gelu_backward(dy, x, ap, out))
    if name in ("silu", "swish"):
        return _Act("silu", c.silu, lambda dy, x, y, out: c.silu_backward(dy, x, out))
    if name == "softplus":
        return _Act(name, c.softplus, lambda dy, x, y, out: c.softplus_backward(dy, x, out))
    raise ValueError(f"No core kernel for activation. Received: activation={name!r}")


def _core_pair(fn):
    """The ``_Act`` for an activation function, or ``None`` for ``linear``.

    A user callable gets a forward-only ``_Act`` whose backward raises.
    """
    if fn is linear:
        return None
    name = getattr(fn, "__name__", None)
    if name in _FUNCTIONS and _FUNCTIONS[name] is fn:
        return _pair(name)

    def _no_backward(dy, x, y, out, _fn=fn):
        raise NotImplementedError(
            f"Cannot train through the custom activation {_fn!r}: ferronet has no autodiff, only the built-in "
            f"activations ({', '.join(sorted(_FUNCTIONS))}) have a backward pass. Use one of them, or a "
            f"layer with its own backward(). Received: activation={_fn!r}"
        )

    def _forward(x, out, _fn=fn):
        return _fn(x)

    return _made(_Act(None, _forward, _no_backward), _core_pair, fn)
