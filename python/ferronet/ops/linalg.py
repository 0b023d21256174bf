"""Matrix products: ``matmul`` (np.matmul semantics) and ``linear`` (dense layers)."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import _core

__all__ = ["matmul", "linear", "linear_backward"]

from ..errors import ShapeError
from ._util import _F32, _F64, _FLOATS, _common, _contiguous, _ndarray, _out, _precision


def matmul(a, b, out: Optional[np.ndarray] = None, precision: str = "float32"):
    """Matrix product with the exact semantics of ``np.matmul``.

    1-D operands are promoted as NumPy does, leading dimensions broadcast,
    and any strides (transposed views, negative steps) are read in place.
    float32/float64 operands run in the Rust GEMM; other dtypes (integers,
    complex, object) are computed by NumPy, so results always match.

    Args:
        a, b: array-likes.
        out: optional array to write the result into (NumPy rules).
        precision: ``"float32"`` (default) multiplies in the operands' own
            type. ``"bfloat16"`` (float32 operands only) rounds both operands
            to bfloat16 (to nearest, ties to even) and sums the products in
            float32: on AMX tiles when the CPU has them (:func:`ferronet.amx`),
            else with the float32 kernels on the rounded values.

    Returns:
        The product, of NumPy's result dtype and shape.

    Example:
        >>> a = np.ones((2, 3), np.float32) / 3
        >>> float(matmul(a, a.T, precision="bfloat16")[0, 0])  # 3 · bf16(1/3)²
        0.3346366882324219
    """
    if type(a) is _ndarray and type(b) is _ndarray:
        dt = a.dtype
        if (dt is _F32 or dt is _F64) and b.dtype is dt:
            return _core.matmul(a, b, out, precision)
    if precision != "float32":
        _precision("matmul", precision, a=a, b=b)
        return _core.matmul(np.asarray(a), np.asarray(b), out, precision)
    return _matmul_general(a, b, out)


def _matmul_general(a, b, out):
    if isinstance(a, np.matrix) or isinstance(b, np.matrix):
        return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)
    a, b = np.asarray(a), np.asarray(b)
    rt = np.result_type(a, b)
    if rt in _FLOATS and a.ndim and b.ndim and (out is None or (type(out) is _ndarray and out.dtype == rt)):
        return _core.matmul(a.astype(rt, copy=False), b.astype(rt, copy=False), out)
    return np.matmul(a, b) if out is None else np.matmul(a, b, out=out)


def linear(x, w, b=None, out: Optional[np.ndarray] = None, precision: str = "float32") -> np.ndarray:
    """``x @ w + b`` in one pass (the dense-layer forward).

    Args:
        x: ``(..., in)`` inputs.
        w: ``(in, units)`` kernel.
        b: optional ``(units,)`` bias.
        out: optional ``(..., units)`` array to write into.
        precision: ``"float32"`` or ``"bfloat16"`` (float32 operands only):
            ``x @ w`` with both rounded to bfloat16 and the products summed
            in float32 (see :func:`matmul`); the bias is added in float32.

    Returns:
        ``(..., units)`` array of the operands' common float dtype.

    Example:
        >>> x = np.array([[1.0, 2.0]], dtype=np.float32)
        >>> w = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=np.float32)
        >>> linear(x, w, b=np.array([0.5, 0.5, 0.5], dtype=np.float32))
        array([[1.5, 2.5, 3.5]], dtype=float32)
    """
    _precision("linear", precision, x=x, kernel=w, bias=b)
    if b is None:
        x, w = _common("linear", x=x, kernel=w)
    else:
        x, w, b = _common("linear", x=x, kernel=w, bias=b)
        b = _contiguous(b)
    out = _out(out, "linear")
    if x.ndim == 0:
        raise ShapeError(f"linear: x must have at least one axis (..., in). Received: x.shape={x.shape}")
    if w.ndim != 2:
        raise ShapeError(f"linear: kernel must be 2-D (in, units). Received: kernel.shape={w.shape}")
    lead = x.shape[:-1]
    # (rows, in) explicitly: reshape(-1, 0) is ambiguous for NumPy when in == 0
    x2 = x.reshape(math.prod(lead), x.shape[-1]) if x.ndim != 2 else x
    o2 = None
    if out is not None:
        if out.ndim == 0:
            raise ShapeError(f"linear: out must have the result's shape {lead + (w.shape[-1],)}. Received: out.shape=()")
        o2 = out.reshape(math.prod(out.shape[:-1]), out.shape[-1]) if out.ndim != 2 else out
        if o2.base is not out and o2 is not out and not np.shares_memory(o2, out):
            raise ValueError("linear: out must be reshapeable to 2-D without a copy")
    r = _core.linear(x2, w, b, o2, precision)
    return out if out is not None else r.reshape(*lead, w.shape[-1])


def linear_backward(
    dy,
    x,
    w,
    need_dx: bool = True,
    need_dw: bool = True,
    need_db: bool = True,
    dx_out: Optional[np.ndarray] = None,
    dw_out: Optional[np.ndarray] = None,
    db_out: Optional[np.ndarray] = None,
    precision: str = "float32",
    dx_accumulate: bool = False,
):
    """Gradients of :func:`linear`: ``dx = dy @ w.T``, ``dw = x.T @ dy``, ``db = dy.sum(0)``.

    Args:
        dy: ``(rows, units)`` gradient of the loss with respect to the output.
        x: ``(rows, in)`` input given to :func:`linear`.
        w: ``(in, units)`` kernel.
        need_dx, need_dw, need_db: skip gradients that are not needed
            (a first layer needs no dx, a frozen layer no dw/db).
        dx_out, dw_out, db_out: optional arrays to write the gradients into.
        precision: ``"float32"`` or ``"bfloat16"`` (float32 operands only):
            ``dx`` and ``dw`` from bfloat16-rounded operands with float32
            sums (see :func:`matmul`); ``db`` always sums float32 ``dy``.
        dx_accumulate: add ``dy @ w.T`` to what ``dx_out`` holds, inside the product
            (a gradient summed over several uses of ``x`` without a separate pass).

    Returns:
        ``(dx, dw, db)``; skipped gradients are None.

    Example:
        >>> x = np.ones((4, 2), dtype=np.float32)
        >>> w = np.ones((2, 3), dtype=np.float32)
        >>> dx, dw, db = linear_backward(np.ones((4, 3), dtype=np.float32), x, w)
        >>> dx.shape, dw.shape, db
        ((4, 2), (2, 3), array([4., 4., 4.], dtype=float32))
    """
    _precision("linear_backward", precision, dy=dy, x=x, kernel=w)
    dy, x, w = _common("linear_backward", dy=dy, x=x, kernel=w)
    return _core.linear_backward(dy, x, w, need_dx, need_dw, need_db, dx_out, dw_out, db_out, precision, dx_accumulate)
