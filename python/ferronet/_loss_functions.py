"""The loss functions of :mod:`ferronet.losses` (``mean_squared_error(y_true, y_pred)``...): per-sample
losses, as Keras' ``keras.losses.<name>`` functions, each the ``call`` of its ``Loss`` class."""

from __future__ import annotations

from .losses import (
    BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, Hinge, Huber, Loss, MeanAbsoluteError,
    MeanSquaredError, MulticlassHinge, SparseCategoricalCrossentropy,
)

__all__ = ["mean_squared_error", "mean_absolute_error", "huber", "hinge", "categorical_hinge", "multiclass_hinge",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of squared errors.

    Example:
        >>> y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
        >>> y_pred = np.array([[1.0, 1.0], [1.0, 0.0]])
        >>> mean_squared_error(y_true, y_pred)
        array([0.5, 0.5])
    """
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of absolute errors.

    Example:
        >>> y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
        >>> y_pred = np.array([[1.0, 1.0], [1.0, 0.0]])
        >>> mean_absolute_error(y_true, y_pred)
        array([0.5, 0.5])
    """
    return MeanAbsoluteError().call(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss.

    Example:
        >>> huber(np.zeros((2, 1)), np.array([[0.5], [3.0]]))
        array([0.125, 2.5  ])
    """
    return Huber(delta=delta).call(y_true, y_pred)


def hinge(y_true, y_pred):
    """Per-sample hinge loss (labels in {-1, 1} or {0, 1}).

    Example:
        >>> hinge(np.array([[1.0], [-1.0]]), np.array([[0.5], [-2.0]]))
        array([0.5, 0. ])
    """
    return Hinge().call(y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """Per-sample categorical hinge loss (one-hot labels).

    Example:
        >>> y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> np.round(categorical_hinge(y_true, y_pred), 4)
        array([0.4, 0.8])
    """
    return CategoricalHinge().call(y_true, y_pred)


def multiclass_hinge(y_true, y_pred, margin=1.0):
    """Per-sample multi-class SVM hinge loss (class ids or one-hot labels).

    Example:
        >>> multiclass_hinge(np.array([0, 1]), np.array([[2.0, 1.5, 0.0], [0.0, 3.0, 0.0]]))
        array([0.5, 0. ])
    """
    return MulticlassHinge(margin=margin).call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample binary cross-entropy (mean over the last axes).

    Example:
        >>> np.round(binary_crossentropy(np.array([[1.0], [0.0]]), np.array([[0.9], [0.2]])), 4)
        array([0.1054, 0.2231])
    """
    return BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample categorical cross-entropy (one-hot labels).

    Example:
        >>> y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> np.round(categorical_crossentropy(y_true, y_pred), 4)
        array([0.2231, 0.5108])
    """
    return CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy with integer class ids.

    Example:
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> np.round(sparse_categorical_crossentropy(np.array([0, 1]), y_pred), 4)
        array([0.2231, 0.5108])
    """
    return SparseCategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


class _FunctionLoss(Loss):
    """A plain function ``f(y_true, y_pred)`` written in tensor ops, used as a loss (the tape differentiates it)."""

    def __init__(self, fn, reduction="sum_over_batch_size"):
        super().__init__(name=getattr(fn, "__name__", "custom_loss"), reduction=reduction)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}
