"""Weight regularizers: ``L1``, ``L2``, ``L1L2`` (and Keras' lowercase aliases).

A regularizer adds ``l1 * sum|w| + l2 * sum(w**2)`` to the training loss and
its gradient to the weight's gradient; both are computed in the Rust core.

Example:
    >>> from ferronet import layers, regularizers
    >>> layer = layers.Dense(8, kernel_regularizer=regularizers.l2(1e-4))
"""

from __future__ import annotations

import math

from . import ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]


def _check(value, name):
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative finite float. Received: {name}={value!r}")
    return value


def _penalty_kernel():
    fn = getattr(ops, "l1_l2_penalty", None)
    if fn is None:
        raise NotImplementedError(
            "Weight regularization needs the core kernel ferronet.ops.l1_l2_penalty, which this build of ferronet "
            "does not provide yet. Received: a layer with a kernel/bias regularizer"
        )
    return fn


class Regularizer:
    """Base class: ``__call__(w)`` returns the penalty; ``_add_gradient`` adds its gradient in place.

    Example:
        >>> class MaxNorm(ferronet.regularizers.Regularizer):
        ...     def __call__(self, x):
        ...         return 0.1 * float(np.abs(x).max())
        ...     def get_config(self):
        ...         return {}
        >>> w = np.array([1.0, -2.0, 3.0])
        >>> round(MaxNorm()(w), 4)
        0.3
    """

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        """Penalty of the weights ``x`` as a float."""
        return float(_penalty_kernel()(x, l1=self.l1, l2=self.l2))

    def _add_gradient(self, w, grad) -> float:
        """Add the penalty's gradient to ``grad`` in place; returns the penalty."""
        return float(_penalty_kernel()(w, l1=self.l1, l2=self.l2, grad=grad))

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """Both penalties: ``l1 * sum|w| + l2 * sum(w**2)`` (defaults 0.0 each).

    Example:
        >>> w = np.array([1.0, -2.0, 3.0])
        >>> round(L1L2(l1=0.1, l2=0.01)(w), 4)
        0.74
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check(l1, "l1")
        self.l2 = _check(l2, "l2")

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum|w|`` (default ``l1=0.01``).

    Example:
        >>> w = np.array([1.0, -2.0, 3.0])
        >>> round(L1(0.1)(w), 4)
        0.6
        >>> L1(0.1).get_config()
        {'l1': 0.1}
    """

    def __init__(self, l1=0.01):
        self.l1 = _check(l1, "l1")

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(w**2)`` (default ``l2=0.01``).

    Example:
        >>> w = np.array([1.0, -2.0, 3.0])
        >>> round(L2(0.1)(w), 4)
        1.4
        >>> L2(0.1).get_config()
        {'l2': 0.1}
    """

    def __init__(self, l2=0.01):
        self.l2 = _check(l2, "l2")

    def get_config(self):
        return {"l2": self.l2}


def l1_l2(l1=0.01, l2=0.01):
    """``L1L2`` with Keras' function defaults (0.01 each).

    Example:
        >>> w = np.array([1.0, -2.0, 3.0])
        >>> round(l1_l2()(w), 4)
        0.2
        >>> l1_l2().get_config()
        {'l1': 0.01, 'l2': 0.01}
    """
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": l1_l2}


def serialize(regularizer):
    """``{"class_name": ..., "config": ...}`` for a Regularizer, Keras' serialized form.

    Example:
        >>> ferronet.regularizers.serialize(ferronet.regularizers.L2(0.01))
        {'class_name': 'L2', 'config': {'l2': 0.01}}
    """
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config, custom_objects=None):
    """A new Regularizer from :func:`serialize`'s output (``custom_objects`` maps names of your own classes).

    Raises:
        ValueError: for an unknown class name.

    Example:
        >>> ferronet.regularizers.deserialize({"class_name": "L2", "config": {"l2": 0.01}}).get_config()
        {'l2': 0.01}
    """
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown regularizer. Received: class_name={name!r}")
    return cls.from_config(config.get("config", {})) if isinstance(cls, type) else cls(**config.get("config", {}))


def get(identifier):
    """A regularizer from ``None``, a name (``"l2"``), a config dict or an instance.

    Raises:
        ValueError: if the identifier is not recognized.

    Example:
        >>> type(get("l2")).__name__
        'L2'
        >>> get(None) is None
        True
        >>> get({"class_name": "L1", "config": {"l1": 0.5}}).get_config()
        {'l1': 0.5}
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier) or _CLASSES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown regularizer. Known names: l1, l2, l1_l2. Received: regularizer={identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        "A regularizer must be a ferronet.regularizers.Regularizer (it needs a gradient). "
        f"Received: regularizer={identifier!r}"
    )
