"""Neural-network primitives: fused dense/convolution/pooling, cross-entropies, and the activations.

The activations live in :mod:`.activation_ops` and are re-exported here.
Each op has a fast VJP calling the Rust backward kernel on arrays (used when
nothing records the gradient computation) and a differentiable twin (used
when a higher derivative is taken). The twin of a fused op is the gradient of
the same op written in elementary differentiable primitives, taken on a nested
tape (see :func:`.activation_ops._twin`); tests check both against each other.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops as _ops
from ..errors import ShapeError
from . import array_ops as A
from . import math_ops as M
from . import reduce_ops as R
from .activation_ops import (  # noqa: F401  (re-exported: tf.nn has them)
    _ACTIVATIONS, _contig, _twin, activation, elu, gelu, leaky_relu, log_softmax, relu, relu6,
    selu, sigmoid, silu, softmax, softplus, softsign, swish, tanh,
)
from .core import Primitive, as_tensor, unwrap
from .symbolic import symbolic_aware

__all__ = [
    "relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "elu", "selu", "leaky_relu", "gelu", "silu", "swish",
    "softmax", "log_softmax", "dense", "conv2d", "max_pool2d", "avg_pool2d", "patches",
    "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits", "l2_normalize", "moments", "dropout", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy",
]


# ------------------------------------------------------------------- dense
def _dense_formula(x, kernel, bias, axes=1):
    if axes == 1 and kernel.ndim == 2:
        y = A.matmul(x, kernel)
    else:
        inner, lead = math.prod(kernel.shape[:axes]), tuple(x.shape[:x.ndim - axes])
        y = A.matmul(A.reshape(x, lead + (inner,)), A.reshape(kernel, (inner, -1)))
        y = A.reshape(y, lead + tuple(kernel.shape[axes:]))
    return y if bias is None else M.add(y, bias)


def _dense_fwd(x, kernel, bias, axes=1):
    x = _contig(x, dtype=kernel.dtype)
    inner = math.prod(kernel.shape[:axes])
    y = _ops.linear(x.reshape(-1, inner), kernel.reshape(inner, -1), None if bias is None else bias.reshape(-1))
    return y.reshape(x.shape[:x.ndim - axes] + kernel.shape[axes:])


def _dense_fast(g, y, x, kernel, bias, axes=1, acc=None):
    inner = math.prod(kernel.shape[:axes])
    x2 = _contig(x, dtype=kernel.dtype).reshape(-1, inner)
    g2 = _contig(g).reshape(x2.shape[0], -1)
    # acc: the gradient x already has from its other uses, owned by the tape; dx is added to
    # it inside the product (see tape._backprop).
    use_acc = acc is not None and acc.dtype == x2.dtype and acc.flags.c_contiguous and acc.size == x2.size
    dx, dw, db = _ops.linear_backward(g2, x2, kernel.reshape(inner, -1), need_db=bias is not None,
                                      dx_out=acc.reshape(x2.shape) if use_acc else None, dx_accumulate=use_acc)
    dx = acc if use_acc else dx.reshape(np.shape(x))
    return dx, dw.reshape(kernel.shape), None if db is None else db.reshape(np.shape(bias))


# The tape may hand the first argument's gradient so far in as `acc`; every gradient returned is a new array.
_dense_fast.takes_acc = True
_dense_fast.fresh = True


_dense = Primitive("dense", _dense_fwd, _twin(_dense_formula), _dense_fast)


def dense(x, kernel, bias=None, axes=1):
    """``x @ kernel + bias`` on the last axis, by the Rust GEMM (one fused kernel).

    With ``axes=k`` the last ``k`` axes of ``x`` contract with the first ``k`` of ``kernel``
    (``np.tensordot(x, kernel, k)``), and ``bias`` has the kernel's remaining shape: a
    multi-head projection ``(batch, tokens, dim) · (dim, heads, width)`` or its output
    ``(batch, tokens, heads, width) · (heads, width, dim)`` is one op, no reshapes on the tape.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import dense
        >>> dense(fn.constant([[1.0, 2.0]]), fn.ones((2, 3)), fn.constant([0.5, 0.0, -0.5])).numpy()
        array([[3.5, 3. , 2.5]], dtype=float32)
        >>> dense(fn.ones((2, 5, 4)), fn.ones((4, 3, 2)), axes=1).shape  # (batch, tokens, heads, width)
        (2, 5, 3, 2)
    """
    x = as_tensor(x)
    if axes != 1:
        xs, ks = tuple(x.shape), tuple(kernel.shape)
        if not 1 <= axes <= len(ks) or len(xs) < axes or xs[len(xs) - axes:] != ks[:axes]:
            raise ShapeError(f"dense: the last {axes} axes of x must match the first {axes} of the kernel. "
                             f"Received: x.shape={xs}, kernel.shape={ks}, axes={axes}")
    return _dense(x, kernel, bias, axes=int(axes))


# -------------------------------------------------------------- convolution
def _pads(n, k, s, d, padding):
    """TensorFlow's (before, after) padding and output size for one spatial axis."""
    ke = (k - 1) * d + 1
    if padding == "valid":
        return (0, 0), (n - ke) // s + 1
    out = -(-n // s)
    total = max((out - 1) * s + ke - n, 0)
    return (total // 2, total - total // 2), out


def patches(x, size, strides, dilation, padding, pad_value=0.0):
    """Windows of an NHWC tensor as ``(N, OH, OW, kh*kw, C)``, built from pad and slices (differentiable).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import patches
        >>> x = fn.reshape(fn.range(16.0), (1, 4, 4, 1))
        >>> p = patches(x, size=(2, 2), strides=(2, 2), dilation=(1, 1), padding="valid")
        >>> p.shape, p.numpy()[0, 0, 0, :, 0]
        ((1, 2, 2, 4, 1), array([0., 1., 4., 5.], dtype=float32))
    """
    (kh, kw), (sh, sw), (dh, dw) = size, strides, dilation
    _, h, w, _ = x.shape
    ph, oh = _pads(h, kh, sh, dh, padding)
    pw, ow = _pads(w, kw, sw, dw, padding)
    if ph != (0, 0) or pw != (0, 0):
        x = A.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=pad_value)
    taps = []
    for i in range(kh):
        for j in range(kw):
            taps.append(x[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw, :])
    return A.stack(taps, 3)


def _conv_formula(x, kernel, bias, strides, padding, dilation):
    kh, kw, c, f = kernel.shape
    p = patches(x, (kh, kw), strides, dilation, padding)
    y = A.tensordot(p, A.reshape(kernel, (kh * kw, c, f)), axes=([3, 4], [0, 1]))
    return y if bias is None else M.add(y, bias)


def _conv_fwd(x, kernel, bias, strides, padding, dilation):
    return _ops.conv2d(_contig(x, dtype=kernel.dtype), kernel, bias, strides=strides,
                       padding=padding, dilation_rate=dilation)


def _conv_fast(g, y, x, kernel, bias, strides, padding, dilation):
    return _ops.conv2d_backward(_contig(g), _contig(x, dtype=kernel.dtype), kernel,
                                strides=strides, padding=padding, dilation_rate=dilation,
                                need_db=bias is not None)


_conv = Primitive("conv2d", _conv_fwd, _twin(_conv_formula), _conv_fast)


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Keras ``Conv2D`` math on NHWC ``x`` and HWIO ``kernel``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import conv2d
        >>> x = fn.reshape(fn.range(16.0), (1, 4, 4, 1))
        >>> conv2d(x, fn.ones((2, 2, 1, 1))).numpy()[0, :, :, 0]
        array([[10., 14., 18.],
               [26., 30., 34.],
               [42., 46., 50.]], dtype=float32)
    """
    return _conv(as_tensor(x), kernel, bias, strides=tuple(strides), padding=str(padding).lower(),
                 dilation=tuple(dilation))


# ------------------------------------------------------------------ pooling
def _maxpool_formula(x, size, strides, padding):
    return R.reduce_max(patches(x, size, strides, (1, 1), padding, pad_value=-np.inf), axis=3)


def _maxpool_fast(g, y, x, size, strides, padding):
    return (_ops.max_pool2d_backward(_contig(g), _contig(x), size, strides, padding),)


_maxpool = Primitive("max_pool2d", lambda x, size, strides, padding: _ops.max_pool2d(
    _contig(x), size, strides, padding), _twin(_maxpool_formula), _maxpool_fast)


def _window(v, name):
    """A pooling size or stride as ``(h, w)``: an int, 1 or 2 ints, or TensorFlow's 4 (``[1, h, w, 1]``)."""
    vals = [int(v)] * 2 if isinstance(v, (int, np.integer)) else [int(d) for d in v]
    if len(vals) == 1:
        vals = vals * 2
    elif len(vals) == 4:
        vals = vals[1:3]
    if len(vals) != 2 or min(vals) < 1:
        raise ValueError(f"{name} must be a positive int, 2 ints or 4 ints (NHWC). Received: {name}={v!r}")
    return tuple(vals)


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    """Max pooling of NHWC ``x`` (``strides`` defaults to ``pool_size``; sizes may be ints or TensorFlow's 4-lists).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import max_pool2d
        >>> x = fn.reshape(fn.range(16.0), (1, 4, 4, 1))
        >>> max_pool2d(x, 2).numpy()[0, :, :, 0]
        array([[ 5.,  7.],
               [13., 15.]], dtype=float32)
    """
    size = _window(pool_size, "pool_size")
    strides = size if strides is None else _window(strides, "strides")
    return _maxpool(as_tensor(x), size=size, strides=strides, padding=str(padding).lower())


def _avgpool_formula(x, size, strides, padding):
    s = R.reduce_sum(patches(x, size, strides, (1, 1), padding), axis=3)
    ones = np.ones((1,) + tuple(x.shape[1:3]) + (1,), unwrap(x).dtype)
    count = R.reduce_sum(patches(A.stop_gradient(ones), size, strides, (1, 1), padding), axis=3)
    return M.divide(s, count)  # 'same' windows average over the real elements only, as Keras


def _avgpool_fast(g, y, x, size, strides, padding):
    return (_ops.avg_pool2d_backward(_contig(g), np.shape(x), size, strides, padding),)


_avgpool = Primitive("avg_pool2d", lambda x, size, strides, padding: _ops.avg_pool2d(
    _contig(x), size, strides, padding), _twin(_avgpool_formula), _avgpool_fast)


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    """Average pooling of NHWC ``x``; 'same' windows average over the real elements only, as Keras.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import avg_pool2d
        >>> x = fn.reshape(fn.range(16.0), (1, 4, 4, 1))
        >>> avg_pool2d(x, 2).numpy()[0, :, :, 0]
        array([[ 2.5,  4.5],
               [10.5, 12.5]], dtype=float32)
    """
    size = _window(pool_size, "pool_size")
    strides = size if strides is None else _window(strides, "strides")
    return _avgpool(as_tensor(x), size=size, strides=strides, padding=str(padding).lower())


# ------------------------------------------------------------ cross-entropy
@symbolic_aware
def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None):
    """Per-example ``-log softmax(logits)[label]`` (``tf.nn``'s keyword arguments).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import sparse_softmax_cross_entropy_with_logits
        >>> loss = sparse_softmax_cross_entropy_with_logits(labels=np.array([0]), logits=fn.constant([[2.0, 0.0, 0.0]]))
        >>> np.round(loss.numpy(), 4)
        array([0.2395], dtype=float32)
    """
    logits = as_tensor(logits)
    ids = np.asarray(unwrap(labels)).astype(np.int64)
    lp = log_softmax(logits, axis=-1)
    flat = A.reshape(lp, (-1, logits.shape[-1]))
    picked = flat[np.arange(flat.shape[0]), ids.reshape(-1)]
    return M.negative(A.reshape(picked, ids.shape))


@symbolic_aware
def softmax_cross_entropy_with_logits(labels=None, logits=None, axis=-1):
    """Per-example ``-sum(labels * log_softmax(logits))``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softmax_cross_entropy_with_logits
        >>> loss = softmax_cross_entropy_with_logits(labels=fn.constant([[1.0, 0.0, 0.0]]), logits=fn.constant([[2.0, 0.0, 0.0]]))
        >>> np.round(loss.numpy(), 4)
        array([0.2395], dtype=float32)
    """
    return M.negative(R.reduce_sum(M.multiply(labels, log_softmax(logits, axis=axis)), axis=axis))


@symbolic_aware
def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """Element-wise ``max(z, 0) - z t + log(1 + exp(-|z|))``, stable for any logits.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import sigmoid_cross_entropy_with_logits
        >>> loss = sigmoid_cross_entropy_with_logits(labels=fn.constant([1.0, 1.0]), logits=fn.constant([0.0, 2.0]))
        >>> np.round(loss.numpy(), 4)
        array([0.6931, 0.1269], dtype=float32)
    """
    z = as_tensor(logits)
    t = M.cast(as_tensor(labels), z.dtype)
    return M.add(M.subtract(M.maximum(z, 0), M.multiply(z, t)), M.log1p(M.exp(M.negative(M.abs(z)))))


# ------------------------------------------------------------------- others
@symbolic_aware
def l2_normalize(x, axis=None, epsilon=1e-12):
    """``x`` divided by its L2 norm over ``axis`` (at least ``sqrt(epsilon)``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import l2_normalize
        >>> l2_normalize(fn.constant([3.0, 4.0])).numpy()
        array([0.6, 0.8], dtype=float32)
    """
    sq = R.reduce_sum(M.square(x), axis=axis, keepdims=True)
    return M.multiply(x, M.rsqrt(M.maximum(sq, epsilon)))


@symbolic_aware
def moments(x, axes, keepdims=False):
    """``(mean, variance)`` over ``axes`` (``tf.nn.moments``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import moments
        >>> mean, variance = moments(fn.constant([[1.0, 10.0], [3.0, 30.0]]), axes=[0])
        >>> mean.numpy(), variance.numpy()
        (array([ 2., 20.], dtype=float32), array([  1., 100.], dtype=float32))
    """
    mean = R.reduce_mean(x, axis=axes, keepdims=True)
    var = R.reduce_mean(M.square(M.subtract(x, A.stop_gradient(mean))), axis=axes, keepdims=True)
    if not keepdims:
        mean, var = A.squeeze(mean, axes), A.squeeze(var, axes)
    return mean, var


@symbolic_aware
def dropout(x, rate, noise_shape=None, seed=None):
    """Zero each element with probability ``rate`` and scale the rest by ``1/(1-rate)`` (``tf.nn.dropout``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import dropout
        >>> y = dropout(fn.ones((2, 4)), rate=0.5, seed=1)
        >>> sorted(set(y.numpy().ravel().tolist()))
        [0.0, 2.0]
    """
    from . import random_ops

    x = as_tensor(x)
    if not 0 <= float(rate) < 1:
        raise ValueError(f"dropout rate must be in [0, 1). Received: rate={rate!r}")
    if float(rate) == 0:
        return x
    shape = x.shape if noise_shape is None else tuple(int(d) for d in noise_shape)
    keep = unwrap(random_ops.uniform(shape, seed=seed)) >= float(rate)
    return M.multiply(x, keep.astype(x.dtype) / np.asarray(1 - float(rate), x.dtype))


# ------------------------------------------------ Keras-style cross-entropies
def _clip_probs(p, epsilon):
    return M.clip_by_value(p, epsilon, 1.0 - epsilon)


def _same_shape(name, target, output):
    if target.shape != output.shape:
        raise ShapeError(f"{name} needs target and output of one shape. Received: target.shape={target.shape}, "
                         f"output.shape={output.shape}")


@symbolic_aware
def binary_crossentropy(target, output, from_logits=False, epsilon=1e-7):
    """Element-wise ``-(t log p + (1 - t) log(1 - p))`` with ``p`` clipped to ``[epsilon, 1 - epsilon]``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import binary_crossentropy
        >>> np.round(binary_crossentropy(fn.constant([1.0, 0.0]), fn.constant([0.9, 0.2])).numpy(), 4)
        array([0.1054, 0.2231], dtype=float32)
    """
    output = as_tensor(output)
    target = M.cast(as_tensor(target), output.dtype)
    _same_shape("binary_crossentropy", target, output)
    if from_logits:
        return sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    p = _clip_probs(output, epsilon)
    return M.negative(M.add(M.multiply(target, M.log(p)),
                            M.multiply(M.subtract(1.0, target), M.log(M.subtract(1.0, p)))))


@symbolic_aware
def categorical_crossentropy(target, output, from_logits=False, axis=-1, epsilon=1e-7):
    """``-sum(target * log(p))`` over ``axis``, ``p`` the output renormalized to sum 1 and clipped.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import categorical_crossentropy
        >>> np.round(categorical_crossentropy(fn.constant([[1.0, 0.0]]), fn.constant([[0.8, 0.2]])).numpy(), 4)
        array([0.2231], dtype=float32)
    """
    output = as_tensor(output)
    target = M.cast(as_tensor(target), output.dtype)
    _same_shape("categorical_crossentropy", target, output)
    if from_logits:
        return softmax_cross_entropy_with_logits(labels=target, logits=output, axis=axis)
    p = _clip_probs(M.divide(output, R.reduce_sum(output, axis=axis, keepdims=True)), epsilon)
    return M.negative(R.reduce_sum(M.multiply(target, M.log(p)), axis=axis))


@symbolic_aware
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1, epsilon=1e-7):
    """Cross-entropy with integer class ids ``target`` (shaped ``output.shape[:-1]``, or with a trailing 1).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import sparse_categorical_crossentropy
        >>> np.round(sparse_categorical_crossentropy(np.array([0, 1]), fn.constant([[0.8, 0.2], [0.4, 0.6]])).numpy(), 4)
        array([0.2231, 0.5108], dtype=float32)
    """
    output = as_tensor(output)
    ids = np.asarray(unwrap(target))
    if ids.ndim == output.ndim and ids.shape[-1] == 1:
        ids = ids[..., 0]
    if ids.shape != output.shape[:-1] or int(axis) not in (-1, output.ndim - 1):
        raise ShapeError(f"sparse_categorical_crossentropy needs target.shape == output.shape[:-1] and axis=-1. "
                         f"Received: target.shape={np.shape(unwrap(target))}, output.shape={output.shape}, "
                         f"axis={axis}")
    onehot = A.one_hot(ids.astype(np.int64), output.shape[-1], dtype=output.dtype)
    return categorical_crossentropy(onehot, output, from_logits, -1, epsilon)
