"""``ferronet.keras``: Keras' module paths over ferronet, for programs written against ``tf.keras``.

After ``import ferronet as tf``, ``tf.keras.models.Sequential``,
``tf.keras.layers.Dense``, ``tf.keras.optimizers.Adam``,
``tf.keras.utils.to_categorical`` and ``tf.keras.datasets.mnist`` are
ferronet's objects, and ``from ferronet.keras.layers import Dense`` works as
an import statement too: each submodule is the ferronet module itself.
"""

import sys as _sys

from .. import (
    activations, callbacks, datasets, initializers, layers, losses, metrics, mixed_precision, models, optimizers,
    regularizers, utils,
)
from ..layers import Input
from ..models import Model, Sequential
from . import backend
from . import ops, random  # Keras 3's op and random namespaces
from . import preprocessing  # tf.keras.preprocessing.sequence

__all__ = [
    "activations", "backend", "callbacks", "datasets", "initializers", "layers", "losses", "metrics",
    "mixed_precision", "models",
    "ops", "optimizers", "preprocessing", "random", "regularizers", "utils", "Input", "Model", "Sequential",
]

for _name in ("activations", "callbacks", "datasets", "initializers", "layers", "losses", "metrics",
              "mixed_precision", "models", "optimizers", "regularizers", "utils"):
    _sys.modules[f"{__name__}.{_name}"] = globals()[_name]
_sys.modules[f"{__name__}.optimizers.schedules"] = optimizers.schedules
_sys.modules[f"{__name__}.datasets.mnist"] = datasets.mnist
_sys.modules[f"{__name__}.datasets.fashion_mnist"] = datasets.fashion_mnist
for _name in ("cifar10", "cifar100", "boston_housing", "imdb"):
    _sys.modules[f"{__name__}.datasets.{_name}"] = getattr(datasets, _name)
del _name
