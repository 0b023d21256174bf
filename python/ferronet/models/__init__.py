"""Models: ``Sequential``, and loading/saving (``load_model``, ``save_model``, ``clone_model``)."""

from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model", "clone_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with ``model.save`` (see :func:`ferronet.saving.load_model`; ``safe_mode`` is accepted
    for Keras compatibility: no code from a file is ever run).

    Example:
        >>> model.save("classifier.ferronet")
        >>> restored = ferronet.models.load_model("classifier.ferronet")
        >>> bool(np.array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
        >>> restored.optimizer  # compiled as it was saved, ready to keep training
        <Adam learning_rate=0.001, iterations=0>
    """
    from ..saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Same as ``model.save(filepath)``: the file's name picks the format (see :mod:`ferronet.formats`).

    Example:
        >>> ferronet.models.save_model(model, "classifier.keras")  # Keras 3's format, readable by Keras
        >>> ferronet.models.load_model("classifier.keras").output_shape
        (None, 3)
    """
    from ..saving import save_model as _save

    _save(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def clone_model(model, custom_objects=None):
    """A new, uncompiled model with the same architecture and freshly initialized weights.

    Example:
        >>> twin = ferronet.models.clone_model(model)
        >>> [w.shape for w in twin.weights] == [w.shape for w in model.weights]
        True
        >>> bool(np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0)))  # new weights
        False
        >>> twin.set_weights(model.get_weights())  # copy them to get the same model
        >>> bool(np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
    """
    return type(model).from_config(_fresh_names(model.get_config()), custom_objects=custom_objects)


def _fresh_names(config):
    """The config with the model's own name dropped, so the clone gets an automatic one."""
    config = dict(config)
    config.pop("name", None)
    return config
