"""Weight initializers with Keras' names, defaults and fan rules.

An initializer is called as ``init(shape, dtype)`` and returns a NumPy array.
Unseeded initializers draw from the global generator that
:func:`ferronet.utils.set_random_seed` resets; a seeded one returns the same
values on every call (as in Keras 3).

Example:
    >>> from ferronet import initializers
    >>> initializers.get("he_normal")((784, 128), "float32").shape
    (784, 128)
"""

from __future__ import annotations

import math

import numpy as np

from .utils import random as _random

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
    "Orthogonal", "Identity", "get", "serialize", "deserialize",
]


def _fans(shape):
    """Keras' (fan_in, fan_out): dense ``(in, out)``; conv ``(*kernel, in, out)`` times the receptive field."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    rf = math.prod(shape[:-2])
    return shape[-2] * rf, shape[-1] * rf


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``.

    Example:
        >>> class Halves(ferronet.initializers.Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return np.full(shape, 0.5, dtype=dtype or np.float32)
        ...     def get_config(self):
        ...         return {}
        >>> Halves()((2, 2))
        array([[0.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype).")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Seeded(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be None or an integer. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        return _random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _dt(dtype):
    return np.dtype(dtype or "float32")


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2, 3))
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, _dt(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2, 3))
        array([[1., 1., 1.],
               [1., 1., 1.]], dtype=float32)
    """

    def __call__(self, shape, dtype=None):
        return np.ones(shape, _dt(dtype))


class Constant(Initializer):
    """Every element equal to ``value`` (default 0.0).

    Example:
        >>> Constant(0.5)((2, 2))
        array([[0.5, 0.5],
               [0.5, 0.5]], dtype=float32)
    """

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, _dt(dtype))

    def get_config(self):
        return {"value": self.value}


class RandomNormal(_Seeded):
    """Normal distribution, ``mean=0.0``, ``stddev=0.05``.

    Example:
        >>> w = RandomNormal(stddev=1.0, seed=0)((1000, 10))
        >>> w.shape, w.dtype, round(float(w.std()), 1)
        ((1000, 10), dtype('float32'), 1.0)
        >>> np.array_equal(w, RandomNormal(stddev=1.0, seed=0)((1000, 10)))
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, size=shape).astype(_dt(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(_Seeded):
    """Uniform distribution on ``[minval, maxval)``, default ``[-0.05, 0.05)``.

    Example:
        >>> w = RandomUniform(minval=0.0, maxval=1.0, seed=0)((100, 10))
        >>> w.shape, bool(w.min() >= 0.0), bool(w.max() < 1.0)
        ((100, 10), True, True)
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, size=shape).astype(_dt(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def _truncated(rng, shape, stddev):
    """Normal samples redrawn until within two standard deviations."""
    out = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev


class TruncatedNormal(_Seeded):
    """Normal distribution cut at two standard deviations, ``stddev=0.05``.

    Example:
        >>> w = TruncatedNormal(stddev=1.0, seed=0)((100, 10))
        >>> w.shape, bool(np.abs(w).max() <= 2.0)
        ((100, 10), True)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None):
        return (_truncated(self._rng(), shape, self.stddev) + self.mean).astype(_dt(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(_Seeded):
    """Scale the variance to ``scale / n`` with ``n`` the fan given by ``mode``.

    Args:
        scale: positive float.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"``, ``"untruncated_normal"`` or ``"uniform"``.
        seed: optional integer.

    Example:
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal", seed=0)
        >>> round(float(init((400, 400)).std() * np.sqrt(400 / 2.0)), 1)
        1.0
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"scale must be positive. Received: scale={scale!r}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg'. Received: mode={mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform'. "
                f"Received: distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a unit normal truncated at +-2: correct for the cut.
            w = _truncated(rng, shape, math.sqrt(var) / 0.87962566103423978)
        elif self.distribution == "untruncated_normal":
            w = rng.normal(0.0, math.sqrt(var), size=shape)
        else:
            lim = math.sqrt(3.0 * var)
            w = rng.uniform(-lim, lim, size=shape)
        return w.astype(_dt(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class _Preset(VarianceScaling):
    _args = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None):
        super().__init__(*self._args, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Keras' default kernel initializer).

    Example:
        >>> w = GlorotUniform(seed=0)((30, 20))
        >>> w.shape, bool(np.abs(w).max() <= np.sqrt(6 / (30 + 20)))
        ((30, 20), True)
    """

    _args = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> w = GlorotNormal(seed=0)((200, 200))
        >>> round(float(w.std() / np.sqrt(2 / 400)), 1)
        1.0
    """

    _args = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / fan_in)`` (for ReLU networks).

    Example:
        >>> w = HeNormal(seed=0)((200, 200))
        >>> round(float(w.std() / np.sqrt(2 / 200)), 1)
        1.0
    """

    _args = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """Uniform on ``±sqrt(6 / fan_in)``.

    Example:
        >>> w = HeUniform(seed=0)((50, 10))
        >>> w.shape, bool(np.abs(w).max() <= np.sqrt(6 / 50))
        ((50, 10), True)
    """

    _args = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(1 / fan_in)``.

    Example:
        >>> w = LecunNormal(seed=0)((200, 200))
        >>> round(float(w.std() / np.sqrt(1 / 200)), 1)
        1.0
    """

    _args = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform on ``±sqrt(3 / fan_in)``.

    Example:
        >>> w = LecunUniform(seed=0)((50, 10))
        >>> w.shape, bool(np.abs(w).max() <= np.sqrt(3 / 50))
        ((50, 10), True)
    """

    _args = (1.0, "fan_in", "uniform")


class Orthogonal(_Seeded):
    """Orthogonal matrix (from a QR decomposition) times ``gain``, for 2-D or flattened shapes.

    Example:
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> np.allclose(q.T @ q, np.eye(4), atol=1e-5)
        True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank >= 2. Received: shape={tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q[:rows, :cols]).reshape(shape).astype(_dt(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only).

    Example:
        >>> Identity(gain=2.0)((2, 3))
        array([[2., 0., 0.],
               [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape. Received: shape={tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(_dt(dtype))

    def get_config(self):
        return {"gain": self.gain}


_CLASSES = {c.__name__: c for c in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
    GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal, Identity,
)}
_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal, "identity": Identity,
}


def serialize(initializer):
    """``{"class_name": ..., "config": ...}`` for an initializer.

    Example:
        >>> serialize(Constant(0.5))
        {'class_name': 'Constant', 'config': {'value': 0.5}}
    """
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config, custom_objects=None):
    """An initializer from :func:`serialize`'s output.

    Example:
        >>> init = deserialize({"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0, "seed": 1}})
        >>> type(init).__name__, init.get_config()["maxval"]
        ('RandomUniform', 1.0)
    """
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name) or _ALIASES.get(name)
    if cls is None:
        raise ValueError(f"Unknown initializer. Received: class_name={name!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """An initializer from a name (``"he_normal"``), a config dict, an instance or a callable.

    Raises:
        ValueError: if the identifier is not recognized.

    Example:
        >>> type(get("he_normal")).__name__
        'HeNormal'
        >>> get({"class_name": "Constant", "config": {"value": 3.0}})((2,))
        array([3., 3.], dtype=float32)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown initializer. Known names: {', '.join(sorted(_ALIASES))}. Received: initializer={identifier!r}"
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer. Received: initializer={identifier!r}")
