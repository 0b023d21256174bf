"""ferronet: fast neural networks on a plain CPU, with Keras' API and a Rust core.

The functional API lives in :mod:`ferronet.ops`; thread and SIMD control are
here: :func:`set_num_threads`, :func:`get_num_threads`, :func:`simd`, :func:`amx`.
"""

from . import _core, _memory, ops
from ._core import amx, get_num_threads, set_num_threads, simd, supported_simd
from .errors import ArgumentError, DTypeError, FerronetError, ShapeError

__version__ = "0.1.0"

_memory.tune_allocator()

# Keras-like model API
from . import activations, callbacks, initializers, layers, losses, metrics, models, nn, optimizers, regularizers, utils
from . import keras, mixed_precision
from .layers import Input, Variable
from .models import Model, Sequential
from .tensor import GradientTape, Tensor, constant

# Physicist's workflow: data preparation, datasets, plots (matplotlib imported only when plotting)
from . import datasets, pinn, plot, preprocessing

# Beyond one process: data parallelism over MPI, batch inference over Dask (mpi4py and dask imported only when used)
from . import distribution

__all__ = [
    "ops",
    "get_num_threads",
    "set_num_threads",
    "simd",
    "supported_simd",
    "amx",
    "FerronetError",
    "ShapeError",
    "DTypeError",
    "ArgumentError",
    "Sequential",
    "Model",
    "Input",
    "Tensor",
    "Variable",
    "GradientTape",
    "constant",
    "layers",
    "models",
    "optimizers",
    "losses",
    "activations",
    "initializers",
    "regularizers",
    "callbacks",
    "metrics",
    "keras",
    "mixed_precision",
    "nn",
    "utils",
    "datasets",
    "plot",
    "preprocessing",
    "distribution",
]


def __getattr__(name):
    # TensorFlow's names (tf.reduce_mean, tf.nn, tf.data, tf.float32...) for ``import ferronet as tf``.
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    tfcompat = importlib.import_module(__name__ + ".tfcompat")
    try:
        value = getattr(tfcompat, name)
    except AttributeError:
        raise AttributeError(f"module 'ferronet' has no attribute {name!r}") from None
    globals()[name] = value  # found once: later lookups are plain module attributes
    return value
