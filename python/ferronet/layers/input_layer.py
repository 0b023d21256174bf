"""``Input`` / ``InputLayer``: declare a model's input shape up front."""

from __future__ import annotations

from .base import Layer, _as_shape

__all__ = ["InputLayer", "Input"]


class InputLayer(Layer):
    """The input of a Sequential model; fixes its shape so the model builds at once.

    Args:
        shape: input shape without the batch axis, e.g. ``(28, 28)``.
        batch_size: optional fixed batch size (informational).
        dtype: ``"float32"`` (default) or ``"float64"``.
        name: optional name.
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
        super().__init__(name=name, dtype=dtype, **kwargs)
        self._dtype_given = dtype is not None
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
        return {"name": self.name, "dtype": self.dtype, "batch_shape": list(self._batch_input_shape)}


def Input(shape=None, batch_size=None, dtype=None, name=None, **kwargs):
    """A symbolic input: the start of a functional model, or the first entry of a Sequential one.

    ``x = Input((784,)); y = Dense(10)(x); Model(x, y)`` and ``Sequential([Input((784,)), Dense(10)])``.

    Args:
        shape: input shape without the batch axis.
        batch_size: optional fixed batch size.
        dtype: ``"float32"`` (default) or ``"float64"``.
        name: optional name.

    Returns:
        A :class:`~ferronet.models.functional.KerasTensor` (its ``_keras_history`` holds the InputLayer).

    Example:
        >>> import ferronet as fn
        >>> inputs = fn.keras.Input((4,), name="features")
        >>> inputs.shape, inputs.dtype
        ((None, 4), 'float32')
        >>> outputs = fn.layers.Dense(2)(inputs)
        >>> model = fn.keras.Model(inputs, outputs)
        >>> model.predict(np.ones((3, 4), dtype="float32"), verbose=0).shape
        (3, 2)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, **kwargs).output
