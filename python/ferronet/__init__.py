"""ferronet: fast neural networks on a plain CPU, with Keras' API and a Rust core.

The functional API lives in :mod:`ferronet.ops`; thread and SIMD control are
here: :func:`set_num_threads`, :func:`get_num_threads`, :func:`simd`.
"""

from . import _core, ops
from ._core import get_num_threads, set_num_threads, simd, supported_simd
from .errors import ArgumentError, DTypeError, FerronetError, ShapeError

__version__ = "0.1.0"

# Keras-like model API
from . import activations, callbacks, initializers, layers, losses, metrics, models, nn, optimizers, regularizers, utils
from . import keras
from .layers import Input
from .models import Sequential

# Physicist's workflow: data preparation, datasets, plots (matplotlib imported only when plotting)
from . import datasets, plot, preprocessing

# Beyond one process: data parallelism over MPI, batch inference over Dask (mpi4py and dask imported only when used)
from . import distribution

__all__ = [
    "ops",
    "get_num_threads",
    "set_num_threads",
    "simd",
    "supported_simd",
    "FerronetError",
    "ShapeError",
    "DTypeError",
    "ArgumentError",
    "Sequential",
    "Input",
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
    "nn",
    "utils",
    "datasets",
    "plot",
    "preprocessing",
    "distribution",
]
