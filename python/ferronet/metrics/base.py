"""Stateful metric base classes: ``Metric``, ``Mean``, ``Sum`` and ``MeanMetricWrapper``.

A metric accumulates state over many batches with ``update_state`` and reports
the value for everything seen so far with ``result``; ``reset_state`` starts
over. ``model.fit`` resets its metrics at the start of every epoch, so the value
logged for an epoch is computed from the whole epoch's counts, exactly as if the
epoch had been one batch.

State is kept in float64 NumPy arrays or Python floats, whatever the input dtype,
so sums over a long epoch do not lose precision.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

import numpy as np

from ..errors import ShapeError

__all__ = ["Metric", "MetricVariable", "Mean", "Sum", "MeanMetricWrapper"]


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class MetricVariable:
    """A NumPy-backed accumulator created by :meth:`Metric.add_variable`.

    It offers the small part of Keras' variable API that custom metrics use:
    ``assign``, ``assign_add``, ``numpy()`` and conversion with ``float()`` or
    ``np.asarray``.

    Args:
        shape: Shape of the variable.
        initializer: ``"zeros"``, ``"ones"`` or a number used to fill it.
        dtype: NumPy dtype of the stored value.
        name: Name, for ``repr`` only.

    Example:
        >>> class Count(ferronet.metrics.Metric):
        ...     def __init__(self):
        ...         super().__init__(name="count")
        ...         self.n = self.add_variable(name="n")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         self.n.assign_add(len(y_true))
        ...     def result(self):
        ...         return self.n.value
        >>> m = Count()
        >>> m.update_state([1, 0, 1], [1, 1, 1])
        >>> float(m.result())
        3.0
        >>> type(m.n).__name__
        'MetricVariable'
    """

    def __init__(self, shape=(), initializer="zeros", dtype="float64", name=None):
        if initializer == "zeros":
            fill = 0.0
        elif initializer == "ones":
            fill = 1.0
        elif isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
            fill = float(initializer)
        else:
            raise ValueError(
                "MetricVariable initializer must be 'zeros', 'ones' or a number. "
                f"Received: initializer={initializer!r}"
            )
        self.name = name
        self._initial = fill
        self._value = np.full(shape, fill, dtype=dtype)

    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def value(self) -> np.ndarray:
        """A copy of the current value."""
        return self._value.copy()

    def numpy(self) -> np.ndarray:
        """Returns a copy of the current value as a NumPy array."""
        return self._value.copy()

    def assign(self, value) -> None:
        """Overwrites the value (broadcast to the variable's shape)."""
        self._value[...] = value

    def assign_add(self, delta) -> None:
        """Adds ``delta`` (broadcast to the variable's shape) in place."""
        self._value += delta

    def assign_sub(self, delta) -> None:
        """Subtracts ``delta`` (broadcast to the variable's shape) in place."""
        self._value -= delta

    def reset(self) -> None:
        """Refills the variable with its initial value."""
        self._value[...] = self._initial

    def __array__(self, dtype=None, copy=None):
        return self._value.astype(dtype) if dtype is not None else self._value.copy()

    def __float__(self) -> float:
        return float(self._value)

    def __repr__(self) -> str:
        return f"<MetricVariable name={self.name} shape={self.shape} value={self._value}>"


class Metric:
    """Base class of every stateful metric.

    Subclasses implement ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()`` and ``reset_state()``. A custom metric may keep its state in
    variables made with :meth:`add_variable`; the default ``reset_state`` then
    refills them, as in Keras.

    Args:
        name: Name used as the key in training logs. Defaults to the class name
            in snake case (``BinaryAccuracy`` -> ``"binary_accuracy"``).
        dtype: dtype of array results (scalar results are Python floats).
            Defaults to ``"float64"``: counts accumulated over an epoch keep
            their precision.

    Example:

    >>> m = ferronet.metrics.BinaryAccuracy()
    >>> m.update_state([0, 1, 1], [0.2, 0.7, 0.4])
    >>> m.update_state([1], [0.9])
    >>> float(m.result())
    0.75
    """

    # "up" when larger is better, "down" when smaller is better; callbacks such as
    # EarlyStopping read it in mode="auto".
    _direction: Optional[str] = None

    def __init__(self, name: Optional[str] = None, dtype: Any = None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Metric name must be a string. Received: name={name!r}")
        self.name = name or _snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype or "float64").name
        self._variables: list = []

    def add_variable(self, shape=(), initializer="zeros", dtype="float64", name=None):
        """Creates an accumulator that the default ``reset_state`` zeroes.

        Args:
            shape: Shape of the variable.
            initializer: ``"zeros"``, ``"ones"`` or a number.
            dtype: NumPy dtype of the stored value (float64 by default).
            name: Name of the variable.

        Returns:
            A :class:`MetricVariable`.
        """
        variable = MetricVariable(shape, initializer, dtype, name)
        self._variables.append(variable)
        return variable

    add_weight = add_variable

    @property
    def variables(self) -> list:
        """The variables made with :meth:`add_variable`."""
        return list(self._variables)

    def update_state(self, *args, **kwargs) -> None:
        """Accumulates statistics for one batch. Implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        """Returns the metric over everything seen since the last reset."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Clears the accumulated state (refills the variables)."""
        for variable in self._variables:
            variable.reset()

    def reset_states(self) -> None:
        """Alias of :meth:`reset_state` (the Keras 2 name)."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the new result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        """Returns the constructor arguments, so that ``from_config`` rebuilds the metric."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        """Builds a metric from the output of :meth:`get_config`."""
        return cls(**config)

    def _as_result(self, value):
        """Scalars become Python floats; arrays are cast to the metric's dtype."""
        value = np.asarray(value)
        if value.ndim == 0:
            return float(value)
        return value.astype(self.dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _reduce_to_samplewise(values: np.ndarray, sample_weight) -> tuple:
    """Keras' reduction of a metric's values against optional sample weights.

    Values of shape ``(n, ...)`` are averaged down to the rank of the weights
    (to ``(n,)`` without weights), the weights are broadcast over them, and the
    result is ``(weighted values, summed weight)``.
    """
    if sample_weight is None:
        if values.ndim > 1:
            values = values.reshape(values.shape[0], -1).mean(axis=1)
        count = values.shape[0] if values.ndim >= 1 else 1
        return float(values.sum()), float(count)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
        weight = weight[..., 0]
    elif values.ndim == weight.ndim + 1 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim > weight.ndim:
        values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
    try:
        weight = np.broadcast_to(weight, values.shape)
    except ValueError:
        raise ShapeError(
            "sample_weight does not broadcast against the metric values. "
            f"Received: sample_weight.shape={np.shape(sample_weight)}, values.shape={values.shape}"
        ) from None
    return float(np.sum(values * weight)), float(np.sum(weight))


class Sum(Metric):
    """Sums the values it is given (weighted by ``sample_weight``).

    Args:
        name: Name of the metric. Defaults to ``"sum"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.Sum()
        >>> m.update_state([1.0, 2.0, 3.0])
        >>> float(m.result())
        6.0
        >>> m.update_state([4.0], sample_weight=[0.5])
        >>> float(m.result())
        8.0
    """

    def __init__(self, name: str = "sum", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.total = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        """Adds ``sum(values * sample_weight)`` to the total.

        Args:
            values: Number or array.
            sample_weight: Optional weights, broadcast against ``values``.
        """
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is None:
            self.total += float(values.sum())
        else:
            weight = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), values.shape)
            self.total += float(np.sum(values * weight))

    def result(self) -> float:
        return self.total

    def reset_state(self) -> None:
        self.total = 0.0


class Mean(Metric):
    """Weighted mean of everything it is given; ``model.fit`` tracks the loss with it.

    Values of shape ``(n, ...)`` count as ``n`` samples (each sample's value is the
    mean over its non-batch axes); a scalar counts as one sample, or as
    ``sample_weight`` samples when a scalar weight is given. Passing the batch's
    mean loss with ``sample_weight=batch_size`` therefore gives the exact mean
    over the epoch even when the last batch is smaller.

    Args:
        name: Name of the metric. Defaults to ``"mean"``.
        dtype: dtype of the result.

    Example:

    >>> m = ferronet.metrics.Mean()
    >>> m.update_state(0.5, sample_weight=32)
    >>> m.update_state(1.0, sample_weight=8)
    >>> m.result()
    0.6
    """

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None) -> None:
        """Accumulates ``values`` (optionally weighted).

        Args:
            values: Number or array of shape ``(n, ...)``.
            sample_weight: Optional number or array broadcastable to the
                samples of ``values``.
        """
        # Fast path for the per-batch loss: a Python or NumPy scalar.
        if isinstance(values, (float, int, np.floating, np.integer)):
            if sample_weight is None:
                self.total += float(values)
                self.count += 1.0
                return
            if isinstance(sample_weight, (float, int, np.floating, np.integer)):
                self.total += float(values) * float(sample_weight)
                self.count += float(sample_weight)
                return
        total, count = _reduce_to_samplewise(np.asarray(values, dtype=np.float64), sample_weight)
        self.total += total
        self.count += count

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """Turns a per-sample function ``fn(y_true, y_pred)`` into a stateful mean.

    ``fn`` returns one value per sample (or per element, which is averaged per
    sample); the metric's result is the weighted mean over all samples seen.

    Args:
        fn: Callable ``fn(y_true, y_pred, **kwargs)``.
        name: Name of the metric. Defaults to ``fn.__name__``.
        dtype: dtype of the result.
        **kwargs: Extra keyword arguments passed to ``fn``.

    Example:

    >>> def abs_error(y_true, y_pred):
    ...     return np.abs(np.asarray(y_true) - np.asarray(y_pred))
    >>> m = ferronet.metrics.MeanMetricWrapper(abs_error)
    >>> m([1.0, 2.0], [1.5, 2.5])
    0.5
    """

    def __init__(self, fn: Callable, name: Optional[str] = None, dtype: Any = None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper needs a callable fn. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Evaluates ``fn`` on the batch and accumulates its mean.

        Args:
            y_true: Targets of the batch.
            y_pred: Predictions of the batch.
            sample_weight: Optional per-sample weights of shape ``(n,)``.
        """
        values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs), dtype=np.float64)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self._fn_kwargs)
        # A plain function cannot be rebuilt from a config; subclasses built on a
        # fixed function (CategoricalAccuracy, ...) only store their own arguments.
        if type(self) is MeanMetricWrapper:
            config["fn"] = self._fn
        return config
