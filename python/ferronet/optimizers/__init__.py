"""Optimizers with Keras' names and defaults; updates run in place in the Rust core.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, and learning-rate
``schedules``. ``compile`` also accepts the names ``"sgd"``, ``"adam"``,
``"adamw"``, ``"rmsprop"``, ``"adagrad"``.
"""

from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get", "serialize", "deserialize"]

_CLASSES = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}
_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def serialize(optimizer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a Optimizer, Keras' serialized form.

    Example:
        >>> config = ferronet.optimizers.serialize(ferronet.optimizers.Adam(learning_rate=0.01))
        >>> config["class_name"], config["config"]["learning_rate"]
        ('Adam', 0.01)
    """
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None):
    """A new Optimizer from :func:`serialize`'s output (``custom_objects`` maps names of your own classes).

    Raises:
        ValueError: for an unknown class name.

    Example:
        >>> optimizer = ferronet.optimizers.deserialize({"class_name": "Adam", "config": {"learning_rate": 0.01}})
        >>> type(optimizer).__name__, optimizer.learning_rate
        ('Adam', 0.01)
    """
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name) or _NAMES.get(name.lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer class. Received: class_name={name!r}")
    return cls.from_config(config.get("config", {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name (Keras defaults), a config dict or an instance.

    Raises:
        ValueError: for an unknown name or object.

    Example:
        >>> type(ferronet.optimizers.get("rmsprop")).__name__
        'RMSprop'
        >>> ferronet.optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5}}).learning_rate
        0.5
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer. Known names: {', '.join(_NAMES)}. Received: optimizer={identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer. Received: optimizer={identifier!r}")
