"""Input checks and batch feeding for ``fit``/``evaluate``/``predict``.

All checks run once per call, before the first batch: NaN/inf in ``x`` or
``y``, mismatched lengths, and labels that do not fit the loss (a class id
beyond the outputs, a one-hot width that differs from the output width, ...),
each with a ``ValueError`` that says what was received.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..layers.base import fmt_shape

_SPARSE_DTYPE = np.int64


def as_array(a, what):
    """``a`` as an ndarray (lists, tuples, pandas objects) with a batch axis."""
    if a is None:
        return None
    if hasattr(a, "to_numpy") and not isinstance(a, np.ndarray):
        a = a.to_numpy()
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"{what} needs a batch axis (one row per sample). Received: a scalar {what}={a!r}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold numbers. Received: {what}.dtype={a.dtype}")
    return a


def is_batch_source(x) -> bool:
    """Whether ``x`` yields ready batches (a generator/iterator, or a dataset object with ``__len__`` and
    ``__getitem__`` such as ``keras.utils.PyDataset``) rather than being one array of samples."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "__array__") or hasattr(x, "to_numpy"):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def source_steps(source, steps, what) -> int:
    """Batches to draw from a batch source: ``steps`` if given, else its length."""
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{what} must be a positive integer. Received: {what}={steps!r}")
        return int(steps)
    if hasattr(source, "__len__"):
        return len(source)
    raise ValueError(
        f"{what} is required when the data is a generator or iterator (it has no length). Received: {what}=None "
        f"for a {type(source).__name__}"
    )


def source_items(source, steps):
    """Up to ``steps`` items of a batch source: by index from a dataset object, else from its iterator."""
    if hasattr(source, "__getitem__"):
        return (source[i] for i in range(steps))
    return (item for _, item in zip(range(steps), source))


def unpack_batch(item, what=""):
    """``(x, y, sample_weight)`` of one batch from a source: a tuple ``(x, y)`` or ``(x, y, sample_weight)``."""
    if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
        raise ValueError(
            f"A {what}data source must yield (x, y) or (x, y, sample_weight) batches. Received: "
            f"{type(item).__name__}{' of length ' + str(len(item)) if isinstance(item, (tuple, list)) else ''}"
        )
    return item[0], item[1], item[2] if len(item) == 3 else None


def check_finite(a, what, dtype=None):
    """ValueError naming the first NaN/inf of a float array, or (with ``dtype``) the first value that the cast
    to the model's dtype would turn into an infinity (``1e39`` in a float32 model)."""
    if a is None or a.dtype.kind != "f" or a.size == 0:
        return
    lo, hi = a.min(), a.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = np.argwhere(~np.isfinite(a))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{what} contains NaN or infinite values, which would make the loss NaN: clean them before training "
            f"(e.g. drop the rows or use np.nan_to_num). Received: {what}[{', '.join(map(str, where))}]={a[where]}"
        )
    if dtype is None or np.dtype(dtype).itemsize >= a.dtype.itemsize:
        return
    top = np.finfo(dtype).max
    if lo < -top or hi > top:
        where = tuple(int(i) for i in np.argwhere(np.abs(a) > top)[0])
        raise ValueError(
            f"{what} holds values beyond the range of the model's dtype {np.dtype(dtype).name} (|value| <= {top:.4g}), "
            f"which would become infinite and make every weight NaN: rescale the data (e.g. with "
            f"ferronet.preprocessing.StandardScaler). Received: {what}[{', '.join(map(str, where))}]={a[where]}"
        )


def check_lengths(**arrays):
    """ValueError unless the arrays hold the same number of samples, and at least one."""
    sizes = {k: len(v) for k, v in arrays.items() if v is not None}
    if sizes and all(n == 0 for n in sizes.values()):
        raise ValueError(
            "The data is empty: training or evaluating needs at least one sample. Received: "
            + ", ".join(f"{k} with 0 samples" for k in sizes)
        )
    if len(set(sizes.values())) > 1:
        raise ValueError(
            "All arrays must have the same number of samples. Received: "
            + ", ".join(f"{k} with {n} samples" for k, n in sizes.items())
        )


def _class_ids_check(y, n_classes, loss_name, what):
    if y.dtype.kind == "f":
        if np.any(y != np.floor(y)):
            i = int(np.flatnonzero(y.reshape(-1) != np.floor(y.reshape(-1)))[0])
            raise ValueError(
                f"{loss_name} expects integer class ids in {what}. Received: {what} value {y.reshape(-1)[i]!r} "
                f"at index {i}"
            )
    if y.size == 0:
        return
    lo, hi = y.min(), y.max()
    if lo < 0 or hi >= n_classes:
        flat = y.reshape(-1)
        i = int(np.flatnonzero((flat < 0) | (flat >= n_classes))[0])
        raise ValueError(
            f"{loss_name} expects class ids in [0, {n_classes}) because the model has {n_classes} outputs. "
            f"Received: class id {flat[i]:g} in {what} (sample {i})"
        )


def prepare_targets(loss, y, out_shape, dtype, what="y"):
    """Check ``y`` against the loss and the model's output shape; return the array ``fit`` trains on.

    Args:
        loss: the compiled ``Loss``.
        y: labels/targets array.
        out_shape: model output shape (batch axis None).
        dtype: the model's float dtype.
        what: name used in messages (``"y"``, ``"validation y"``).

    Returns:
        ``(targets, kind)``: targets reshaped as the loss needs them (class ids
        ``(n,)`` or an array shaped like the outputs), in their original
        dtype; ``kind`` is ``"ids"`` or ``"dense"``, telling which dtype the
        feeder converts to.
    """
    name = loss.name
    c = out_shape[-1]
    want = tuple(out_shape[1:])
    labels = loss._labels
    if labels == "ids_or_onehot":
        labels = "onehot" if y.ndim == len(out_shape) and y.shape[1:] == want and c > 1 else "sparse"
    if labels == "sparse":
        ids = y
        if y.ndim == len(out_shape) and y.shape[-1] == 1 and c != 1:
            ids = y.reshape(y.shape[:-1])
        if ids.shape[1:] != want[:-1]:
            hint = ""
            if y.shape[1:] == want:
                hint = " (y looks one-hot: use categorical_crossentropy, or pass class ids)"
            raise ValueError(
                f"{name} expects one class id per sample, y of shape (n,) for outputs {fmt_shape(out_shape)}"
                f"{hint}. Received: {what}.shape={y.shape}"
            )
        _class_ids_check(ids, c, name, what)
        return ids, "ids"
    if y.shape[1:] != want:
        if y.ndim == len(out_shape) - 1 and want[-1] == 1 and y.shape[1:] == want[:-1]:
            y = y.reshape(y.shape + (1,))
        elif labels == "onehot" and (y.ndim == 1 or y.shape[1:] == want[:-1] + (1,)):
            raise ValueError(
                f"{name} expects one-hot labels of width {c} (the model has {c} outputs); these look like class ids: "
                f"use sparse_categorical_crossentropy or ferronet.utils.to_categorical(y, {c}). "
                f"Received: {what}.shape={y.shape}"
            )
        else:
            kind = f"one-hot labels of width {c}," if labels == "onehot" else "targets"
            raise ValueError(
                f"{name} expects {kind} shaped like the model's outputs {fmt_shape(out_shape)}. "
                f"Received: {what}.shape={y.shape}"
            )
    if labels == "binary" and y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"{name} expects targets in [0, 1]. Received: values from {y.min():g} to {y.max():g} in {what}"
        )
    if labels == "onehot" and y.size and y.min() < 0:
        raise ValueError(f"{name} expects one-hot (or probability) labels >= 0. Received: {y.min():g} in {what}")
    return y, "dense"


def class_ids_of(y):
    """Class ids for ``class_weight``: argmax of one-hot rows, else the rounded values."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        return np.argmax(y.reshape(len(y), -1), axis=-1)
    return np.rint(y.reshape(len(y), -1)[:, 0]).astype(np.int64)


def _class_weight_table(class_weight):
    """``{class id: weight}`` checked: int keys >= 0, finite weights >= 0."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class id: weight}}. Received: class_weight={class_weight!r}")
    table = {}
    for k, w in class_weight.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(
                f"class_weight keys must be class ids (ints >= 0). Received: key {k!r} in class_weight={class_weight!r}"
            )
        try:
            w = float(w)
        except (TypeError, ValueError):
            w = float("nan")
        if not (np.isfinite(w) and w >= 0):
            raise ValueError(
                f"class_weight values must be finite numbers >= 0. Received: class_weight[{k!r}]={class_weight[k]!r}"
            )
        table[int(k)] = w
    return table


def class_weight_to_sample_weight(y, class_weight, dtype):
    """Per-sample weights from a ``{class id: weight}`` dict (missing classes weigh 1, as in Keras)."""
    weights = _class_weight_table(class_weight)
    ids = class_ids_of(y)
    top = max([int(ids.max()) if ids.size else 0] + list(weights)) + 1
    table = np.ones(top, dtype=dtype)
    for k, w in weights.items():
        table[k] = w
    return table[np.clip(ids, 0, top - 1)]


class Feeder:
    """Batches of one array, gathered and converted into reused buffers.

    ``batch(start, stop, idx)`` returns rows ``start:stop`` (or rows ``idx``
    when shuffling) with the model's dtype. Slices of a matching, contiguous
    array are returned as views; otherwise rows are gathered with
    ``np.take(..., out=)`` and cast with ``np.copyto`` into buffers kept per
    batch length (at most two: the full batch and the last partial one), so
    a warm epoch allocates nothing.
    """

    def __init__(self, array, dtype):
        self.a = array
        self.dtype = np.dtype(dtype)
        self._same = array.dtype == self.dtype
        self._contig = array.flags.c_contiguous
        self._bufs = {}

    def _buffers(self, n):
        b = self._bufs.get(n)
        if b is None:
            if len(self._bufs) >= 2:
                del self._bufs[min(self._bufs)]  # keep the full batch, replace the partial one
            tail = self.a.shape[1:]
            raw = np.empty((n,) + tail, self.a.dtype)
            b = self._bufs[n] = (raw, raw if self._same else np.empty((n,) + tail, self.dtype))
        return b

    def batch(self, start, stop, idx=None):
        if idx is None:
            view = self.a[start:stop]
            if self._same and self._contig:
                return view
            raw, out = self._buffers(stop - start)
            np.copyto(out, view, casting="unsafe")
            return out
        raw, out = self._buffers(len(idx))
        np.take(self.a, idx, axis=0, out=raw, mode="clip")
        if out is not raw:
            np.copyto(out, raw, casting="unsafe")
        return out


def describe_tail_classes(loss, y_val):
    """The single class of a validation tail, or None when it has several (classification losses only)."""
    if loss._labels == "dense" or y_val is None or len(y_val) == 0:
        return None
    ids = class_ids_of(y_val) if not (loss._labels == "sparse" or y_val.ndim == 1) else np.rint(
        y_val.reshape(len(y_val), -1)[:, 0]).astype(np.int64)
    first = ids[0]
    return int(first) if np.all(ids == first) else None


def shape_mismatch(model_name, want, got):
    return ShapeError(
        f'Sequential model "{model_name}" expects inputs of shape {fmt_shape(want)}. Received: x.shape={tuple(got)}'
    )
