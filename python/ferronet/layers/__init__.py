"""Layers with Keras' names, arguments, defaults and weight layouts.

``Dense``, ``Conv2D``, ``MaxPooling2D``, ``AveragePooling2D``,
``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``, ``Flatten``, ``Reshape``,
``Dropout``, ``Activation``, ``LeakyReLU``, ``Softmax``, ``BatchNormalization``,
``Input``/``InputLayer``. Write your own by subclassing :class:`Layer` and
implementing ``build``, ``call`` and ``backward``.
"""

from .activation import Activation, LeakyReLU, Softmax
from .base import Layer
from .conv2d import Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input_layer import Input, InputLayer
from .advanced_activations import ELU, PReLU, ReLU
from .conv2d_transpose import Conv2DTranspose
from .conv1d_transpose import Conv1DTranspose
from .depthwise_conv2d import DepthwiseConv2D
from .separable_conv2d import SeparableConv2D
from .image_preprocessing import CenterCrop, Resizing
from .augmentation import (
    RandomBrightness, RandomContrast, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
)
from .conv1d import (
    AveragePooling1D, AvgPool1D, Conv1D, GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPool1D,
    GlobalMaxPooling1D, MaxPool1D, MaxPooling1D,
)
from .lambda_layer import Lambda
from .layer_normalization import LayerNormalization, UnitNormalization
from .noise import ActivityRegularization, GaussianDropout, GaussianNoise, Rescaling
from .normalization_preprocessing import Normalization
from .sequence_layers import Embedding, SpatialDropout1D, SpatialDropout2D, TimeDistributed
from .reshaping import (
    Cropping1D, Cropping2D, Permute, RepeatVector, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D,
)
from .attention import AdditiveAttention, Attention
from .multi_head_attention import MultiHeadAttention
from .merge import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum,
    minimum, multiply, subtract,
)
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D,
    MaxPool2D, MaxPooling2D,
)
from .reshape import Reshape
from .masking import Masking
from .simple_rnn import SimpleRNN
from .lstm import LSTM
from .gru import GRU
from .bidirectional import Bidirectional
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from .rnn_layer import RNN, StackedRNNCells
from .variable import Variable

__all__ = [
    "Layer", "Variable", "Input", "InputLayer", "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    "Flatten", "Reshape", "Dropout", "Activation", "LeakyReLU", "Softmax", "BatchNormalization", "Lambda",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "add", "subtract",
    "multiply", "average", "maximum", "minimum", "concatenate", "dot", "ReLU", "ELU", "PReLU", "Conv1D", "Conv2DTranspose",
    "Conv1DTranspose",
    "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "MaxPool1D", "AvgPool1D",
    "GlobalAvgPool1D", "GlobalMaxPool1D", "LayerNormalization", "UnitNormalization", "GaussianNoise",
    "GaussianDropout", "ActivityRegularization", "Rescaling", "UpSampling1D", "UpSampling2D", "ZeroPadding1D",
    "ZeroPadding2D", "Cropping1D", "Cropping2D", "Permute", "RepeatVector", "Embedding", "TimeDistributed",
    "SpatialDropout1D", "SpatialDropout2D", "Normalization", "DepthwiseConv2D", "SeparableConv2D", "Resizing", "CenterCrop", "RandomFlip",
    "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness", "MultiHeadAttention", "Attention",
    "AdditiveAttention",
    "Masking", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell",
    "StackedRNNCells",
    "serialize", "deserialize", "get",
]

_CLASSES = {c.__name__: c for c in (
    InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten,
    Reshape, Dropout, Activation, LeakyReLU, Softmax, BatchNormalization, Add, Subtract, Multiply, Average, Maximum,
    Minimum, Concatenate, Dot, ReLU, ELU, PReLU, Conv1D, Conv2DTranspose, Conv1DTranspose, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D,
    GlobalMaxPooling1D, LayerNormalization, UnitNormalization, GaussianNoise, GaussianDropout, ActivityRegularization,
    Rescaling, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, Cropping1D, Cropping2D, Permute,
    RepeatVector, Embedding, TimeDistributed, SpatialDropout1D, SpatialDropout2D, Normalization, DepthwiseConv2D,
    SeparableConv2D, Resizing, CenterCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast,
    RandomBrightness, MultiHeadAttention, Attention, AdditiveAttention, Masking, SimpleRNN, LSTM, GRU,
    Bidirectional, RNN, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells,
)}
_CLASSES.update(MaxPool2D=MaxPooling2D, AvgPool2D=AveragePooling2D, GlobalAvgPool2D=GlobalAveragePooling2D,
                GlobalMaxPool2D=GlobalMaxPooling2D, MaxPool1D=MaxPooling1D, AvgPool1D=AveragePooling1D,
                GlobalAvgPool1D=GlobalAveragePooling1D, GlobalMaxPool1D=GlobalMaxPooling1D)


def serialize(layer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a layer.

    Example:
        >>> import ferronet as fn
        >>> config = fn.layers.serialize(fn.layers.Dense(3, activation="relu", name="hidden"))
        >>> config["class_name"], config["config"]["units"], config["config"]["activation"]
        ('Dense', 3, 'relu')
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config, custom_objects=None):
    """A new layer from :func:`serialize`'s output (``custom_objects`` maps names of your own classes).

    Raises:
        ValueError: for an unknown class name.

    Example:
        >>> import ferronet as fn
        >>> config = fn.layers.serialize(fn.layers.Dense(3, activation="relu", name="hidden"))
        >>> layer = fn.layers.deserialize(config)  # a new, unbuilt layer with the same arguments
        >>> type(layer).__name__, layer.units, layer.name, layer.built
        ('Dense', 3, 'hidden', False)
    """
    from ..models import sequential

    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None and name == "Sequential":
        cls = sequential.Sequential
    if cls is None and name in ("Functional", "Model"):
        from ..models.functional_model import Functional

        return Functional.from_config(config.get("config", {}), custom_objects=custom_objects)
    if cls is None:
        raise ValueError(
            f"Unknown layer class {name!r}: pass it in custom_objects={{'{name}': {name}}}. Received: class_name={name!r}"
        )
    if cls is sequential.Sequential or cls in (RNN, StackedRNNCells):  # (their configs hold layers)
        return cls.from_config(config.get("config", {}), custom_objects=custom_objects)
    return cls.from_config(_resolve(config.get("config", {}), custom_objects))


def _resolve(config, custom_objects):
    """Replace custom activation names in a layer config by the functions in ``custom_objects``."""
    if custom_objects and isinstance(config.get("activation"), str) and config["activation"] in custom_objects:
        config = {**config, "activation": custom_objects[config["activation"]]}
    return config


def get(identifier):
    """A layer from an instance or a serialized dict.

    Example:
        >>> import ferronet as fn
        >>> dense = fn.layers.Dense(3)
        >>> fn.layers.get(dense) is dense
        True
        >>> fn.layers.get({"class_name": "Dropout", "config": {"rate": 0.5}}).rate
        0.5
    """
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret layer. Received: {identifier!r}")
