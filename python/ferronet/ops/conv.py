"""2-D convolution on NHWC images with HWIO kernels (Keras layouts)."""

from __future__ import annotations

import operator
from typing import Optional, Tuple, Union

import numpy as np

from .. import _core
from ..errors import ArgumentError
from ._util import _common, _contiguous, _int_pair, _precision

__all__ = ["conv2d", "conv2d_backward", "conv_transpose", "deconv_length"]

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


def _output_padding(v, strides, op):
    pair = (v, v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v
    try:
        a, b = (int(operator.index(t)) for t in pair)
    except (TypeError, ValueError):
        raise ArgumentError(f"{op}: output_padding must be None, an int or a pair of ints. "
                            f"Received: output_padding={v!r}") from None
    if not (0 <= a < strides[0] and 0 <= b < strides[1]):
        raise ArgumentError(f"{op}: output_padding must be at least 0 and less than the stride {strides}. "
                            f"Received: output_padding={v!r}")
    return a, b


def deconv_length(n, k, padding: str, output_padding, stride: int, dilation: int = 1):
    """Keras' output length of a transposed convolution along one axis (None for an unknown length).

    Args:
        n: input length.
        k: kernel size.
        padding: ``"valid"`` or ``"same"``.
        output_padding: None (Keras' default sizes) or the extra rows added at the end.
        stride, dilation: as given to the layer.

    Example:
        >>> deconv_length(7, 3, "same", None, 2), deconv_length(7, 3, "valid", None, 2)
        (14, 15)
    """
    if n is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    if output_padding is None:
        return n * stride + max(k - stride, 0) if padding == "valid" else n * stride
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * stride + k - 2 * pad + output_padding


def conv_transpose(
    inputs,
    kernel,
    strides: IntPair = 1,
    padding: str = "valid",
    output_padding=None,
    data_format=None,
    dilation_rate: IntPair = 1,
    bias=None,
    out: Optional[np.ndarray] = None,
    precision: str = "float32",
) -> np.ndarray:
    """Transposed 2-D convolution, as ``keras.ops.conv_transpose`` (and ``Conv2DTranspose``) computes it.

    It is the gradient of :func:`conv2d` with respect to its input: each input
    pixel spreads its channels through the kernel over a ``strides``-spaced
    window of the (larger) output.

    Args:
        inputs: ``(batch, height, width, in_channels)`` images.
        kernel: ``(kh, kw, out_channels, in_channels)`` kernel (Keras' layout).
        strides: int or ``(sh, sw)``: how much larger the output is.
        padding: ``"valid"`` or ``"same"`` (output ``input * stride``).
        output_padding: None, an int or a pair: extra output rows/columns (Keras' meaning).
        data_format: ``"channels_last"`` or None.
        dilation_rate: int or ``(dh, dw)``.
        bias: optional ``(out_channels,)`` bias, added in the same pass.
        out: optional C-contiguous output array to write into.
        precision: ``"float32"`` or ``"bfloat16"``, as in :func:`conv2d`.

    Returns:
        ``(batch, out_height, out_width, out_channels)`` array.

    Example:
        >>> x = np.ones((1, 2, 2, 1), np.float32)
        >>> conv_transpose(x, np.ones((2, 2, 1, 1), np.float32), strides=2)[0, :, :, 0]
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.],
               [1., 1., 1., 1.],
               [1., 1., 1., 1.]], dtype=float32)
    """
    op = "conv_transpose"
    if data_format not in (None, "channels_last"):
        raise ArgumentError(f"{op} takes channels_last (NHWC) images. Received: data_format={data_format!r}")
    _precision(op, precision, inputs=inputs, kernel=kernel, bias=bias)
    if bias is None:
        inputs, kernel = _common(op, inputs=inputs, kernel=kernel)
    else:
        inputs, kernel, bias = _common(op, inputs=inputs, kernel=kernel, bias=bias)
        bias = _contiguous(bias)
    st, dil, pad = _int_pair(strides, "strides", op), _int_pair(dilation_rate, "dilation_rate", op), _padding(padding)
    op_pad = (None, None) if output_padding is None else _output_padding(output_padding, st, op)
    if inputs.ndim != 4 or kernel.ndim != 4:
        raise ArgumentError(f"{op} takes (batch, height, width, channels) inputs and a (kh, kw, out, in) kernel. "
                            f"Received: inputs.shape={inputs.shape}, kernel.shape={kernel.shape}")
    size = tuple(deconv_length(inputs.shape[1 + a], kernel.shape[a], pad, op_pad[a], st[a], dil[a]) for a in (0, 1))
    return _core.conv2d_transpose(_contiguous(inputs), _contiguous(kernel), bias, size, st, pad, dil, out, precision)
