"""Layers for sequences and sets: ``Embedding``, ``TimeDistributed``, ``SpatialDropout1D``, ``SpatialDropout2D``."""

from __future__ import annotations

import numpy as np

from .. import initializers, regularizers
from ..errors import ShapeError
from ..tensor import array_ops as A
from ._conv_utils import data_format_arg
from .base import Layer, fmt_shape
from .dropout import Dropout

__all__ = ["Embedding", "TimeDistributed", "SpatialDropout1D", "SpatialDropout2D"]


class Embedding(Layer):
    """Integer ids ``(batch, ...)`` -> vectors ``(batch, ..., output_dim)`` looked up in a trained table.

    Args:
        input_dim: number of ids (ids run from 0 to ``input_dim - 1``).
        output_dim: length of each vector.
        embeddings_initializer: default ``"uniform"`` (Keras: uniform in [-0.05, 0.05]).
        mask_zero: whether id 0 is padding: the output then carries the mask ``ids != 0``, which
            recurrent layers and the loss honour (``input_dim`` must leave room for id 0).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> ids = np.array([[3, 1, 0, 0], [5, 5, 2, 0]])  # 0 is padding
        >>> embed = fn.layers.Embedding(10, 3, mask_zero=True)
        >>> vectors = embed(ids)
        >>> vectors.shape, embed.embeddings.shape
        ((2, 4, 3), (10, 3))
        >>> vectors._keras_mask.numpy()  # the recurrent layers and the loss skip the padding
        array([[ True,  True, False, False],
               [ True,  True,  True, False]])
        >>> model = fn.Sequential([fn.Input((4,)), fn.layers.Embedding(10, 3, mask_zero=True), fn.layers.LSTM(2)])
        >>> model.predict(ids, verbose=0).shape
        (2, 2)
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if self.input_dim < 1 or self.output_dim < 1:
            raise ValueError(f"input_dim and output_dim must be positive. Received: input_dim={input_dim}, "
                             f"output_dim={output_dim}")
        self.embeddings_initializer = initializers.get(
            initializers.RandomUniform(-0.05, 0.05) if embeddings_initializer == "uniform" else embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer, name="embeddings")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        from ..tensor.core import Tensor

        return Tensor(np.asarray(inputs.numpy()) != 0)

    def _tensor_call(self, x, training, **kwargs):
        ids = np.asarray(x.numpy())
        if ids.dtype.kind == "f":
            if np.any(ids != np.floor(ids)):
                raise ValueError(f'Layer "{self.name}" (Embedding) takes integer ids. Received: fractional values')
            ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(f'Layer "{self.name}" (Embedding) has ids 0..{self.input_dim - 1}. Received: ids from '
                             f"{ids.min()} to {ids.max()}")
        return A.gather(self.embeddings, ids)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": None if self.embeddings_regularizer is None else regularizers.serialize(
                    self.embeddings_regularizer), "mask_zero": self.mask_zero}


class TimeDistributed(Layer):
    """Applies ``layer`` to every step of ``(batch, steps, ...)``: the steps are folded into the batch axis.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> td = fn.layers.TimeDistributed(fn.layers.Dense(2))  # one Dense, shared by the 5 steps
        >>> td(np.ones((4, 5, 3), np.float32)).shape, td.layer.kernel.shape
        ((4, 5, 2), (3, 2))
        >>> fn.layers.TimeDistributed(fn.layers.Conv2D(4, 3))(np.ones((2, 5, 8, 8, 1), np.float32)).shape  # video frames
        (2, 5, 6, 6, 4)
    """

    supports_masking = True

    _min_ndim = 3

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed wraps a layer. Received: {type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        self.layer._build_with((None,) + tuple(input_shape[2:]))  # its weights exist once this layer is built

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def _tensor_call(self, x, training, **kwargs):
        n, t = x.shape[0], x.shape[1]
        y = self.layer(A.reshape(x, (n * t,) + tuple(x.shape[2:])), training=training)
        return A.reshape(y, (n, t) + tuple(y.shape[1:]))

    def get_config(self):
        from . import serialize

        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config):
        from . import deserialize

        config = dict(config)
        return cls(deserialize(config.pop("layer")), **config)


class SpatialDropout1D(Dropout):
    """Dropout of whole channels of ``(batch, steps, channels)``: one decision per sample and channel.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> drop = fn.layers.SpatialDropout1D(0.5, seed=0)
        >>> print(drop(np.ones((1, 3, 4), np.float32), training=True))  # a dropped channel is zero at every step
        [[[2. 0. 2. 0.]
          [2. 0. 2. 0.]
          [2. 0. 2. 0.]]]
    """

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f'Layer "{self.name}" (SpatialDropout1D) takes (batch, steps, channels). Received: '
                             f"input shape {fmt_shape(input_shape)}")

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape", None)
        return config


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps of ``(batch, h, w, channels)``: one decision per sample and channel.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> drop = fn.layers.SpatialDropout2D(0.5, seed=0)
        >>> y = drop(np.ones((1, 2, 2, 4), np.float32), training=True).numpy()
        >>> print(y[0, 0, 0], bool((y == y[:, :1, :1]).all()))  # whole feature maps kept or dropped
        [2. 0. 2. 0.] True
    """

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, 1, None), seed=seed, **kwargs)
        self.data_format = data_format_arg(data_format)

    def _check_input_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ShapeError(f'Layer "{self.name}" (SpatialDropout2D) takes (batch, h, w, channels). Received: '
                             f"input shape {fmt_shape(input_shape)}")

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape", None)
        return {**config, "data_format": self.data_format}
