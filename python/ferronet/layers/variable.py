"""``Variable``: one weight array of a layer, its gradient buffer and its metadata."""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from ..errors import ShapeError

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


class Variable:
    """A layer weight (Keras' ``keras.Variable`` for NumPy).

    The array ``value`` keeps its identity for the life of the layer: the
    optimizer updates it in place, ``assign`` copies into it. Trainable
    variables own a gradient buffer ``grad`` of the same shape that the
    layer's backward pass overwrites each step.

    Attributes:
        value: the weight array.
        name: short name (``"kernel"``).
        path: ``"<layer name>/<name>"``, unique inside a model.
        trainable: False for statistics such as BatchNormalization's moving mean.
        regularizer: optional ``ferronet.regularizers.Regularizer``.
    """

    __slots__ = ("value", "name", "path", "trainable", "regularizer", "_grad", "__weakref__")

    def __init__(self, value, name, path, trainable=True, regularizer=None):
        self.value = np.ascontiguousarray(value)
        self.name = name
        self.path = path
        self.trainable = bool(trainable)
        self.regularizer = regularizer
        self._grad = None

    @property
    def grad(self) -> np.ndarray:
        """The gradient buffer (allocated, zeroed, on first use)."""
        g = self._grad
        if g is None:
            g = self._grad = np.zeros_like(self.value)
        return g

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def size(self):
        return self.value.size

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return self.value.copy()

    def assign(self, value) -> None:
        """Copy ``value`` into the weight (same shape; cast to the weight's dtype).

        Raises:
            ShapeError: if the shapes differ.
        """
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ShapeError(
                f"Cannot assign to variable '{self.path}' of shape {self.value.shape}. Received: shape {value.shape}"
            )
        np.copyto(self.value, value, casting="unsafe")

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.value.shape}, dtype={self.value.dtype}>"
