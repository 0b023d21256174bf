"""``Tensor`` and the machinery every differentiable primitive goes through.

A :class:`Tensor` is a thin wrapper over a NumPy array (zero-copy both ways).
A *primitive* is a NumPy/Rust forward function paired with its vector-Jacobian
product (VJP), written beside it. When no :class:`~ferronet.GradientTape` is
recording, calling a primitive costs its forward and one small object; when
one is, the call is appended to each recording tape that watches one of its
inputs. The VJPs are written with differentiable primitives themselves, so
while the gradient is computed an outer tape records it and can differentiate
it again (second, third, ... derivatives).

Some primitives (dense layers, convolutions, pooling, fused cross-entropy)
have two VJPs: a fast one calling the Rust backward kernels on arrays, used
when nothing records the gradient computation, and a differentiable twin used
when something does (a higher derivative is being taken). Tests check that
the two agree.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError

__all__ = ["Tensor", "primitive", "as_tensor", "constant", "recording", "unwrap"]

# Tapes currently inside their ``with`` block, innermost last (see tape.py).
_STACK: list = []


def recording() -> bool:
    """Whether any tape is recording now (a VJP computed now may be differentiated again).

    Example:
        >>> import ferronet as fn
        >>> fn.tensor.recording()
        False
        >>> with fn.GradientTape():
        ...     print(fn.tensor.recording())
        True
    """
    for tape in _STACK:
        if tape._recording:
            return True
    return False


def _as_array(value, dtype=None):
    """``value`` as an array: TensorFlow's defaults, or ``dtype`` applied to the value itself.

    A Python ``0.1`` asked for as float64 is the float64 nearest 0.1, not a widened float32.
    """
    value = value._v if isinstance(value, Tensor) else value
    if dtype is None:
        return _default_dtype(value)
    dt = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    if isinstance(value, np.ndarray):
        return value.astype(dt, copy=False)
    return np.asarray(value, dtype=dt) if dt.kind in "fc" or np.asarray(value).dtype.kind in "iub" else \
        np.asarray(value).astype(dt)


def _default_dtype(value):
    """TensorFlow's defaults for Python values: float32 for floats, int32 for ints."""
    a = np.asarray(value)
    if a.dtype == np.float64 and not isinstance(value, np.ndarray) and not isinstance(value, np.generic):
        return a.astype(np.float32)
    if a.dtype == np.int64 and not isinstance(value, np.ndarray) and not isinstance(value, np.generic):
        return a.astype(np.int32)
    return a


def unwrap(x):
    """The array behind a Tensor (or ``x`` itself).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.core import unwrap
        >>> a = unwrap(fn.constant([1.0, 2.0]))
        >>> type(a).__name__, a
        ('ndarray', array([1., 2.], dtype=float32))
        >>> unwrap(3.0)
        3.0
    """
    return x._v if isinstance(x, Tensor) else x


class Tensor:
    """An immutable n-dimensional array, usable wherever a NumPy array is.

    Built by ops (``ferronet.constant``, ``layer(x)``, ``model(x)``, tensor
    arithmetic) or from data: ``ferronet.Tensor(np.ones(3))``. The array is
    shared, never copied: ``np.asarray(t)`` and ``t.numpy()`` return it.

    Arithmetic, comparison, ``@`` and indexing follow NumPy's broadcasting
    and dtype rules; under a :class:`~ferronet.GradientTape` the
    differentiable ones are recorded.

    Example:
        >>> import ferronet as fn
        >>> t = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> (t @ t + 1.0).numpy()
        array([[ 8., 11.],
               [16., 23.]], dtype=float32)
    """

    __slots__ = ("_v", "_keras_mask", "__weakref__")
    __array_priority__ = 100.0

    def __init__(self, value, dtype=None):
        self._v = _as_array(value, dtype)

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The array (shared with the tensor; tensors are never modified in place)."""
        return self._v

    def __array__(self, dtype=None, copy=None):
        v = self._v
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    @property
    def shape(self):
        return self._v.shape

    @property
    def dtype(self):
        return self._v.dtype

    @property
    def ndim(self):
        return self._v.ndim

    @property
    def size(self):
        return self._v.size

    def __len__(self):
        if self._v.ndim == 0:
            raise TypeError("len() of a 0-d tensor. Received: a scalar tensor")
        return self._v.shape[0]

    def __iter__(self):
        if self._v.ndim == 0:
            raise TypeError("Cannot iterate over a 0-d tensor. Received: a scalar tensor")
        for i in range(self._v.shape[0]):
            yield self[i]

    def __bool__(self):
        return bool(self._v)

    def __float__(self):
        return float(self._v)

    def __int__(self):
        return int(self._v)

    def __index__(self):
        return self._v.__index__()

    def __complex__(self):
        return complex(self._v)

    def __format__(self, spec):
        return format(self._v.item() if self._v.ndim == 0 else self._v, spec) if spec else repr(self)

    def __repr__(self):
        body = np.array2string(self._v, separator=", ", prefix="       ")
        return f"<{type(self).__name__}: shape={self._v.shape}, dtype={self._v.dtype.name}, numpy={body}>"

    def __str__(self):
        return str(self._v)

    __hash__ = None  # ``==`` is element-wise, as in NumPy and TensorFlow

    def __reduce__(self):
        return (Tensor, (self._v,))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return Tensor(self._v.copy())

    # ---------------------------------------------------------- NumPy protocol
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import dispatch

        return dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from . import dispatch

        return dispatch.array_function(func, args, kwargs)


_ndarray = np.ndarray
_new = object.__new__


def _wrap(value) -> Tensor:
    """A Tensor over ``value`` (an ndarray; NumPy scalars become 0-d arrays)."""
    t = _new(Tensor)
    t._v = value if type(value) is _ndarray else np.asarray(value)
    return t


def _array_out_supported() -> bool:
    """Whether ufuncs take ``out=...`` to return 0-d arrays instead of scalars (NumPy >= 2.3)."""
    try:
        return type(np.add(np.zeros(()), 0.0, out=...)) is np.ndarray
    except TypeError:
        return False


ARRAY_OUT = _array_out_supported()


def as_tensor(x, dtype=None) -> Tensor:
    """``x`` as a Tensor (Tensors and Variables are returned as they are when the dtype matches).

    Example:
        >>> import ferronet as fn
        >>> t = fn.tensor.as_tensor(np.array([1.0, 2.0]))
        >>> type(t).__name__, t.numpy()
        ('Tensor', array([1., 2.]))
        >>> fn.tensor.as_tensor(t) is t
        True
    """
    if isinstance(x, Tensor):
        if dtype is None or x._v.dtype == np.dtype(dtype):
            return x
        from . import math_ops

        return math_ops.cast(x, dtype)
    return Tensor(x, dtype)


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """A tensor from a Python or NumPy value (TensorFlow's ``tf.constant``).

    Python floats become float32 and ints int32, as in TensorFlow; NumPy
    arrays keep their dtype. ``shape`` reshapes, or broadcasts a scalar.

    Raises:
        ShapeError: if ``value`` cannot take ``shape``.

    Example:
        >>> import ferronet as fn
        >>> t = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> t.shape, t.dtype
        ((2, 2), dtype('float32'))
        >>> fn.constant(0.5, shape=(2,)).numpy()
        array([0.5, 0.5], dtype=float32)
    """
    a = _as_array(value, dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if a.size == 1:
            a = np.full(shape, a.reshape(()), dtype=a.dtype)
        elif a.size == int(np.prod(shape)):
            a = a.reshape(shape)
        else:
            raise ShapeError(f"constant: {a.size} values cannot take shape {shape}. Received: shape={shape}")
    return _wrap(np.array(a, copy=True) if a is unwrap(value) else a)


# ------------------------------------------------------------------ primitives
class Primitive:
    """A forward function and its VJP rule(s).

    Args:
        name: op name (for error messages and tests).
        forward: ``forward(*arrays, **params) -> array``; positional arguments
            are the differentiable inputs (arrays or constants), keywords are
            static parameters.
        vjp: ``vjp(g, out, *inputs, **params) -> tuple`` of gradients (Tensors
            or None) for each positional input, written in differentiable ops.
        fast_vjp: optional; same contract on arrays, used when nothing records
            the gradient computation.
    """

    __slots__ = ("name", "forward", "vjp", "fast_vjp")

    def __init__(self, name, forward, vjp, fast_vjp=None):
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.fast_vjp = fast_vjp

    def __call__(self, *args, **params):
        try:
            vals = [a._v for a in args]  # the common case: every input is a Tensor
        except AttributeError:
            if any(getattr(a, "_is_symbolic", False) for a in args):  # a functional model's KerasTensor
                from .symbolic import defer

                return defer(self, self.name, args, params)
            vals = _values(args)
        v = self.forward(*vals, **params)
        out = _new(Tensor)
        out._v = v if type(v) is _ndarray else np.asarray(v)
        if _STACK:
            _record(self, out, args, params)
        return out


_PY = (float, int, bool, complex)


def _values(args):
    """The arrays behind ``args``, with TensorFlow's dtypes for Python values.

    Lists become int32/float32 arrays; Python scalars stay weakly typed beside a
    tensor (``t * 2.0`` keeps ``t``'s dtype) and take the defaults when every
    input is a Python value (``tf.exp(1.0)`` is float32, ``tf.square(3)`` int32).
    """
    vals = []
    only_python = True
    for a in args:
        if isinstance(a, Tensor):
            vals.append(a._v)
            only_python = False
        elif isinstance(a, (list, tuple)):
            vals.append(_default_dtype(a))
        else:
            vals.append(a)
            if a is not None and not isinstance(a, _PY):
                only_python = False
    if only_python:
        vals = [_default_dtype(v) if isinstance(v, _PY) else v for v in vals]
    return vals


def primitive(name, forward, vjp, fast_vjp=None, doc=None):
    """Declare a differentiable op (see :class:`Primitive`).

    A NumPy ufunc of one or two inputs comes back as a plain function with a
    lean path for tensors outside a tape (one ufunc call, one object); the
    primitive itself is its ``primitive`` attribute. A public op passes its
    docstring as ``doc``: it then always comes back as a function (a thin
    wrapper when there is no lean path) carrying that docstring, named after
    the module that declares it, so the API reference and doctest see it as a
    documented function of that module.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.core import primitive
        >>> cube = primitive("cube", lambda a: a ** 3, lambda g, y, a: (g * 3.0 * a * a,),
        ...                  doc="``x ** 3``.")
        >>> x = fn.constant([1.0, 2.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = cube(x)
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([1., 8.], dtype=float32), array([ 3., 12.], dtype=float32))
        >>> cube.__doc__
        '``x ** 3``.'
    """
    prim = Primitive(name, forward, vjp, fast_vjp)
    lean = ARRAY_OUT and isinstance(forward, np.ufunc) and forward.nin in (1, 2) and fast_vjp is None
    if not lean:
        if doc is None:
            return prim

        def op(*args, **params):
            return prim(*args, **params)

        op.__signature__ = _signature_of(forward)
    elif forward.nin == 1:
        def op(x):
            if not _STACK and type(x) is Tensor:
                t = _new(Tensor)
                t._v = forward(x._v, out=...)
                return t
            return prim(x)
    else:
        def op(x, y):
            if not _STACK and type(x) is Tensor and type(y) is Tensor:
                t = _new(Tensor)
                t._v = forward(x._v, y._v, out=...)
                return t
            return prim(x, y)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"NumPy's ``{forward.__name__}`` on tensors, differentiable under a GradientTape."
    op.__module__ = _caller_module()
    op.primitive = prim
    return op


def nondiff(forward, doc=None, name=None):
    """An op with no gradient (argmax, comparisons, casts to integers): a Tensor out, nothing recorded.

    ``doc`` is the op's docstring, as for :func:`primitive`; ``name`` its name
    (by default ``forward``'s).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.core import nondiff
        >>> is_even = nondiff(lambda a: a % 2 == 0, doc="Whether each element is even.")
        >>> is_even(fn.constant([1, 2, 4])).numpy()
        array([False,  True,  True])
    """

    def op(*args, **params):
        return _wrap(forward(*_values(args), **params))

    op.__name__ = op.__qualname__ = name or getattr(forward, "__name__", "op")
    op.__signature__ = _signature_of(forward)
    if doc is not None:
        op.__doc__ = doc
        op.__module__ = _caller_module()
    return op


def _signature_of(forward):
    """The signature an op shows: its forward's, or ``(x)`` / ``(x, y)`` for a NumPy ufunc."""
    import inspect

    if isinstance(forward, np.ufunc):
        names = ("x", "y")[:forward.nin] if forward.nin <= 2 else [f"x{i}" for i in range(forward.nin)]
        return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    try:
        return inspect.signature(forward)
    except (TypeError, ValueError):
        return None


def _caller_module():
    """The module that declared an op (two frames up), so doctest and autodoc file the op under it."""
    import sys

    return sys._getframe(2).f_globals.get("__name__", __name__)


def _record(prim, out, args, params):
    """Append the call to every recording tape that watches one of its inputs."""
    for tape in _STACK:
        if not tape._recording:
            continue
        tracked = tape._tracked
        hit = False
        for a in args:
            if isinstance(a, Tensor):
                if id(a) in tracked:
                    hit = True
                elif tape._watch_accessed and getattr(a, "trainable", False) and a._v.dtype.kind == "f":
                    tape._watch_one(a)
                    hit = True
        if hit and out._v.dtype.kind in "fc":
            tracked[id(out)] = out
            tape._nodes.append((prim, out, args, params))
