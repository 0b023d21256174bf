"""Argument normalisation and output-size rules shared by the convolution and pooling layers."""

from __future__ import annotations

import numpy as np


def int_pair(value, name, minimum=1):
    """An int or a pair of ints as a tuple of two ints of at least ``minimum`` (ValueError otherwise)."""
    original = value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
        ok = len(pair) == 2 and all(p >= minimum for p in pair) and all(
            not isinstance(v, bool) and float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be a {kind} int or a tuple of 2 {kind} ints. Received: {name}={original!r}")
    return pair


def padding_arg(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'. Received: padding={padding!r}")
    return padding.lower()


def data_format_arg(data_format, rank=2):
    """``"channels_last"``, the one layout of the convolution and pooling layers over ``rank`` spatial axes."""
    if data_format not in (None, "channels_last"):
        layout, perm = ("(batch, steps, channels)", "(0, 2, 1)") if rank == 1 else ("NHWC", "(0, 2, 3, 1)")
        raise ValueError(
            f"ferronet works on channels_last {layout} data only; transpose channels_first data with "
            f"x.transpose{perm}. Received: data_format={data_format!r}"
        )
    return "channels_last"


def out_length(size, window, stride, padding, dilation=1):
    """Output length along one spatial axis (Keras/TensorFlow rules); None stays None."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    span = (window - 1) * dilation + 1
    return (size - span) // stride + 1 if size >= span else 0
