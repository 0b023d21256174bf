"""``Input`` / ``InputLayer``: declare a model's input shape up front."""

from __future__ import annotations

import numpy as np

from .base import Layer, _as_shape

__all__ = ["InputLayer", "Input"]


def _is_integer_dtype(dtype) -> bool:
    try:
        return dtype is not None and not isinstance(dtype, bool) and np.dtype(dtype).kind in "iub"
    except TypeError:
        return False  # a policy name ("mixed_bfloat16") or a DTypePolicy


class InputLayer(Layer):
    """The input of a Sequential model; fixes its shape so the model builds at once.

    Args:
        shape: input shape without the batch axis, e.g. ``(28, 28)``.
        batch_size: optional fixed batch size (informational).
        dtype: ``"float32"`` (default) or ``"float64"``. An integer dtype (token ids for an ``Embedding``) is
            accepted: the ids travel as floats, exact below 2**24, and the ``Embedding`` casts them back.
        name: optional name.

    Example:
        >>> import ferronet as fn
        >>> model = fn.Sequential([fn.layers.InputLayer(shape=(28, 28)), fn.layers.Flatten(), fn.layers.Dense(10)])
        >>> model.built, model.output_shape  # built at once: summary() and count_params() work before fit
        (True, (None, 10))
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        batch_shape = kwargs.pop("batch_shape", None) or kwargs.pop("batch_input_shape", None)
        if shape is None:
            shape = input_shape
        if batch_shape is not None:
            batch_shape = _as_shape(batch_shape, "batch_shape")
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ValueError("InputLayer needs a shape, e.g. InputLayer(shape=(784,)). Received: shape=None")
        # Integer inputs (token ids for an Embedding, Keras' idiom) travel as
        # floats, exact up to 2**24, and Embedding casts them back; the dtype
        # asked for is kept for the config and Keras files.
        self._integer_dtype = np.dtype(dtype).name if _is_integer_dtype(dtype) else None
        if self._integer_dtype is not None:
            dtype = None
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._dtype_given = dtype is not None or self._integer_dtype is not None
        self.shape = _as_shape(shape, "shape")
        self.batch_size = batch_size
        self._batch_input_shape = (batch_size,) + self.shape
        self.built = True
        self.input_shape = self.output_shape = (None,) + self.shape
        from ..models.functional import KerasTensor, Node

        tensor = KerasTensor((batch_size,) + self.shape, self.dtype, self.name, (self, 0, 0))
        self._inbound_nodes = [Node(self, [], [tensor], {})]

    def _forward(self, state, inputs, training):
        return inputs

    def _tensor_call(self, x, training, **kwargs):
        return x

    def _backward(self, state, dy, need_dx):
        return dy if need_dx else None

    def get_config(self):
        return {"name": self.name, "dtype": self._integer_dtype or self.dtype,
                "batch_shape": list(self._batch_input_shape)}


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):
    """A symbolic input: the start of a functional model, or the first entry of a Sequential one.

    ``x = Input((784,)); y = Dense(10)(x); Model(x, y)`` and ``Sequential([Input((784,)), Dense(10)])``.

    Args:
        shape: input shape without the batch axis.
        batch_size: optional fixed batch size.
        dtype: ``"float32"`` (default) or ``"float64"``; or an integer dtype for token ids, which travel as
            floats (see :class:`InputLayer`).
        name: optional name.

    Returns:
        A :class:`~ferronet.models.functional.KerasTensor` (its ``_keras_history`` holds the InputLayer).

    Example:
        >>> import ferronet as fn
        >>> inputs = fn.layers.Input((4,))
        >>> inputs.shape
        (None, 4)
        >>> outputs = fn.layers.Dense(2, activation="softmax")(fn.layers.Dense(8, activation="relu")(inputs))
        >>> fn.Model(inputs, outputs).output_shape
        (None, 2)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs).output
