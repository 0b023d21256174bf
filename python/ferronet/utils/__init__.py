"""Utilities with Keras' names: ``set_random_seed``, ``to_categorical``, ``pad_sequences``,
``timeseries_dataset_from_array``, ``Progbar``, ``PyDataset``."""

from .dataset import PyDataset, Sequence
from .random import set_random_seed
from .sequences import pad_sequences
from .timeseries import TimeseriesDataset, timeseries_dataset_from_array

__all__ = ["set_random_seed", "to_categorical", "pad_sequences", "timeseries_dataset_from_array", "TimeseriesDataset",
           "Progbar", "PyDataset", "Sequence"]


def __getattr__(name):
    # Resolved lazily: these live in modules that import parts of ferronet themselves.
    if name == "to_categorical":
        from ..preprocessing import to_categorical

        return to_categorical
    if name == "Progbar":
        from .progbar import Progbar

        return Progbar
    raise AttributeError(f"module 'ferronet.utils' has no attribute {name!r}")
