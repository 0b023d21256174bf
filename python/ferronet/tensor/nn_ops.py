"""Neural-network primitives: activations, fused dense/convolution/pooling, cross-entropies.

Each has a fast VJP calling the Rust backward kernel on arrays (used when
nothing records the gradient computation) and a differentiable twin (used
when a higher derivative is taken). The twin of a fused op is the gradient of
the same op written in elementary differentiable primitives, taken on a nested
tape (see :func:`_twin`); tests check both against each other.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops as _ops
from ..errors import ShapeError
from . import array_ops as A
from . import math_ops as M
from . import reduce_ops as R
from .core import Primitive, Tensor, as_tensor, unwrap
from .symbolic import symbolic_aware

__all__ = [
    "relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "elu", "selu", "leaky_relu", "gelu", "silu", "swish",
    "softmax", "log_softmax", "dense", "conv2d", "max_pool2d", "avg_pool2d", "patches",
    "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits", "l2_normalize", "moments", "dropout", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy",
]


def _twin(formula):
    """A differentiable VJP computed as the gradient of ``formula`` (elementary ops) on a nested tape."""

    def vjp(g, y, *inputs, **params):
        from .tape import GradientTape

        ts = [x if isinstance(x, Tensor) else None for x in inputs]
        with GradientTape(watch_accessed_variables=False) as tape:
            for t in ts:
                if t is not None and t.dtype.kind == "f":
                    tape.watch(t)
            out = formula(*inputs, **params)
        watched = [t for t in ts if t is not None and t.dtype.kind == "f"]
        gs = iter(tape.gradient(out, watched, output_gradients=[g], unconnected_gradients="zero"))
        return tuple(next(gs) if t is not None and t.dtype.kind == "f" else None for t in ts)

    return vjp


def _contig(a, dtype=None):
    """``a`` as a C-contiguous array (0-d arrays stay 0-d, unlike ``np.ascontiguousarray``)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _float(a):
    return a if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) else None


def _act(name, fwd, fast_bwd, formula, saved="x"):
    """An activation primitive: Rust forward/backward on float arrays, NumPy otherwise."""

    def forward(x, **kw):
        return fwd(_contig(x), **kw) if _float(x) is not None else unwrap(formula(as_tensor(x), **kw))

    def fast(g, y, x, **kw):
        return (fast_bwd(_contig(g), _contig(x if saved == "x" else y), **kw),)

    return Primitive(name, forward, _twin(formula), fast)


relu = _act("relu", _ops.relu, _ops.relu_backward, lambda x: M.where(M.greater(x, 0), x, 0))
sigmoid = _act("sigmoid", _ops.sigmoid, _ops.sigmoid_backward,
               lambda x: M.divide(1.0, M.add(M.exp(M.negative(x)), 1.0)), saved="y")
tanh = _act("tanh", _ops.tanh, _ops.tanh_backward, lambda x: M.tanh(x), saved="y")
softplus = _act("softplus", _ops.softplus, _ops.softplus_backward,
                lambda x: M.add(M.maximum(x, 0), M.log1p(M.exp(M.negative(M.abs(x))))))
silu = _act("silu", _ops.silu, _ops.silu_backward, lambda x: M.multiply(x, sigmoid(x)))
swish = silu
_SQRT1_2 = 1 / math.sqrt(2.0)


def _gelu_formula(x, approximate=False):
    if approximate:
        inner = M.multiply(math.sqrt(2 / math.pi), M.add(x, M.multiply(0.044715, M.power(x, 3))))
        return M.multiply(M.multiply(0.5, x), M.add(1.0, M.tanh(inner)))
    return M.multiply(M.multiply(0.5, x), M.add(1.0, M.erf(M.multiply(x, _SQRT1_2))))


gelu_prim = _act("gelu", _ops.gelu, _ops.gelu_backward, _gelu_formula)


@symbolic_aware
def gelu(x, approximate=False):
    """Gaussian error linear unit (exact by default, ``approximate=True`` for the tanh form).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import gelu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(gelu(x).numpy(), 4)
        array([-0.0455,  0.    ,  8.    ], dtype=float32)
    """
    return gelu_prim(as_tensor(x), approximate=bool(approximate))


def _elu_formula(x, alpha=1.0):
    return M.where(M.greater(x, 0), x, M.multiply(alpha, M.expm1(M.minimum(x, 0))))


_elu = _act("elu", _ops.elu, _ops.elu_backward, _elu_formula)


@symbolic_aware
def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import elu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(elu(x).numpy(), 4)
        array([-0.8647,  0.    ,  8.    ], dtype=float32)
    """
    return _elu(as_tensor(x), alpha=float(alpha))


def _leaky_formula(x, negative_slope=0.2):
    return M.where(M.greater(x, 0), x, M.multiply(x, negative_slope))


_leaky = _act("leaky_relu", _ops.leaky_relu, _ops.leaky_relu_backward, _leaky_formula)


@symbolic_aware
def leaky_relu(x, negative_slope=0.2, alpha=None):
    """``x`` for ``x > 0`` else ``negative_slope * x`` (``alpha`` is ``tf.nn``'s name; its default there is 0.2).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import leaky_relu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> leaky_relu(x).numpy()
        array([-0.4,  0. ,  8. ], dtype=float32)
    """
    return _leaky(as_tensor(x), negative_slope=float(alpha if alpha is not None else negative_slope))


@symbolic_aware
def relu6(x):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import relu6
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> relu6(x).numpy()
        array([0., 0., 6.], dtype=float32)
    """
    return M.clip_by_value(relu(x), 0, 6)


@symbolic_aware
def softsign(x):
    """``x / (1 + |x|)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softsign
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(softsign(x).numpy(), 4)
        array([-0.6667,  0.    ,  0.8889], dtype=float32)
    """
    return M.divide(x, M.add(M.abs(x), 1))


@symbolic_aware
def selu(x):
    """Scaled exponential linear unit (Klambauer et al.'s constants).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import selu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(selu(x).numpy(), 4)
        array([-1.5202,  0.    ,  8.4056], dtype=float32)
    """
    return M.multiply(1.0507009873554805, elu(x, 1.6732632423543772))


def _softmax_formula(x, axis=-1):
    e = M.exp(M.subtract(x, A.stop_gradient(R.reduce_max(x, axis=axis, keepdims=True))))
    return M.divide(e, R.reduce_sum(e, axis=axis, keepdims=True))


def _log_softmax_formula(x, axis=-1):
    s = M.subtract(x, A.stop_gradient(R.reduce_max(x, axis=axis, keepdims=True)))
    return M.subtract(s, M.log(R.reduce_sum(M.exp(s), axis=axis, keepdims=True)))


_softmax = _act("softmax", _ops.softmax, _ops.softmax_backward, _softmax_formula, saved="y")
_log_softmax = _act("log_softmax", _ops.log_softmax, _ops.log_softmax_backward, _log_softmax_formula, saved="y")


@symbolic_aware
def softmax(x, axis=-1):
    """Softmax along ``axis``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softmax
        >>> np.round(softmax(fn.constant([[1.0, 2.0, 3.0]])).numpy(), 4)
        array([[0.09  , 0.2447, 0.6652]], dtype=float32)
    """
    return _softmax(as_tensor(x), axis=int(axis))


@symbolic_aware
def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``, computed stably.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import log_softmax
        >>> np.round(log_softmax(fn.constant([[1.0, 2.0, 3.0]])).numpy(), 4)
        array([[-2.4076, -1.4076, -0.4076]], dtype=float32)
    """
    return _log_softmax(as_tensor(x), axis=int(axis))


_ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softplus": softplus, "silu": silu,
                "swish": silu, "gelu": gelu, "elu": elu, "leaky_relu": leaky_relu, "softmax": softmax,
                "log_softmax": log_softmax, "linear": None, None: None, "selu": selu, "relu6": relu6,
                "softsign": softsign}


def activation(name):
    """The tensor op for a built-in activation name (None for linear)."""
    return _ACTIVATIONS[name]


# ------------------------------------------------------------------- dense
def _dense_formula(x, kernel, bias):
    y = A.matmul(x, kernel)
    return y if bias is None else M.add(y, bias)


def _dense_fwd(x, kernel, bias):
    x = _contig(x, dtype=kernel.dtype)
    if x.ndim == 2:
        return _ops.linear(x, kernel, bias)
    return _ops.linear(x.reshape(-1, x.shape[-1]), kernel, bias).reshape(x.shape[:-1] + (kernel.shape[1],))


def _dense_fast(g, y, x, kernel, bias):
    x2 = _contig(x, dtype=kernel.dtype).reshape(-1, kernel.shape[0])
    g2 = _contig(g).reshape(-1, kernel.shape[1])
    dx, dw, db = _ops.linear_backward(g2, x2, kernel, need_db=bias is not None)
    return dx.reshape(np.shape(x)), dw, db


_dense = Primitive("dense", _dense_fwd, _twin(_dense_formula), _dense_fast)


def dense(x, kernel, bias=None):
    """``x @ kernel + bias`` on the last axis, by the Rust GEMM (one fused kernel).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import dense
        >>> dense(fn.constant([[1.0, 2.0]]), fn.ones((2, 3)), fn.constant([0.5, 0.0, -0.5])).numpy()
        array([[3.5, 3. , 2.5]], dtype=float32)
    """
    return _dense(as_tensor(x), kernel, bias)


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
