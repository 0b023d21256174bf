"""Argument handling shared by the ops modules."""

from __future__ import annotations

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
        raise DTypeError(
            f"{op}: {name} must be a float32 or float64 array. Received: {name}.dtype={x.dtype}"
        )
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
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
