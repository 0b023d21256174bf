"""``Layer``: the base class of every layer (Keras lifecycle, NumPy arrays, Rust math).

Lifecycle, as in Keras: ``__init__`` validates and stores the configuration;
``build(input_shape)`` creates the weights with :meth:`Layer.add_weight` once
the input shape is known; ``call(inputs, training)`` does the math only;
``get_config`` returns the ``__init__`` arguments so ``from_config`` rebuilds
the layer. ferronet adds ``backward(dy, need_dx)``, written next to ``call``:
it returns the gradient with respect to the input and writes the weight
gradients into ``variable.grad``.

Every array a layer produces lives in a buffer that the layer keeps per
input shape (at most two shapes per buffer: the full batch and the last
partial one), so a training step allocates nothing once warm. Calling a layer
directly (``layer(x)``) returns a fresh copy, so results never change under
the caller's feet.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

import numpy as np

from ..errors import ShapeError
from .variable import Variable, reserve

__all__ = ["Layer", "clear_session"]

_NAME_COUNTS: dict = {}
# Bumped whenever a layer's ``trainable`` flag changes, so models recompute
# their trainable-variable lists only then.
_TRAINABLE_VERSION = [0]


def clear_session() -> None:
    """Reset automatic layer names (``dense``, ``dense_1``, ...), like ``keras.backend.clear_session``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.layers.base import clear_session
        >>> clear_session()
        >>> fn.layers.Dense(2).name, fn.layers.Dense(2).name
        ('dense', 'dense_1')
        >>> clear_session()
        >>> fn.layers.Dense(2).name
        'dense'
    """
    _NAME_COUNTS.clear()


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _unique_name(prefix: str) -> str:
    n = _NAME_COUNTS.get(prefix, 0)
    _NAME_COUNTS[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def fmt_shape(shape) -> str:
    """``(None, 28, 28)``-style text for a shape tuple."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_shape(shape, what="shape"):
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a tuple of ints. Received: {what}={shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{what} must have positive dimensions. Received: {what}={shape!r}")
    return shape


class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by ``fit``
            (``layer.trainable = False`` freezes it later too).
        name: unique name inside a model (default: the snake-cased class
            name, numbered: ``dense``, ``dense_1``, ...).
        dtype: ``"float32"`` (default), ``"float64"``, ``"mixed_bfloat16"`` (float32 weights, bfloat16
            products; see :mod:`ferronet.mixed_precision`) or a ``DTypePolicy``; default: the global policy.
        input_shape: optional shape without the batch dimension (legacy
            Keras way to give the first layer of a Sequential model its input).
        input_dim: for 1-D inputs, same as ``input_shape=(input_dim,)``.
        batch_size: optional fixed batch size that goes with ``input_shape``.

    Example:
        A Keras-style layer writes ``build`` (weights) and ``call`` (tensor math);
        the tape derives its gradient:

        >>> import numpy as np, ferronet as fn
        >>> class Scale(fn.layers.Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        ...     def call(self, inputs):
        ...         return inputs * self.w
        >>> layer = Scale()
        >>> print(layer(np.array([[1.0, 2.0, 3.0]])))
        [[1. 2. 3.]]
        >>> [w.shape for w in layer.trainable_weights], layer.count_params()
        ([(3,)], 3)
        >>> with fn.GradientTape() as tape:
        ...     y = layer(np.array([[1.0, 2.0, 3.0]])) ** 2
        >>> print(tape.gradient(y, layer.w))  # of sum(y): 2 x^2 w
        [ 2.  8. 18.]
        >>> model = fn.Sequential([fn.Input((3,)), Scale(), fn.layers.Dense(1)])
        >>> model.output_shape
        (None, 1)
    """

    # Input rank the layer accepts (checked in build): exact or minimum.
    _ndim: Optional[int] = None
    _min_ndim: Optional[int] = None
    # Whether the layer passes an input mask on to its output (see ferronet.layers.masking).
    supports_masking = False

    def __init__(self, *, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}. Received: {kwargs}")
        if name == "":
            name = None  # Keras 3 names such layers and models automatically
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"name must be a non-empty string without '/'. Received: name={name!r}")
        self.name = name or _unique_name(_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        from .. import mixed_precision

        # None: the global policy, else keras.backend.floatx() (set_floatx("float64") changes every new layer)
        self._dtype_policy = mixed_precision.get(dtype)
        self.dtype = self._dtype_policy.variable_dtype
        self._np_dtype = np.dtype(self.dtype)
        # what the GEMM and convolution kernels get: "bfloat16" under mixed_bfloat16
        self._precision = self._dtype_policy.precision
        self.built = False
        self._variables: list = []
        self._direct = None  # the CallState of direct array calls (layer.call / layer.backward)
        self._act = None
        self.input_shape = None
        self.output_shape = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = _as_shape(batch_input_shape, "batch_input_shape")
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + _as_shape(input_shape, "input_shape")
        else:
            self._batch_input_shape = None

    # ---------------------------------------------------------------- dtypes
    @property
    def dtype_policy(self):
        """The layer's :class:`~ferronet.mixed_precision.DTypePolicy`."""
        return self._dtype_policy

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's products (``"bfloat16"`` under ``mixed_bfloat16``)."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (also ``layer.dtype``, as in Keras)."""
        return self._dtype_policy.variable_dtype

    # ---------------------------------------------------------------- weights
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        _TRAINABLE_VERSION[0] += 1

    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True, regularizer=None,
                   name=None):
        """Create a weight (call from ``build``).

        Args:
            shape: tuple of ints.
            initializer: name, ``ferronet.initializers`` object or callable ``(shape, dtype) -> array``.
            dtype: defaults to the layer's dtype.
            trainable: False for statistics updated outside the optimizer.
            regularizer: optional regularizer (name or object).
            name: short name, unique within the layer.

        Returns:
            The new :class:`Variable`.
        """
        from .. import initializers, regularizers

        shape = _as_shape(() if shape is None else shape)
        dt = np.dtype(dtype or self.dtype)
        init = initializers.get(initializer) or initializers.Zeros()
        reserve(shape, dt, f"{self.name}/{name}")
        value = np.asarray(init(shape, dt), dtype=dt)
        if value.shape != shape:
            raise ShapeError(f"Initializer of '{self.name}/{name}' returned shape {value.shape}. Received: shape={shape}")
        name = name or f"variable_{len(self._variables)}"
        var = Variable(value, trainable=trainable, name=name, path=f"{self.name}/{name}",
                       regularizer=regularizers.get(regularizer))
        self._variables.append(var)
        return var

    @property
    def weights(self) -> list:
        """All variables in creation order (Keras' order for ``get_weights``), own ones, then sublayers'."""
        out = list(self._variables)
        for sub in self._tracked_layers:
            out += [v for v in sub.weights if all(v is not o for o in out)]
        return out

    variables = weights

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        out = [v for v in self._variables if v.trainable]
        for sub in self._tracked_layers:
            out += [v for v in sub.trainable_weights if all(v is not o for o in out)]
        return out

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        train = self.trainable_weights
        return [v for v in self.weights if all(v is not t for t in train)]

    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """Copies of the weights as NumPy arrays, in Keras' layouts and order."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays (same count, order and shapes as ``get_weights``).

        Raises:
            ValueError: on a wrong count or shape; nothing is assigned then.
        """
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weight arrays ({', '.join(v.path for v in own) or 'none'}). "
                f"Received: {len(weights)} arrays"
            )
        arrays = [np.asarray(w) for w in weights]
        for v, a in zip(own, arrays):
            if a.shape != v.shape:
                raise ValueError(f"Weight '{v.path}' has shape {v.shape}. Received: shape {a.shape}")
        for v, a in zip(own, arrays):
            v.assign(a)

    def count_params(self) -> int:
        """Number of scalars in all weights (the ``Param #`` of ``summary``)."""
        return int(sum(v.size for v in self.weights))

    # -------------------------------------------------------------- building
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension None)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:
            cls.build = _marks_built(cls.__dict__["build"])

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape`` (batch dimension None); identity by default."""
        return tuple(input_shape)

    def _check_input_shape(self, input_shape) -> None:
        nd = len(input_shape)
        if self._ndim is not None and nd != self._ndim:
            raise ShapeError(
                f'Input of layer "{self.name}" ({type(self).__name__}) is incompatible with the layer: expected '
                f"ndim={self._ndim}, found ndim={nd}. Received: input shape {fmt_shape(input_shape)}"
            )
        if self._min_ndim is not None and nd < self._min_ndim:
            raise ShapeError(
                f'Input of layer "{self.name}" ({type(self).__name__}) is incompatible with the layer: expected '
                f"min_ndim={self._min_ndim}, found ndim={nd}. Received: input shape {fmt_shape(input_shape)}"
            )

    def _build_with(self, input_shape):
        """Build (once) for ``input_shape`` and return the output shape."""
        given = tuple(input_shape)
        input_shape = (None,) + given[1:]
        if self.built and self._variables:
            self._check_call_shape(given)
        elif self.built:
            # Layers without weights (Dropout, pooling, ...) accept any shape of the right rank.
            self._check_input_shape(given)
        else:
            self._check_input_shape(input_shape)
            self.build(input_shape)
            self.built = True
            self.input_shape = input_shape
        out = tuple(self.compute_output_shape(input_shape))
        self.output_shape = out
        return out

    def _check_call_shape(self, shape) -> None:
        """Raise ShapeError naming the layer if ``shape`` differs from the built one (batch ignored)."""
        want = self.input_shape
        if want is not None and (len(shape) != len(want) or any(
                w is not None and s != w for s, w in zip(shape[1:], want[1:]))):
            raise ShapeError(
                f'Layer "{self.name}" ({type(self).__name__}) was built for inputs of shape {fmt_shape(want)}. '
                f"Received: input shape {fmt_shape(shape)}"
            )

    # ------------------------------------------------------------------ math
    def __call__(self, *args, **kwargs):
        """Apply the layer: to data (arrays or tensors) it returns a new :class:`~ferronet.Tensor`, recorded on
        any active ``GradientTape``; to symbolic inputs (``ferronet.Input``) it records a node of a functional
        model and returns symbolic outputs."""
        from . import eager
        from ..models import functional

        if args:
            inputs, args = args[0], args[1:]
        elif "inputs" in kwargs:
            inputs = kwargs.pop("inputs")
        else:
            raise TypeError(f'Layer "{self.name}" was called without inputs. Received: no positional argument')
        if args:
            raise TypeError(f'Layer "{self.name}" takes its inputs as one argument (a list for several). '
                            f"Received: {1 + len(args)} positional arguments")
        if functional.is_symbolic(inputs):
            return functional.call_symbolic(self, inputs, kwargs)
        training = kwargs.pop("training", None)
        return eager.eager_call(self, inputs, training, kwargs)

    def _tensor_call(self, x, training, **kwargs):
        """The layer's math on tensors (differentiable). Built-in layers override it with their fused kernels."""
        from . import eager

        if _has_kernels(type(self)) or type(self).backward is not Layer.backward:
            return eager.legacy_call(self, x, training)
        return eager.user_call(self, x, training, **kwargs)

    def compute_mask(self, inputs, mask=None):
        """The mask of the output for ``inputs`` with ``mask``: ``mask`` itself if ``supports_masking``."""
        return mask if self.supports_masking else None

    def _build_multi(self, shapes) -> None:
        """Build a layer taking several inputs (a list/dict of shapes, batch dimensions included)."""
        self.build(shapes)
        self.built = True
        self.input_shape = shapes

    def _activation_tensor(self, z):
        """The layer's activation applied to tensor ``z`` (differentiable)."""
        act = self._act
        if act is None:
            return z
        if act.name is None:
            return self.activation(z)
        from ..tensor import nn_ops

        return nn_ops.activation(act.name)(z)

    # ------------------------------------------------------------ tracking
    def __setattr__(self, name, value):
        # Keras tracks layers and variables assigned as attributes (subclassed layers and models).
        if isinstance(value, (Layer, list, tuple)) and not name.startswith("_"):
            subs = self.__dict__.setdefault("_sublayers", [])
            items = value if isinstance(value, (list, tuple)) else (value,)
            for item in items:
                if isinstance(item, Layer) and item is not self and all(item is not s for s in subs):
                    subs.append(item)
        elif isinstance(value, Variable) and not name.startswith("_"):
            own = self.__dict__.get("_variables")
            if own is not None and all(value is not v for v in own):
                own.append(value)
        object.__setattr__(self, name, value)

    def _node_tensors(self, which):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(f'Layer "{self.name}" has never been called on symbolic inputs, so it has no {which}. '
                                 f"Received: {self.name}.{which} before any call on a ferronet.Input")
        ts = nodes[0].flat_inputs if which == "input" else nodes[0].outputs
        return ts[0] if len(ts) == 1 else list(ts)

    @property
    def output(self):
        """The symbolic output of the layer's first call in a functional graph (Keras' ``layer.output``)."""
        return self._node_tensors("output")

    @property
    def input(self):
        """The symbolic input of the layer's first call in a functional graph (Keras' ``layer.input``)."""
        return self._node_tensors("input")

    @property
    def _tracked_layers(self) -> list:
        return self.__dict__.get("_sublayers", [])

    def add_loss(self, loss) -> None:
        """Add a loss term (a scalar tensor, e.g. a VAE's KL divergence) computed in ``call``; ``fit`` adds it to
        the compiled loss. Cleared at the start of each outermost call, as in Keras."""
        self.__dict__.setdefault("_losses", []).append(loss)

    @property
    def losses(self) -> list:
        """The loss terms added by this layer and its sublayers during the last call, plus regularization."""
        out = list(self.__dict__.get("_losses", []))
        for sub in self._tracked_layers:
            out += sub.losses
        return out

    def call(self, inputs, training=False):
        """Forward math on a built layer; returns an array (may be an internal buffer).

        Layers written Keras' way override this with tensor ops. For the
        built-in layers with Rust kernels it runs their ``_forward`` on arrays,
        keeping what :meth:`backward` needs until the next call.
        """
        if not _has_kernels(type(self)):
            raise NotImplementedError(f"Layer {type(self).__name__} must implement call(inputs, training).")
        state = self._direct_state()
        state.train = self._trainable
        return self._forward(state, inputs, training)

    def backward(self, dy, need_dx=True):
        """Gradient with respect to the last ``call``'s input; writes weight gradients into ``var.grad``.

        Args:
            dy: gradient of the loss with respect to the last output.
            need_dx: False for the first layer trained (its input gradient is unused).

        Returns:
            The input gradient, or None when ``need_dx`` is False.
        """
        if not _has_kernels(type(self)):
            raise NotImplementedError(
                f"Layer {type(self).__name__} ('{self.name}') has no backward(dy, need_dx) method, so it cannot be "
                f"trained through. Received: a training step through '{self.name}'"
            )
        return self._backward(self._direct_state(), dy, need_dx)

    # Built-in layers with Rust kernels implement these two on arrays (see ferronet.layers.state).
    def _forward(self, state, x, training):
        raise NotImplementedError

    def _backward(self, state, dy, need_dx):
        raise NotImplementedError

    def _new_state(self, keep=None):
        """A fresh :class:`~ferronet.layers.state.CallState` for one call of this layer."""
        from .state import CallState

        return CallState(self._np_dtype, self._trainable, keep)

    def _direct_state(self):
        state = self.__dict__.get("_direct")
        if state is None:
            state = self._direct = self._new_state()
        return state

    def _release_buffers(self) -> None:
        if self.__dict__.get("_direct") is not None:
            self._direct.clear()

    def _init_activation(self, activation) -> None:
        """Resolve ``activation`` (name, function or None) into ``self.activation`` and its core ops."""
        from .. import activations

        self.activation = activations.get(activation)
        self._act = activations._core_pair(self.activation)

    def _init_kernel_args(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                          bias_regularizer) -> None:
        """The arguments every layer with a kernel and an optional bias shares (Dense, convolutions)."""
        from .. import initializers, regularizers

        self._init_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = self.bias = None

    def _add_kernel(self, shape, units) -> None:
        """Create ``kernel`` of ``shape`` and, with ``use_bias``, ``bias`` of ``(units,)`` (call from ``build``)."""
        self.kernel = self.add_weight(tuple(shape), self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                        name="bias")

    def _kernel_args_config(self) -> dict:
        """``get_config`` entries of :meth:`_init_kernel_args`'s arguments."""
        from .. import initializers, regularizers

        def reg(r):
            return None if r is None else regularizers.serialize(r)

        return {"activation": self._activation_config(), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": reg(self.kernel_regularizer), "bias_regularizer": reg(self.bias_regularizer)}

    def _activation_config(self):
        from .. import activations

        return activations.serialize(self.activation)

    def _forward_activation(self, state, z):
        """Apply the layer's activation to ``z`` (skipped when the model trains on logits)."""
        act = self._act
        state.z = z
        if act is None or state.logits:
            state.y = z
            return z
        y = state.y = act.forward(z, state.buf("y", z.shape))
        return y

    def _backward_activation(self, state, dy):
        """Gradient through the activation applied by :meth:`_forward_activation`."""
        act = self._act
        if act is None or state.logits or state.act_grad_done:
            return dy
        return act.backward(dy, state.z, state.y, state.buf("dz", dy.shape))

    def _fusable_activation(self):
        """``"softmax"``/``"sigmoid"`` if the output activation can fuse with its cross-entropy."""
        act = self._act
        return act.name if act is not None and act.name in ("softmax", "sigmoid") and getattr(
            self, "_act_axis", -1) == -1 else None

    # -------------------------------------------------------------- state
    def _get_state(self) -> dict:
        """JSON-able non-weight state saved with the model (e.g. a dropout call counter)."""
        return {}

    def _set_state(self, state) -> None:
        pass

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The constructor arguments (Keras' ``get_config``)."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self._dtype_policy.name}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_direct"] = None
        return state


def _marks_built(build):
    """``build`` that leaves the layer built, as Keras' does: a layer built by hand (``layer.build(shape)``, then
    ``set_weights``) is not built again, with fresh weights, at its first call."""
    if getattr(build, "_marks_built", False):
        return build

    @functools.wraps(build)
    def wrapper(self, input_shape, *args, **kwargs):
        result = build(self, input_shape, *args, **kwargs)
        if not self.built and self.input_shape is None:
            shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else input_shape
            single = isinstance(shape, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in shape)
            self.input_shape = (None,) + tuple(shape[1:]) if single and shape else input_shape
        self.built = True
        return result

    wrapper._marks_built = True
    return wrapper


def _has_kernels(cls) -> bool:
    """Whether ``cls`` implements the array kernels ``_forward``/``_backward`` (built-in layers)."""
    return cls._backward is not Layer._backward
