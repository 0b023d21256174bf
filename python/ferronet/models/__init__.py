"""Models: ``Sequential``, and loading/saving (``load_model``, ``save_model``, ``clone_model``)."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model", "clone_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with ``model.save`` (see :func:`ferronet.saving.load_model`; ``safe_mode`` is accepted
    for Keras compatibility: no code from a file is ever run)."""
    from ..saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Same as ``model.save(filepath)``."""
    from ..saving import save_model as _save

    _save(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def clone_model(model, custom_objects=None):
    """A new, uncompiled model with the same architecture and freshly initialized weights."""
    from ..layers.base import _NAME_COUNTS  # noqa: F401  (names are reused from the config)

    clone = type(model).from_config(_fresh_names(model.get_config()), custom_objects=custom_objects)
    return clone


def _fresh_names(config):
    """The config with the model's own name dropped, so the clone gets an automatic one."""
    config = dict(config)
    config.pop("name", None)
    return config
