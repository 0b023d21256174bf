"""2-D convolution on NHWC images with HWIO kernels (Keras layouts)."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from .. import _core
from ..errors import ArgumentError
from ._util import _common, _contiguous, _int_pair, _precision

__all__ = ["conv2d", "conv2d_backward"]

IntPair = Union[int, Tuple[int, int]]


def _padding(p: str) -> str:
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ArgumentError(f"padding must be 'valid' or 'same'. Received: padding={p!r}")
    return p.lower()


def conv2d(
    x,
    w,
    b=None,
    strides: IntPair = 1,
    padding: str = "valid",
    dilation_rate: IntPair = 1,
    out: Optional[np.ndarray] = None,
    activation: Optional[str] = None,
    precision: str = "float32",
) -> np.ndarray:
    """2-D cross-correlation, as ``keras.layers.Conv2D`` computes it.

    Args:
        x: ``(batch, height, width, channels)`` input.
        w: ``(kh, kw, channels, filters)`` kernel.
        b: optional ``(filters,)`` bias.
        strides: int or ``(sh, sw)``.
        padding: ``"valid"`` (no padding) or ``"same"`` (output size
            ``ceil(input / stride)``, extra padding row/column at the end, as
            TensorFlow pads).
        dilation_rate: int or ``(dh, dw)``.
        out: optional C-contiguous output array to write into.
        activation: optional ``"relu"``, ``"sigmoid"``, ``"tanh"``,
            ``"softplus"``, ``"silu"`` or ``"gelu"``, applied to each block
            of output rows as soon as it is computed (one pass over the
            output instead of two). The pre-activation values are not kept.
        precision: ``"float32"`` or ``"bfloat16"`` (float32 operands only):
            input and kernel rounded to bfloat16, products summed in float32
            (see :func:`ferronet.ops.matmul`); the bias is added in float32.

    Returns:
        ``(batch, out_height, out_width, filters)`` array.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> w = np.ones((2, 2, 1, 1), dtype=np.float32)
        >>> conv2d(x, w)[0, :, :, 0]
        array([[10., 14., 18.],
               [26., 30., 34.],
               [42., 46., 50.]], dtype=float32)
    """
    _precision("conv2d", precision, x=x, kernel=w, bias=b)
    if b is None:
        x, w = _common("conv2d", x=x, kernel=w)
    else:
        x, w, b = _common("conv2d", x=x, kernel=w, bias=b)
        b = _contiguous(b)
    return _core.conv2d(
        _contiguous(x), _contiguous(w), b, _int_pair(strides, "strides", "conv2d"), _padding(padding),
        _int_pair(dilation_rate, "dilation_rate", "conv2d"), out, activation, precision,
    )


def conv2d_backward(
    dy,
    x,
    w,
    strides: IntPair = 1,
    padding: str = "valid",
    dilation_rate: IntPair = 1,
    need_dx: bool = True,
    need_dw: bool = True,
    need_db: bool = True,
    dx_out: Optional[np.ndarray] = None,
    dw_out: Optional[np.ndarray] = None,
    db_out: Optional[np.ndarray] = None,
    precision: str = "float32",
):
    """Gradients of :func:`conv2d` with respect to its input, kernel and bias.

    Args:
        dy: gradient of the loss with respect to the conv2d output.
        x, w, strides, padding, dilation_rate: as given to :func:`conv2d`.
        need_dx, need_dw, need_db: skip the gradients not needed (a first
            layer needs no dx, a frozen layer no dw/db); skipped ones are None.
        dx_out, dw_out, db_out: optional arrays to write the gradients into.
        precision: ``"float32"`` or ``"bfloat16"`` (float32 operands only):
            ``dx`` and ``dw`` from bfloat16-rounded ``dy``, ``w`` and ``x``
            with float32 sums; ``db`` always sums float32 ``dy``.

    Returns:
        ``(dx, dw, db)`` shaped like ``x``, ``w`` and ``(filters,)``.

    Example:
        >>> x = np.ones((1, 4, 4, 1), dtype=np.float32)
        >>> w = np.ones((3, 3, 1, 2), dtype=np.float32)
        >>> dx, dw, db = conv2d_backward(np.ones((1, 2, 2, 2), dtype=np.float32), x, w)
        >>> dx.shape, dw.shape, db
        ((1, 4, 4, 1), (3, 3, 1, 2), array([4., 4.], dtype=float32))
    """
    _precision("conv2d_backward", precision, dy=dy, x=x, kernel=w)
    dy, x, w = _common("conv2d_backward", dy=dy, x=x, kernel=w)
    return _core.conv2d_backward(
        _contiguous(dy), _contiguous(x), _contiguous(w), _int_pair(strides, "strides", "conv2d_backward"),
        _padding(padding), _int_pair(dilation_rate, "dilation_rate", "conv2d_backward"),
        need_dx, need_dw, need_db, dx_out, dw_out, db_out, precision,
    )
