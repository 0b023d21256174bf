"""Argument handling shared by the ops modules."""

from __future__ import annotations

import operator

import numpy as np

from ..errors import ArgumentError, DTypeError

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_FLOATS = (_F32, _F64)


def _floats(x, name: str, op: str) -> np.ndarray:
    """``x`` as a float32/float64 ndarray, or a DTypeError naming its dtype."""
    if type(x) is not _ndarray:
        x = np.asarray(x)
        if x.dtype.kind in "iub":
            x = x.astype(np.float64)
    if x.dtype not in _FLOATS:
        if x.dtype.kind == "f" and x.dtype.newbyteorder("=") in _FLOATS:
            return x.astype(x.dtype.newbyteorder("="))  # byte-swapped: a native copy, as NumPy reads it
        raise DTypeError(
            f"{op}: {name} must be a float32 or float64 array. Received: {name}.dtype={x.dtype}"
        )
    return x


def _common(op: str, **arrays) -> list:
    """Float arrays promoted to one dtype (float64 if any operand is)."""
    xs = [_floats(v, k, op) for k, v in arrays.items()]
    dt = _F64 if any(x.dtype == _F64 for x in xs) else _F32
    return [x if x.dtype == dt else x.astype(dt) for x in xs]


def _contiguous(x: np.ndarray) -> np.ndarray:
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)




def _precision(op: str, precision: str, **arrays) -> None:
    """Check a ``precision=`` argument: ``"float32"`` (products in the
    operands' own type) or ``"bfloat16"``, which needs float32 operands."""
    if precision == "float32":
        return
    if precision != "bfloat16":
        raise ArgumentError(f"{op}: precision must be 'float32' or 'bfloat16'. Received: precision={precision!r}")
    for name, x in arrays.items():
        if x is None:
            continue
        dt = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
        if dt != _F32:
            raise DTypeError(f"{op}: precision='bfloat16' needs float32 inputs. Received: {name}.dtype={dt}")
_INT_MAX = 2**63 - 1


def _int(v, name: str, op: str, lo: int = 1, hi: int = _INT_MAX) -> int:
    """``v`` as an int in ``[lo, hi]``, or an ArgumentError naming it (bools are refused)."""
    try:
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        i = operator.index(v)
    except TypeError:
        raise ArgumentError(f"{op}: {name} must be an int. Received: {name}={v!r}") from None
    if not lo <= i <= hi:
        raise ArgumentError(f"{op}: {name} must be between {lo} and {hi}. Received: {name}={i}")
    return i


def _int_pair(v, name: str, op: str) -> tuple:
    """An int or a pair of ints as a pair of positive ints (window sizes, strides, dilations)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        v = (v, v)
    try:
        a, b = v
    except (TypeError, ValueError):
        raise ArgumentError(f"{op}: {name} must be an int or a pair of ints. Received: {name}={v!r}") from None
    try:
        a, b = operator.index(a), operator.index(b)
    except TypeError:
        raise ArgumentError(f"{op}: {name} must be an int or a pair of ints. Received: {name}={v!r}") from None
    if a < 1 or b < 1:
        raise ArgumentError(f"{op}: {name} must be positive. Received: {name}={v!r}")
    if a > _INT_MAX or b > _INT_MAX:
        raise ArgumentError(f"{op}: {name} must be at most 2**63 - 1. Received: {name}={v!r}")
    return a, b


def _out(out, op: str, name: str = "out"):
    """``out`` if it is None or an ndarray, else an ArgumentError (results are written into arrays only)."""
    if out is None or isinstance(out, np.ndarray):
        return out
    raise ArgumentError(f"{op}: {name} must be a NumPy array or None. Received: {name} of type {type(out).__name__}")
