"""``pad_sequences``: a list of sequences of different lengths as one array, as Keras makes it."""

from __future__ import annotations

import numpy as np

__all__ = ["pad_sequences"]


def _side(name, value):
    if value not in ("pre", "post"):
        raise ValueError(f"{name} must be 'pre' or 'post'. Received: {name}={value!r}")
    return value


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pads (or cuts) every sequence to one length and stacks them, ``(len(sequences), maxlen, ...)``.

    Each sequence is a list or array of steps, a step being a number or an array of one shape for all
    sequences (that shape comes after ``maxlen`` in the result). Sequences shorter than ``maxlen`` are
    filled with ``value``; longer ones lose steps. With an ``Embedding(mask_zero=True)`` or ``Masking``
    after it, the padding steps are skipped by the recurrent layers.

    Args:
        sequences: a list (or other iterable) of sequences, e.g. what ``datasets.imdb.load_data`` returns.
        maxlen: the length of the result; the longest sequence's length by default.
        dtype: the result's dtype (``"int32"``, as word indices are; a string dtype or ``object`` for text).
        padding: ``"pre"`` fills before each sequence, ``"post"`` after it.
        truncating: ``"pre"`` drops the first steps of a longer sequence (keeps its last ``maxlen``),
            ``"post"`` its last ones.
        value: the fill value.

    Returns:
        A NumPy array ``(len(sequences), maxlen) + step_shape`` of ``dtype``.

    Raises:
        ValueError: ``sequences`` holds something that is not a sequence, steps of different shapes, a
            negative ``maxlen``, a ``padding`` or ``truncating`` other than ``"pre"``/``"post"``, or a
            text ``value`` for a numeric ``dtype``.

    Example:
        >>> from ferronet.utils import pad_sequences
        >>> pad_sequences([[1, 2, 3], [4, 5], [6]])
        array([[1, 2, 3],
               [0, 4, 5],
               [0, 0, 6]], dtype=int32)
        >>> pad_sequences([[1, 2, 3], [4, 5]], maxlen=2, padding="post", truncating="post")
        array([[1, 2],
               [4, 5]], dtype=int32)
    """
    padding, truncating = _side("padding", padding), _side("truncating", truncating)
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"sequences must be a list of iterables. Received: {type(sequences).__name__}")
    steps, lengths = [], []
    for i, seq in enumerate(sequences):
        if not hasattr(seq, "__len__"):
            raise ValueError(f"sequences must be a list of iterables; the sequence at position {i} is "
                             f"{type(seq).__name__}. Received: {seq!r}")
        steps.append(seq)
        lengths.append(len(seq))
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"maxlen must be None or a non-negative integer. Received: maxlen={maxlen!r}")
    maxlen = int(maxlen)
    step_shape = ()
    for seq in steps:
        if len(seq):
            step_shape = np.shape(np.asarray(seq)[0])
            break
    dt = np.dtype(dtype)
    is_text = np.issubdtype(dt, np.str_) or dt == object
    if isinstance(value, str) and not is_text:
        raise ValueError(f"dtype {dt} cannot hold the text fill value. Received: dtype={dtype!r}, value={value!r}; "
                         "pass dtype=object (or a string dtype) to pad text")
    out = np.full((len(steps), maxlen) + step_shape, value, dtype=dt)
    for i, seq in enumerate(steps):
        if not len(seq) or not maxlen:
            continue
        kept = np.asarray(seq)
        kept = kept[-maxlen:] if truncating == "pre" else kept[:maxlen]
        if kept.shape[1:] != step_shape:
            raise ValueError(f"The steps of the sequence at position {i} have shape {kept.shape[1:]}, the first "
                             f"sequence's have {step_shape}: every step must have one shape")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
