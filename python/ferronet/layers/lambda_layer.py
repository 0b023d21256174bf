"""``Lambda``: a layer around a function of tensors (Keras' ``layers.Lambda``)."""

from __future__ import annotations

from .base import Layer

__all__ = ["Lambda"]


class Lambda(Layer):
    """Wraps ``function(inputs)`` written in tensor ops as a layer; the tape differentiates it.

    Args:
        function: callable taking the input tensor (or list of tensors) and returning a tensor.
        output_shape: accepted for Keras compatibility (shapes are inferred by running the function).
        arguments: optional dict of keyword arguments passed to ``function``.
        **kwargs: base layer arguments.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.Lambda(lambda x: x * 2.0)(np.ones((1, 2))).numpy()
        array([[2., 2.]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, _symbolic_op=None, **kwargs):
        if not callable(function):
            raise TypeError(f"Lambda needs a callable. Received: function={function!r}")
        if kwargs.get("name") is None and _symbolic_op is not None:
            kwargs["name"] = None
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape_arg = output_shape

    def build(self, input_shape):
        pass

    def call(self, inputs, training=None):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        raise NotImplementedError(
            f'Lambda layer "{self.name}" wraps a Python function, which cannot be saved as configuration: save '
            "the weights (save_weights) and rebuild the model in code, or write a Layer subclass. Received: "
            "get_config() of a Lambda layer")
