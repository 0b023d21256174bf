"""Pooling over NHWC images: max, average and global pools, each with its gradient.

Window geometry follows ``keras.layers.MaxPooling2D``/``AveragePooling2D``:
``strides=None`` means non-overlapping windows (``strides = pool_size``);
``"valid"`` keeps only windows that fit, ``"same"`` gives ``ceil(size / stride)``
outputs per axis with the extra padding cell at the end, as TensorFlow pads.
Padded cells never enter a window: max pooling ignores them and average
pooling divides by the number of valid cells.
"""

from __future__ import annotations

import operator
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..errors import ArgumentError
from ._util import _INT_MAX, _common, _contiguous, _floats, _int_pair

__all__ = [
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "global_avg_pool2d",
    "global_avg_pool2d_backward",
    "global_max_pool2d",
    "global_max_pool2d_backward",
]

IntPair = Union[int, Tuple[int, int]]


def _window(op: str, pool_size, strides, padding) -> tuple:
    size = _int_pair(pool_size, "pool_size", op)
    step = size if strides is None else _int_pair(strides, "strides", op)
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ArgumentError(f"{op}: padding must be 'valid' or 'same'. Received: padding={padding!r}")
    return size, step, padding.lower()


def _shape(x, name: str, op: str) -> Tuple[int, ...]:
    """The shape of an array, or a sequence of ints taken as one."""
    if isinstance(x, np.ndarray):
        return x.shape
    try:
        shape = tuple(operator.index(d) for d in x)
    except TypeError:
        raise ArgumentError(f"{op}: {name} must be an array or a shape tuple. Received: {name}={x!r}") from None
    if any(not 0 <= d <= _INT_MAX for d in shape):
        raise ArgumentError(f"{op}: {name} must hold sizes between 0 and 2**63 - 1 (none negative). Received: {name}={shape}")
    return shape


def max_pool2d(
    x,
    pool_size: IntPair = 2,
    strides: Optional[IntPair] = None,
    padding: str = "valid",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Max pooling, as ``keras.layers.MaxPooling2D`` computes it.

    Args:
        x: ``(batch, height, width, channels)`` input.
        pool_size: int or ``(ph, pw)`` window size.
        strides: int or ``(sh, sw)``; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"``.
        out: optional C-contiguous output array to write into.

    Returns:
        ``(batch, out_height, out_width, channels)`` array. A NaN in a window
        makes its maximum NaN.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> max_pool2d(x)[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    op = "max_pool2d"
    size, step, pad = _window(op, pool_size, strides, padding)
    return _core.max_pool2d(_contiguous(_floats(x, "x", op)), size, step, pad, out)


def max_pool2d_backward(
    dy,
    x,
    pool_size: IntPair = 2,
    strides: Optional[IntPair] = None,
    padding: str = "valid",
    out: Optional[np.ndarray] = None,
    through_relu: bool = False,
) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x``.

    Each output gradient goes to the first maximum of its window in row-major
    order (a tie sends nothing to the later equal cells); where windows
    overlap, the contributions add up.

    Args:
        dy: gradient of the pooled output.
        x: the forward input.
        pool_size, strides, padding: as given to :func:`max_pool2d`.
        out: optional C-contiguous array (shape of ``x``) to write into.
        through_relu: ``x`` is the output of a ReLU; return the gradient with
            respect to the ReLU's input instead (a window whose maximum is not
            positive passes nothing), sparing ``relu_backward``'s pass over
            the unpooled tensor.

    Returns:
        ``dx``, shaped like ``x``.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> max_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), x)[0, :, :, 0]
        array([[0., 0., 0., 0.],
               [0., 1., 0., 1.],
               [0., 0., 0., 0.],
               [0., 1., 0., 1.]], dtype=float32)
    """
    op = "max_pool2d_backward"
    size, step, pad = _window(op, pool_size, strides, padding)
    dy, x = _common(op, dy=dy, x=x)
    return _core.max_pool2d_backward(_contiguous(dy), _contiguous(x), size, step, pad, out, bool(through_relu))


def avg_pool2d(
    x,
    pool_size: IntPair = 2,
    strides: Optional[IntPair] = None,
    padding: str = "valid",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Average pooling, as ``keras.layers.AveragePooling2D`` computes it.

    With ``padding="same"`` each window averages only its cells inside the
    image (padding is not counted).

    Args:
        x: ``(batch, height, width, channels)`` input.
        pool_size: int or ``(ph, pw)`` window size.
        strides: int or ``(sh, sw)``; ``None`` means ``pool_size``.
        padding: ``"valid"`` or ``"same"``.
        out: optional C-contiguous output array to write into.

    Returns:
        ``(batch, out_height, out_width, channels)`` array.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> avg_pool2d(x)[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """
    op = "avg_pool2d"
    size, step, pad = _window(op, pool_size, strides, padding)
    return _core.avg_pool2d(_contiguous(_floats(x, "x", op)), size, step, pad, out)


def avg_pool2d_backward(
    dy,
    x,
    pool_size: IntPair = 2,
    strides: Optional[IntPair] = None,
    padding: str = "valid",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to ``x``.

    Args:
        dy: gradient of the pooled output.
        x: the forward input, or just its shape (only the shape is used).
        pool_size, strides, padding: as given to :func:`avg_pool2d`.
        out: optional C-contiguous array (shape of ``x``) to write into.

    Returns:
        ``dx``: every cell receives ``dy / count`` from each window holding it.

    Example:
        >>> x = np.zeros((1, 4, 4, 1), dtype=np.float32)
        >>> avg_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), x)[0, :2, :2, 0]
        array([[0.25, 0.25],
               [0.25, 0.25]], dtype=float32)
    """
    op = "avg_pool2d_backward"
    size, step, pad = _window(op, pool_size, strides, padding)
    shape = _shape(x, "x", op)
    dy = _floats(dy, "dy", op)
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        dy = dy.astype(np.float64, copy=False)  # promote as the other ops do
    return _core.avg_pool2d_backward(_contiguous(dy), shape, size, step, pad, out)


def global_avg_pool2d(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Mean over height and width, as ``keras.layers.GlobalAveragePooling2D``.

    Args:
        x: ``(batch, height, width, channels)`` input.
        out: optional C-contiguous ``(batch, channels)`` array to write into.

    Returns:
        ``(batch, channels)`` array (NaN where there are no pixels, like ``np.mean``).

    Example:
        >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> global_avg_pool2d(x)
        array([[3., 4.]], dtype=float32)
    """
    return _core.global_avg_pool2d(_contiguous(_floats(x, "x", "global_avg_pool2d")), out)


def global_avg_pool2d_backward(dy, x_shape: Sequence[int], out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of :func:`global_avg_pool2d`: ``dy / (height·width)`` at every pixel.

    Args:
        dy: ``(batch, channels)`` gradient of the pooled output.
        x_shape: shape of the forward input (the input itself also works).
        out: optional C-contiguous array of shape ``x_shape`` to write into.

    Returns:
        ``dx`` of shape ``x_shape``.

    Example:
        >>> global_avg_pool2d_backward(np.ones((1, 1), np.float32), (1, 2, 2, 1))[0, :, :, 0]
        array([[0.25, 0.25],
               [0.25, 0.25]], dtype=float32)
    """
    op = "global_avg_pool2d_backward"
    shape = _shape(x_shape, "x_shape", op)
    return _core.global_avg_pool2d_backward(_contiguous(_floats(dy, "dy", op)), shape, out)


def global_max_pool2d(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Maximum over height and width, as ``keras.layers.GlobalMaxPooling2D``.

    Args:
        x: ``(batch, height, width, channels)`` input.
        out: optional C-contiguous ``(batch, channels)`` array to write into.

    Returns:
        ``(batch, channels)`` array (``-inf`` where there are no pixels).

    Example:
        >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> global_max_pool2d(x)
        array([[6., 7.]], dtype=float32)
    """
    return _core.global_max_pool2d(_contiguous(_floats(x, "x", "global_max_pool2d")), out)


def global_max_pool2d_backward(dy, x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of :func:`global_max_pool2d`: each ``dy[n, c]`` goes to the
    first maximum (row-major) of channel ``c`` in image ``n``.

    Args:
        dy: ``(batch, channels)`` gradient of the pooled output.
        x: the forward input.
        out: optional C-contiguous array (shape of ``x``) to write into.

    Returns:
        ``dx``, shaped like ``x``.

    Example:
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
        >>> global_max_pool2d_backward(np.ones((1, 1), np.float32), x)[0, :, :, 0]
        array([[0., 0.],
               [0., 1.]], dtype=float32)
    """
    op = "global_max_pool2d_backward"
    dy, x = _common(op, dy=dy, x=x)
    return _core.global_max_pool2d_backward(_contiguous(dy), _contiguous(x), out)
