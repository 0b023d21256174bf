"""Learning-rate schedules: ``schedule(step) -> learning rate`` (Keras' ``optimizers.schedules``).

Example:
    >>> from ferronet import optimizers
    >>> lr = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.5)
    >>> opt = optimizers.SGD(learning_rate=lr)
"""

from __future__ import annotations

import math

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay",
    "CosineDecay", "serialize", "deserialize",
]


def _positive(value, name):
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be positive. Received: {name}={value!r}")
    return value


class LearningRateSchedule:
    """Base class: ``__call__(step)`` returns the learning rate for a 0-based optimizer step.

    Example:
        >>> class Halving(ferronet.optimizers.schedules.LearningRateSchedule):
        ...     def __call__(self, step):
        ...         return 0.1 * 0.5 ** (step // 10)
        ...     def get_config(self):
        ...         return {}
        >>> [Halving()(s) for s in (0, 10, 25)]
        [0.1, 0.05, 0.025]
        >>> ferronet.optimizers.SGD(learning_rate=Halving()).learning_rate  # the rate at the current step
        0.1
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step).")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config().")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (integer division with ``staircase``).

    Example:
        >>> lr = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> [round(float(lr(s)), 4) for s in (0, 5, 10, 20)]
        [0.1, 0.0707, 0.05, 0.025]
        >>> [round(float(ExponentialDecay(0.1, 10, 0.5, staircase=True)(s)), 4) for s in (0, 5, 10)]
        [0.1, 0.1, 0.05]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Example:
        >>> lr = InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
        >>> [round(float(lr(s)), 4) for s in (0, 10, 30)]
        [0.1, 0.05, 0.025]
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)
        self.name = name

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]`` (``len(values) == len(boundaries) + 1``).

    Example:
        >>> lr = PiecewiseConstantDecay(boundaries=[10, 20], values=[0.1, 0.01, 0.001])
        >>> [float(lr(s)) for s in (0, 10, 11, 21)]
        [0.1, 0.1, 0.01, 0.001]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "values must have one more element than boundaries. "
                f"Received: len(boundaries)={len(boundaries)}, len(values)={len(values)}"
            )
        self.boundaries = [float(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.name = name

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps``.

    Example:
        >>> lr = PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)
        >>> [round(float(lr(s)), 4) for s in (0, 5, 10, 20)]
        [0.1, 0.05, 0.0, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        steps = self.decay_steps
        if self.cycle:
            steps = steps * max(1.0, math.ceil(step / steps))
        else:
            step = min(step, steps)
        frac = (1.0 - step / steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * frac + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * initial_learning_rate`` over ``decay_steps``, after an optional linear warmup.

    Example:
        >>> lr = CosineDecay(0.1, decay_steps=10)
        >>> [round(float(lr(s)), 4) for s in (0, 5, 10)]
        [0.1, 0.05, 0.0]
        >>> warm = CosineDecay(0.0, decay_steps=10, warmup_target=0.1, warmup_steps=5)
        >>> [round(float(warm(s)), 4) for s in (0, 5, 10, 15)]
        [0.0, 0.1, 0.05, 0.0]
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _positive(decay_steps, "decay_steps")
        self.alpha = float(alpha)
        self.name = name
        self.warmup_target = None if warmup_target is None else float(warmup_target)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        start = self.initial_learning_rate
        if self.warmup_target is not None and step < self.warmup_steps:
            return start + (self.warmup_target - start) * step / max(1, self.warmup_steps)
        peak = start if self.warmup_target is None else self.warmup_target
        t = min(max(step - self.warmup_steps, 0), self.decay_steps) / self.decay_steps
        return peak * ((1.0 - self.alpha) * 0.5 * (1.0 + math.cos(math.pi * t)) + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


_CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
                                    CosineDecay)}


def serialize(schedule):
    """``{"class_name": ..., "config": ...}`` for a LearningRateSchedule, Keras' serialized form.

    Example:
        >>> schedule = ferronet.optimizers.schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
        >>> ferronet.optimizers.schedules.serialize(schedule)["class_name"]
        'ExponentialDecay'
    """
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None):
    """A new LearningRateSchedule from :func:`serialize`'s output (``custom_objects`` maps names of your own classes).

    Raises:
        ValueError: for an unknown class name.

    Example:
        >>> config = {"class_name": "ExponentialDecay",
        ...           "config": {"initial_learning_rate": 0.1, "decay_steps": 100, "decay_rate": 0.5}}
        >>> float(ferronet.optimizers.schedules.deserialize(config)(100))
        0.05
    """
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule. Received: class_name={name!r}")
    return cls.from_config(config.get("config", {}))
