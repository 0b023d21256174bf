"""``Optimizer``: learning rate and schedules, clipping, weight decay and per-variable slots.

Subclasses implement only ``build(var_list)`` (create their slots with
:meth:`Optimizer.add_variable_from_reference`) and
``update_step(gradient, variable, learning_rate)``, which calls one in-place
update kernel of the Rust core.
"""

from __future__ import annotations

import math

import numpy as np

from . import schedules as _schedules

__all__ = ["Optimizer"]


def _check_nonneg(value, name):
    if value is None:
        return None
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a non-negative float. Received: {name}={value!r}")
    return value


class Optimizer:
    """Base class of the optimizers (Keras 3 arguments).

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` (called with the
            step count) or a callable without arguments returning the rate.
        weight_decay: optional decoupled weight decay (``w -= lr * wd * w`` before each update).
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
        name: name of the optimizer.

    Attributes:
        iterations: number of updates applied so far.
        learning_rate: current learning rate (settable, as callbacks do).

    Example:
        >>> optimizer = ferronet.optimizers.SGD(learning_rate=0.1, clipnorm=1.0)
        >>> v = ferronet.Variable(np.zeros(2, dtype=np.float32))
        >>> optimizer.apply_gradients([(np.array([3.0, 4.0], dtype=np.float32), v)])  # clipped to norm 1
        >>> np.round(v.numpy(), 4), optimizer.iterations
        (array([-0.06, -0.08], dtype=float32), 1)
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        if "decay" in kwargs and kwargs["decay"] in (None, 0, 0.0):
            del kwargs["decay"]  # Keras 2 argument, accepted when it is a no-op
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}. Received: {kwargs}")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(
                "Only one of clipnorm and global_clipnorm can be set. "
                f"Received: clipnorm={clipnorm}, global_clipnorm={global_clipnorm}"
            )
        self.name = name or type(self).__name__.lower()
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.clipnorm = _check_nonneg(clipnorm, "clipnorm")
        self.clipvalue = _check_nonneg(clipvalue, "clipvalue")
        self.global_clipnorm = _check_nonneg(global_clipnorm, "global_clipnorm")
        self.iterations = 0
        self._lr = None
        self._set_lr(learning_rate)
        self._slots: dict = {}       # id(variable) -> {slot name: array}
        self._slot_vars: dict = {}   # id(variable) -> variable (keeps the mapping alive)
        self._known = None           # last variable list seen by apply
        self._pairs = []             # (gradient buffer, variable) for that list

    # ----------------------------------------------------------- learning rate
    def _set_lr(self, value):
        if isinstance(value, _schedules.LearningRateSchedule) or (callable(value) and not isinstance(value, float)):
            self._lr = value
            return
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"learning_rate must be a float, a LearningRateSchedule or a callable. Received: learning_rate={value!r}"
            ) from None
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"learning_rate must be a non-negative float. Received: learning_rate={value!r}")
        self._lr = value

    @property
    def learning_rate(self) -> float:
        """The learning rate for the next update (a float)."""
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(self._lr, _schedules.LearningRateSchedule) and not isinstance(
                value, _schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a LearningRateSchedule as its learning_rate, so its learning rate "
                f"cannot be set to a number. Received: learning_rate={value!r}"
            )
        self._set_lr(value)

    lr = learning_rate

    def _current_lr(self) -> float:
        lr = self._lr
        if isinstance(lr, float):
            return lr
        if isinstance(lr, _schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        return float(lr())

    # ------------------------------------------------------------------ slots
    def build(self, var_list) -> None:
        """Create the optimizer state for ``var_list`` (subclasses add their slots, then call super)."""
        for v in var_list:
            self._slot_vars[id(v)] = v
            self._slots.setdefault(id(v), {})

    def add_variable_from_reference(self, reference_variable, name, initializer="zeros"):
        """A slot array shaped like ``reference_variable`` (zeros, or filled with a float ``initializer``)."""
        slots = self._slots.setdefault(id(reference_variable), {})
        self._slot_vars[id(reference_variable)] = reference_variable
        if name not in slots:
            a = np.zeros_like(reference_variable.value)
            if not isinstance(initializer, str):
                a.fill(float(initializer))
            slots[name] = a
        return slots[name]

    def _slot(self, variable, name):
        return self._slots[id(variable)][name]

    # ---------------------------------------------------------------- updates
    def update_step(self, gradient, variable, learning_rate):
        """Update ``variable.value`` in place from ``gradient`` (implemented by subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_step(gradient, variable, learning_rate).")

    def _fuses_into_gradient(self) -> bool:
        """Whether a dense layer may apply this optimizer's step inside its weight-gradient kernel."""
        return False

    def _ensure_slots(self, variables) -> None:
        """Create the state of any variable not seen yet."""
        missing = [v for v in variables if id(v) not in self._slots]
        if missing:
            self.build(missing)

    def _apply_variables(self, variables, lr=None) -> None:
        """One update of every variable in ``variables`` from its ``.grad`` buffer (the ``fit`` path).

        ``lr`` is this step's learning rate when the caller already evaluated it
        (variables updated inside their layers' backward used the same value).
        """
        if variables is not self._known:
            self._ensure_slots(variables)
            self._known = variables
            self._pairs = [(v.grad, v) for v in variables]  # gradient buffers keep their identity
        pairs = self._pairs
        if self.clipvalue is not None or self.clipnorm is not None or self.global_clipnorm is not None:
            self._clip([g for g, _ in pairs])
        if lr is None:
            lr = self._current_lr()
        if self.weight_decay:
            self._apply_weight_decay(variables, lr)
        update = self.update_step
        for g, v in pairs:
            update(g, v, lr)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras' API: apply ``[(gradient, variable), ...]`` (gradients as arrays)."""
        pairs = list(grads_and_vars)
        missing = [v for g, v in pairs if g is None]
        if missing:
            import warnings

            warnings.warn("Gradients do not exist for variables "
                          f"{[getattr(v, 'path', getattr(v, 'name', '?')) for v in missing]} when minimizing the "
                          "loss: they are left unchanged.", UserWarning, stacklevel=2)
            pairs = [(g, v) for g, v in pairs if g is not None]
        for g, v in pairs:
            g = np.asarray(g)
            if g.shape != v.shape:
                raise ValueError(f"Gradient for '{v.path}' must have shape {v.shape}. Received: shape {g.shape}")
            np.copyto(v.grad, g, casting="unsafe")
        self._apply_variables([v for _, v in pairs])

    def apply(self, grads, trainable_variables) -> None:
        """Apply a list of gradient arrays to the matching list of variables."""
        self.apply_gradients(zip(grads, trainable_variables))

    def _apply_weight_decay(self, variables, lr) -> None:
        f = 1.0 - lr * self.weight_decay
        for v in variables:
            np.multiply(v.value, f, out=v.value)

    def _clip(self, grads) -> None:
        if self.clipvalue is not None:
            c = self.clipvalue
            for g in grads:
                np.clip(g, -c, c, out=g)
        if self.clipnorm is not None:
            for g in grads:
                n = math.sqrt(float(np.vdot(g, g)))
                if n > self.clipnorm:
                    np.multiply(g, self.clipnorm / n, out=g)
        if self.global_clipnorm is not None:
            n = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            if n > self.global_clipnorm:
                for g in grads:
                    np.multiply(g, self.global_clipnorm / n, out=g)

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._lr
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif not isinstance(lr, float):
            lr = self._current_lr()
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = _schedules.deserialize(lr, custom_objects)
        return cls(**config)

    @property
    def variables(self) -> list:
        """The slot arrays, variable by variable (what is saved with the model)."""
        return [a for slots in self._slots.values() for a in slots.values()]

    def _state_for(self, variables) -> dict:
        """``{"<index>/<slot>": array}`` for the variables (by their index in ``variables``)."""
        out = {}
        for i, v in enumerate(variables):
            for name, a in self._slots.get(id(v), {}).items():
                out[f"{i}/{name}"] = a
        return out

    def _load_state(self, variables, state: dict, iterations: int) -> None:
        """Restore slots saved by :meth:`_state_for` (shapes checked by the caller)."""
        owners = sorted({int(k.split("/")[0]) for k in state})
        if owners:
            self.build([variables[i] for i in owners])
        for k, a in state.items():
            i, name = k.split("/", 1)
            v = variables[int(i)]
            slots = self._slots.setdefault(id(v), {})
            self._slot_vars[id(v)] = v
            if name in slots and slots[name].shape == a.shape:
                np.copyto(slots[name], a)
            else:
                slots[name] = np.array(a, dtype=v.dtype, copy=True)
        self.iterations = int(iterations)
        self._known = None

    def __repr__(self):
        return f"<{type(self).__name__} learning_rate={self._current_lr():g}, iterations={self.iterations}>"
