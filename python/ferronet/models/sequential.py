"""``Sequential``: a plain stack of layers, Keras' most used model."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..layers import InputLayer, Layer
from .training import one_at_a_time
from ..layers.base import _as_shape, fmt_shape
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers.

    The model builds as soon as its input shape is known: from an ``Input``
    (or ``input_shape=`` on the first layer), from ``build(input_shape)``, or
    lazily on the first call/fit. Shape errors then name the layer and the
    expected and received shapes.

    Args:
        layers: optional list of layers (an ``Input(shape)`` may come first).
        trainable: whether ``fit`` updates the weights.
        name: model name (default ``sequential``, ``sequential_1``, ...).

    Example:
        >>> import ferronet as fn
        >>> model = fn.Sequential([fn.Input((784,)), fn.layers.Dense(10, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._layers = []
        self._input_layer = None
        self._input_shape = None
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    # ----------------------------------------------------------------- layers
    @property
    def layers(self) -> list:
        """The layers in order (the input layer excluded, as in Keras)."""
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer (built at once when the input shape is known).

        Raises:
            TypeError: if ``layer`` is not a layer.
            ValueError: for a duplicate layer name or a shape the layer cannot take.
        """
        from .functional import KerasTensor

        if isinstance(layer, KerasTensor) and isinstance(getattr(layer, "_keras_history", None), tuple) and \
                isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(
                    f"An Input can only be the first element of a Sequential model. Received: {layer.name!r} after "
                    f"{len(self._layers)} layers"
                )
            self._input_layer = layer
            self._np_dtype, self.dtype = layer._np_dtype, layer.dtype
            self.build((None,) + layer.shape)
            return
        if not isinstance(layer, Layer):
            hint = " (pass an instance: Dense(10), not Dense)" if isinstance(layer, type) else ""
            raise TypeError(f"Only layers can be added to a Sequential model{hint}. Received: {layer!r}")
        if any(other.name == layer.name for other in self._layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. "
                f"Received: name {layer.name!r}, which is already the name of a layer in this model"
            )
        first = not self._layers
        prev_dtype = self._layers[-1].dtype if self._layers else (
            self._input_layer.dtype if self._input_layer is not None and self._input_layer._dtype_given else None)
        if prev_dtype is not None and prev_dtype != layer.dtype and not isinstance(layer, Sequential):
            raise ValueError(
                f'Layer "{layer.name}" computes in {layer.dtype} but its input is {prev_dtype}: give every layer of '
                f"a model the same dtype (e.g. dtype='float64' on each, and on the Input). "
                f"Received: dtype={layer.dtype!r} after {prev_dtype!r}"
            )
        self._layers.append(layer)
        self._train_cache = None
        if first:
            self._np_dtype, self.dtype = layer._np_dtype, layer.dtype
        try:
            if first and self._input_shape is None and layer._batch_input_shape is not None:
                self.build(layer._batch_input_shape)
            elif self._input_shape is not None:
                prev = self._layers[-2].output_shape if len(self._layers) > 1 else self._input_shape
                self.output_shape = layer._build_with(prev)
        except Exception:
            self._layers.pop()
            raise

    def pop(self):
        """Remove and return the last layer."""
        if not self._layers:
            raise IndexError("pop from an empty Sequential model. Received: a model without layers")
        self._train_cache = None
        layer = self._layers.pop()
        if self.built:
            self.output_shape = self._layers[-1].output_shape if self._layers else self._input_shape
        return layer

    # ----------------------------------------------------------------- build
    def build(self, input_shape=None):
        """Build every layer for ``input_shape`` (batch dimension first, may be None)."""
        if input_shape is None:
            if self._input_shape is None:
                raise ValueError("build() needs an input shape, e.g. model.build((None, 784)). Received: None")
            input_shape = self._input_shape
        shape = (None,) + _as_shape(input_shape, "input_shape")[1:]
        if self._input_shape is not None and shape != self._input_shape and all(
                layer.built for layer in self._layers):
            raise ShapeError(
                f'Sequential model "{self.name}" was built for inputs of shape {fmt_shape(self._input_shape)}. '
                f"Received: input shape {fmt_shape(shape)}"
            )
        for layer in self._layers:
            shape = layer._build_with(shape)
        self._input_shape = (None,) + _as_shape(input_shape, "input_shape")[1:]
        self.input_shape = self._input_shape
        self.output_shape = shape
        self.built = True
        self._train_cache = None

    def _build_with(self, input_shape):
        if not self.built:
            self.build(input_shape)
        else:
            self._check_call_shape(tuple(input_shape))
        return self.output_shape

    def _check_call_shape(self, shape):
        want = self._input_shape
        if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape[1:], want[1:])):
            raise ShapeError(
                f'Sequential model "{self.name}" expects inputs of shape {fmt_shape(want)}. '
                f"Received: input shape {fmt_shape(shape)}"
            )

    def compute_output_shape(self, input_shape):
        for layer in self._layers:
            input_shape = layer.compute_output_shape(input_shape)
        return tuple(input_shape)

    def _model_input_shape(self):
        return self._input_shape

    def _model_output_shape(self):
        return self._layers[-1].output_shape if self._layers else self._input_shape

    # ------------------------------------------------------------------ math
    @one_at_a_time
    def __call__(self, inputs, training=None, **kwargs):
        """Outputs for ``inputs`` (inference mode unless ``training=True``): a new :class:`~ferronet.Tensor`.

        Cheap enough for a loop over single samples: one shape check, the
        layers' kernels, one copy of the output. Under a ``GradientTape`` (or on
        symbolic inputs) each layer is called as a layer, so the call is recorded.
        """
        from ..tensor.core import _STACK, Tensor, _wrap
        from .functional import is_symbolic

        plan = None if _STACK or is_symbolic(inputs) or kwargs else self._plan()
        if plan is None or isinstance(inputs, (list, tuple, dict)):
            return Model.__call__(self, inputs, training=training, **kwargs)
        x = inputs if type(inputs) is np.ndarray else np.asarray(inputs.numpy() if isinstance(inputs, Tensor)
                                                                      else inputs)
        if x.dtype != self._np_dtype or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x, dtype=self._np_dtype)
        if not self.built or x.shape[1:] != self._input_shape[1:]:
            if x.ndim == 0:
                raise ShapeError(f'Sequential model "{self.name}" needs inputs with a batch axis. Received: a scalar')
            self._build_with(x.shape)
            plan = self._plan()
        out = np.array(self._plan_predict(plan, [x], bool(training))[0], copy=True)
        n = x.shape[0]
        if n > max(plan.keep[0] or 0, 256):
            # A one-off big call: do not keep its buffers alive (small calls in a loop keep theirs).
            plan.drop_batch(n)
        return _wrap(out)

    def _tensor_call(self, x, training, **kwargs):
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def call(self, inputs, training=None, mask=None):
        """The layers applied in order (Keras' ``Sequential.call``): a tensor in, a tensor out."""
        return self._tensor_call(inputs, bool(training))

    def _fusable_activation(self):
        return None

    # --------------------------------------------------------------- weights
    @property
    def weights(self) -> list:
        return [v for layer in self._layers for v in layer.weights]

    variables = weights

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return [v for layer in self._layers for v in layer.trainable_weights]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        return [v for layer in self._layers for v in layer.non_trainable_weights]

    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        return int(sum(layer.count_params() for layer in self._layers))

    def get_layer(self, name=None, index=None):
        """A layer by name or by index."""
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer; the layers are {[layer.name for layer in self._layers]}. Received: name={name!r}")

    # ---------------------------------------------------------------- config
    def get_config(self):
        from .. import layers as layers_module

        entries = []
        if self._input_layer is not None:
            entries.append(layers_module.serialize(self._input_layer))
        entries += [layers_module.serialize(layer) for layer in self._layers]
        return {
            "name": self.name,
            "trainable": self._trainable,
            "dtype": self.dtype,
            "layers": entries,
            "build_input_shape": None if self._input_shape is None else list(self._input_shape),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .. import layers as layers_module

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            model.add(layers_module.deserialize(entry, custom_objects=custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def __repr__(self):
        return f"<Sequential name={self.name}, layers={len(self._layers)}, built={self.built}>"
