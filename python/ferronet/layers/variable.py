"""``Variable``: a mutable tensor: a layer weight, its gradient buffer and its metadata."""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from ..errors import ShapeError
from ..tensor.core import Tensor, _as_array, unwrap

__all__ = ["Variable"]

# Bytes the weights created in this context may take in all (None: no limit); see `weight_budget`.
_BUDGET: contextvars.ContextVar = contextvars.ContextVar("ferronet_weight_budget", default=None)


@contextlib.contextmanager
def weight_budget(nbytes: int, label: str):
    """Limit the weights layers may create inside the block to ``nbytes`` in all.

    Loading a model builds its layers from the file's config before reading
    the weights: this keeps a small hostile file from declaring layers that
    would allocate gigabytes. ``reserve`` raises a ``ValueError`` naming
    ``label`` once the weights exceed the budget.
    """
    token = _BUDGET.set([int(nbytes), label])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def reserve(shape, dtype, path: str) -> None:
    """Charge a new weight of ``shape``/``dtype`` to the active budget (if any), before allocating it."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget[0] -= math.prod(shape) * np.dtype(dtype).itemsize
    if budget[0] < 0:
        raise ValueError(
            f"The model file declares weights larger than the data it holds (weight '{path}' of shape "
            f"{tuple(shape)} does not fit): it is damaged or forged. Received: {budget[1]}"
        )


class Variable(Tensor):
    """A mutable tensor (Keras' ``keras.Variable``, TensorFlow's ``tf.Variable``).

    Usable in tensor expressions; a :class:`~ferronet.GradientTape` watches
    trainable variables it sees read. The array keeps its identity for the
    life of the variable: optimizers update it in place and :meth:`assign`
    copies into it. Trainable variables own a gradient buffer ``grad`` of the
    same shape that ``fit``'s backward pass overwrites each step.

    Args:
        initial_value: array-like, or an initializer (name, object or callable ``(shape, dtype)``) with ``shape``.
        trainable: False for statistics updated outside the optimizer.
        name: short name (``"kernel"``).
        dtype: default: the value's (Python floats become float32).
        shape: with an initializer, the shape to create.
        regularizer: optional ``ferronet.regularizers.Regularizer`` (set by ``Layer.add_weight``).
        path: ``"<layer name>/<name>"`` (default: the name).

    Example:
        >>> import ferronet as fn
        >>> v = fn.Variable([1.0, 2.0])
        >>> v.assign_add([1.0, 1.0]).numpy()
        array([2., 3.], dtype=float32)
    """

    __slots__ = ("name", "path", "trainable", "regularizer", "_grad")

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None, regularizer=None,
                 path=None, initializer=None):
        if initial_value is None:
            initial_value = initializer
        if initial_value is None:
            raise ValueError("Variable needs an initial_value (an array or an initializer with shape). "
                             "Received: initial_value=None")
        if callable(initial_value) or isinstance(initial_value, str):
            if shape is None:
                raise ValueError(f"A Variable created from an initializer needs a shape. Received: "
                                 f"initial_value={initial_value!r}, shape=None")
            from .. import initializers

            init = initializers.get(initial_value)
            value = np.asarray(init(tuple(shape), np.dtype(dtype or "float32")))
        else:
            # the value converted to ``dtype`` directly: Variable(0.1, dtype=float64) is the float64 nearest 0.1
            value = _as_array(unwrap(initial_value), dtype)
        if dtype is not None:
            value = value.astype(np.dtype(getattr(dtype, "as_numpy_dtype", dtype)), copy=False)
        self._v = np.array(value, copy=True, order="C")
        self.name = name or "variable"
        self.path = path or self.name
        self.trainable = bool(trainable)
        self.regularizer = regularizer
        self._grad = None

    @property
    def value(self) -> np.ndarray:
        """The weight array itself (updated in place; never rebound)."""
        return self._v

    @value.setter
    def value(self, new):
        self.assign(new)

    @property
    def grad(self) -> np.ndarray:
        """The gradient buffer (allocated, zeroed, on first use)."""
        g = self._grad
        if g is None:
            g = self._grad = np.zeros_like(self._v)
        return g

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return self._v.copy()

    def read_value(self) -> Tensor:
        """The current value as a new (constant) tensor."""
        return Tensor(self._v.copy())

    def _checked(self, value):
        value = np.asarray(unwrap(value))
        if value.shape != self._v.shape:
            raise ShapeError(
                f"Cannot assign to variable '{self.path}' of shape {self._v.shape}. Received: shape {value.shape}"
            )
        return value

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Copy ``value`` into the variable (same shape; cast to its dtype). Returns the variable.

        Raises:
            ShapeError: if the shapes differ.
        """
        np.copyto(self._v, self._checked(value), casting="unsafe")
        return self

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """``self += delta`` in place. Returns the variable."""
        np.add(self._v, self._checked(delta), out=self._v, casting="unsafe")
        return self

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """``self -= delta`` in place. Returns the variable."""
        np.subtract(self._v, self._checked(delta), out=self._v, casting="unsafe")
        return self

    def __reduce__(self):
        return (_rebuild, (self._v, self.trainable, self.name, self.path, self.regularizer))

    def __deepcopy__(self, memo):
        return _rebuild(self._v, self.trainable, self.name, self.path, self.regularizer)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self._v.shape}, dtype={self._v.dtype.name}, "
                f"numpy={np.array2string(self._v, separator=', ', threshold=20)}>")

    __hash__ = object.__hash__  # variables are dict keys (optimizer state), compared by identity


def _rebuild(value, trainable, name, path, regularizer):
    return Variable(value, trainable=trainable, name=name, path=path, regularizer=regularizer)
