"""Activations, fused dense/conv/pool and cross-entropies.

Each fused op is checked three ways: forward against a NumPy reference,
gradient against float64 central differences (the fast Rust VJP runs, since
nothing records), and the fast VJP against its differentiable twin (which
runs when an outer tape records, as for a second derivative) and second
derivatives through the twin.
"""

import math

import numpy as np
import pytest
from scipy.special import erf, log_softmax as np_log_softmax, softmax as np_softmax

import ferronet as fn
from ferronet.tensor import GradientTape
from ferronet.tensor import activation_ops as Act
from ferronet.tensor import nn_ops as N
from ferronet.tfcompat import nn as tfnn

from .gradcheck import check_grad, check_second

RNG = np.random.default_rng(6)


def _sig(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


ACTS = {
    "relu": (N.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (N.sigmoid, _sig),
    "tanh": (N.tanh, np.tanh),
    "softplus": (N.softplus, lambda x: np.log1p(np.exp(x))),
    "silu": (N.silu, lambda x: x * _sig(x)),
    "gelu": (N.gelu, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: N.gelu(x, approximate=True),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))),
    "elu": (lambda x: N.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0)))),
    "leaky_relu": (lambda x: N.leaky_relu(x, 0.3), lambda x: np.where(x > 0, x, 0.3 * x)),
    "tf_leaky_relu_alpha": (lambda x: N.leaky_relu(x, alpha=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "relu6": (N.relu6, lambda x: np.clip(x, 0, 6)),
    "softsign": (N.softsign, lambda x: x / (1 + np.abs(x))),
    "selu": (N.selu,
             lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))),
    "softmax": (N.softmax, lambda x: np_softmax(x, axis=-1)),
    "softmax_axis0": (lambda x: N.softmax(x, axis=0), lambda x: np_softmax(x, axis=0)),
    "log_softmax": (N.log_softmax, lambda x: np_log_softmax(x, axis=-1)),
}
# away from the kinks of relu-like functions, so finite differences are valid
XA = RNG.uniform(0.1, 2.0, (4, 5)) * RNG.choice([-1, 1], (4, 5))
XA[0, 0] = 7.0  # above relu6's cap


def _fast_and_twin_grads(f, inputs, weights):
    """Gradients of sum(w * f(inputs)) by the fast VJP (nothing else records) and by the twin (an outer tape
    records), and a second derivative through the twin."""
    ts = [fn.constant(a) for a in inputs]
    with GradientTape() as tape:
        tape.watch(ts)
        loss = fn.reduce_sum(f(*ts) * weights)
    fast = tape.gradient(loss, ts)
    with GradientTape() as outer:
        outer.watch(ts)
        with GradientTape() as tape:
            tape.watch(ts)
            loss = fn.reduce_sum(f(*ts) * weights)
        twin = tape.gradient(loss, ts)
        probe = fn.reduce_sum(twin[0] * twin[0])
    second = outer.gradient(probe, ts)
    return fast, twin, second


@pytest.mark.parametrize("name", sorted(ACTS))
def test_activation_forward_gradient_twin_and_second_order(name):
    op, ref = ACTS[name]
    for dt in (np.float32, np.float64):
        out = op(fn.constant(XA.astype(dt)))
        assert out.dtype == dt
        np.testing.assert_allclose(out.numpy(), ref(XA.astype(np.float64)), rtol=3e-6 if dt == np.float32 else 1e-12,
                                   atol=1e-6 if dt == np.float32 else 1e-13)
    check_grad(op, XA)
    w = RNG.standard_normal(XA.shape)
    fast, twin, _ = _fast_and_twin_grads(op, [XA], w)
    np.testing.assert_allclose(twin[0].numpy(), fast[0].numpy(), rtol=1e-12, atol=1e-14)
    check_second(op, XA, rtol=1e-4, atol=1e-6)


def test_fused_activation_vjp_rules_agree_directly():
    # The primitive's two VJP rules on the same inputs, outside any tape.
    g = RNG.standard_normal(XA.shape)
    # The public activations are functions over their primitive (``.primitive``); the others are primitives.
    for prim in (Act.relu.primitive, Act.sigmoid.primitive, Act.tanh.primitive, Act.softplus.primitive,
                 Act.silu.primitive, Act.gelu_prim, Act._elu, Act._leaky, Act._softmax, Act._log_softmax):
        params = {Act.gelu_prim: {"approximate": False}, Act._elu: {"alpha": 1.0},
                  Act._leaky: {"negative_slope": 0.2}, Act._softmax: {"axis": -1},
                  Act._log_softmax: {"axis": -1}}.get(prim, {})
        y = prim.forward(XA, **params)
        (fast,) = prim.fast_vjp(g, y, XA, **params)
        (twin,) = prim.vjp(fn.constant(g), fn.constant(y), fn.constant(XA), **params)
        np.testing.assert_allclose(twin.numpy(), fast, rtol=1e-11, atol=1e-13, err_msg=prim.name)


def test_relu_fast_path_keeps_integers_and_odd_dtypes_working():
    assert N.relu(fn.constant([-1, 2])).numpy().tolist() == [0, 2]
    np.testing.assert_allclose(N.sigmoid(fn.constant(np.array([0.0], np.float16))).numpy(), [0.5])


def _np_dense(x, w, b):
    return x @ w + (0 if b is None else b)


@pytest.mark.parametrize("xshape", [(6, 4), (2, 3, 4), (4,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_dense(xshape, bias):
    x = RNG.standard_normal(xshape)
    w = RNG.standard_normal((4, 3))
    b = RNG.standard_normal(3) if bias else None
    f = (lambda xx, ww, bb: N.dense(xx, ww, bb)) if bias else (lambda xx, ww: N.dense(xx, ww))
    args = (x, w, b) if bias else (x, w)
    out = f(*[fn.constant(a) for a in args])
    np.testing.assert_allclose(out.numpy(), _np_dense(x, w, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(N.dense(x.astype(np.float32), w.astype(np.float32)).numpy(), x @ w, rtol=1e-5,
                               atol=1e-5)
    check_grad(f, *args)
    fast, twin, second = _fast_and_twin_grads(f, args, RNG.standard_normal(out.shape))
    for a, b_ in zip(fast, twin):
        np.testing.assert_allclose(b_.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)
    assert second[1] is not None  # d|dx|^2/dW: the twin, not the constant fast gradient, was recorded
    check_second(lambda xx: N.tanh(N.dense(xx, fn.constant(w), None if b is None else fn.constant(b))), x)


@pytest.mark.parametrize("xshape,kshape,axes", [((2, 5, 4), (4, 3, 2), 1), ((2, 5, 3, 2), (3, 2, 4), 2)])
def test_dense_over_several_axes(xshape, kshape, axes):
    # A multi-head projection and its output projection: np.tensordot, bias of the kernel's remaining shape.
    x, w, b = RNG.standard_normal(xshape), RNG.standard_normal(kshape), RNG.standard_normal(kshape[axes:])

    def f(xx, ww, bb):
        return N.dense(xx, ww, bb, axes=axes)

    out = f(*[fn.constant(a) for a in (x, w, b)])
    np.testing.assert_allclose(out.numpy(), np.tensordot(x, w, axes) + b, rtol=1e-12, atol=1e-12)
    check_grad(f, x, w, b)
    fast, twin, _ = _fast_and_twin_grads(f, (x, w, b), RNG.standard_normal(out.shape))
    for a, b_ in zip(fast, twin):
        np.testing.assert_allclose(b_.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(fn.errors.ShapeError, match="the last 2 axes of x must match the first 2 of the kernel"):
        N.dense(x, RNG.standard_normal((7,) + kshape), axes=2)


def _fan_out(x, w1, w2):
    # x feeds four dense products (two through x + x, whose rule hands the same gradient to both
    # sides): the tape adds the later dense gradients into the earlier ones inside the product.
    q, k = N.dense(x, w1), N.dense(x, w1 * 2.0)
    u = x + x
    v, r = N.dense(u, w2), N.dense(u, w2 * 0.5)
    return fn.concat([fn.reshape(q * k, (2, 3, -1)), v * r, u * x], axis=-1)


def test_fan_out_gradients_summed_inside_the_dense_products():
    x, w1, w2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 2, 3)), RNG.standard_normal((4, 5))
    check_grad(_fan_out, x, w1, w2)
    out = _fan_out(*[fn.constant(a) for a in (x, w1, w2)])
    fast, twin, _ = _fast_and_twin_grads(_fan_out, (x, w1, w2), RNG.standard_normal(out.shape))
    for a, b in zip(fast, twin):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    # The caller's output gradient is never written into, though two dense rules receive it.
    xt, wt = fn.constant(x), fn.constant(RNG.standard_normal((4, 5)))
    dy = RNG.standard_normal((2, 3, 5))
    seed = dy.copy()
    with GradientTape() as tape:
        tape.watch(xt)
        y = N.dense(xt, wt) + N.dense(xt, wt * 3.0)
    (gx,) = tape.gradient(y, [xt], output_gradients=seed)
    np.testing.assert_array_equal(seed, dy)
    np.testing.assert_allclose(gx.numpy(), 4.0 * dy @ wt.numpy().T, rtol=1e-12)


def test_dense_with_variables_and_noncontiguous_kernel():
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    wt = RNG.standard_normal((3, 4)).astype(np.float32)
    kernel = fn.transpose(fn.constant(wt))  # a non-contiguous view
    np.testing.assert_allclose(N.dense(x, kernel).numpy(), x @ wt.T, rtol=1e-5, atol=1e-5)
    v = fn.Variable(wt.T.copy())
    with GradientTape() as tape:
        y = fn.reduce_sum(N.dense(x, v) ** 2)
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), x.T @ (2 * x @ wt.T), rtol=1e-4, atol=1e-4)


def _np_conv(x, k, b, strides, padding, dilation):
    n, h, w, c = x.shape
    kh, kw, _, f = k.shape
    (sh, sw), (dh, dw) = strides, dilation
    ekh, ekw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + ekh - h, 0), max((ow - 1) * sw + ekw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - ekh) // sh + 1, (w - ekw) // sw + 1
    out = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw, :]
            out += patch @ k[i, j]
    return out + (0 if b is None else b)


CONVS = [("valid", (1, 1), (1, 1)), ("same", (1, 1), (1, 1)), ("valid", (2, 2), (1, 1)), ("same", (2, 1), (1, 1)),
         ("same", (1, 1), (2, 2)), ("valid", (1, 1), (2, 1)), ("same", (3, 2), (1, 1))]


@pytest.mark.parametrize("padding,strides,dilation", CONVS, ids=str)
def test_conv2d(padding, strides, dilation):
    x = RNG.standard_normal((2, 7, 6, 3))
    k = RNG.standard_normal((3, 2, 3, 4))
    b = RNG.standard_normal(4)

    def f(xx, kk, bb):
        return N.conv2d(xx, kk, bb, strides=strides, padding=padding, dilation=dilation)

    out = f(fn.constant(x), fn.constant(k), fn.constant(b))
    np.testing.assert_allclose(out.numpy(), _np_conv(x, k, b, strides, padding, dilation), rtol=1e-10, atol=1e-10)
    out32 = N.conv2d(x.astype(np.float32), k.astype(np.float32), None, strides, padding, dilation)
    np.testing.assert_allclose(out32.numpy(), _np_conv(x, k, None, strides, padding, dilation), rtol=1e-4, atol=1e-4)
    check_grad(f, x, k, b, rtol=1e-6, atol=1e-7)
    fast, twin, second = _fast_and_twin_grads(f, (x, k, b), RNG.standard_normal(out.shape))
    for a, t in zip(fast, twin):
        np.testing.assert_allclose(t.numpy(), a.numpy(), rtol=1e-10, atol=1e-10)
    assert second[1] is not None


def test_conv2d_second_derivative_wrt_input():
    k = fn.constant(RNG.standard_normal((2, 2, 2, 3)))
    check_second(lambda xx: N.tanh(N.conv2d(xx, k, None, padding="same")), RNG.standard_normal((1, 4, 4, 2)),
                 rtol=1e-4, atol=1e-6)


def _np_pool(x, size, strides, padding, kind):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw) = size, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
        top, left = ph // 2, pw // 2
    else:
        oh, ow, top, left = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh - top, j * sw - left
            win = x[:, max(r0, 0):r0 + kh, max(c0, 0):c0 + kw, :]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


POOLS = [((2, 2), (2, 2), "valid"), ((3, 3), (1, 1), "valid"), ((3, 2), (2, 2), "same"), ((2, 2), (1, 1), "same")]


@pytest.mark.parametrize("size,strides,padding", POOLS, ids=str)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(size, strides, padding, kind):
    # distinct values: no ties inside a window, so max pooling is differentiable at x
    x = (RNG.permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) - 60) * 0.05
    op = N.max_pool2d if kind == "max" else N.avg_pool2d

    def f(xx):
        return op(xx, size, strides, padding)

    np.testing.assert_allclose(f(fn.constant(x)).numpy(), _np_pool(x, size, strides, padding, kind), rtol=1e-12)
    np.testing.assert_allclose(f(fn.constant(x.astype(np.float32))).numpy(), _np_pool(x, size, strides, padding, kind),
                               rtol=1e-6, atol=1e-6)
    check_grad(f, x, eps=1e-4)
    fast, twin, _ = _fast_and_twin_grads(f, (x,), RNG.standard_normal(f(fn.constant(x)).shape))
    np.testing.assert_allclose(twin[0].numpy(), fast[0].numpy(), rtol=1e-12, atol=1e-12)
    check_second(lambda xx: f(xx) ** 2, x, rtol=1e-4, atol=1e-6, eps=1e-4)


def test_pooling_accepts_tensorflow_int_and_4_element_sizes():
    x = fn.constant(RNG.standard_normal((1, 4, 4, 2)))
    ref = _np_pool(x.numpy(), (2, 2), (2, 2), "valid", "max")
    np.testing.assert_allclose(N.max_pool2d(x, 2, 2).numpy(), ref)
    np.testing.assert_allclose(tfnn.max_pool2d(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID").numpy(), ref)
    np.testing.assert_allclose(tfnn.avg_pool2d(x, 2, 2, "SAME").numpy(),
                               _np_pool(x.numpy(), (2, 2), (2, 2), "same", "avg"))
    np.testing.assert_allclose(N.avg_pool2d(x, (3, 3), padding="same").numpy(),
                               _np_pool(x.numpy(), (3, 3), (3, 3), "same", "avg"))
    with pytest.raises(ValueError, match="pool_size"):
        N.max_pool2d(x, [2, 2, 2])


# ------------------------------------------------------------ cross-entropies
def test_sparse_softmax_cross_entropy():
    logits = RNG.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    out = N.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=fn.constant(logits))
    ref = -np_log_softmax(logits, axis=-1)[np.arange(5), labels]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    check_grad(lambda z: N.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z), logits)
    check_second(lambda z: N.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z), logits,
                 rtol=1e-4, atol=1e-7)
    # leading batch dimensions and int labels given as a tensor
    out3 = N.sparse_softmax_cross_entropy_with_logits(labels=fn.constant(labels.reshape(5, 1)),
                                                      logits=logits.reshape(5, 1, 4))
    np.testing.assert_allclose(out3.numpy(), ref.reshape(5, 1), rtol=1e-12)


def test_softmax_and_sigmoid_cross_entropy():
    logits = RNG.standard_normal((5, 4)) * 3
    probs = np_softmax(RNG.standard_normal((5, 4)), axis=-1)
    out = N.softmax_cross_entropy_with_logits(labels=probs, logits=fn.constant(logits))
    np.testing.assert_allclose(out.numpy(), -(probs * np_log_softmax(logits, axis=-1)).sum(-1), rtol=1e-12)
    check_grad(lambda z, p: N.softmax_cross_entropy_with_logits(labels=p, logits=z), logits, probs)
    check_second(lambda z: N.softmax_cross_entropy_with_logits(labels=probs, logits=z), logits, rtol=1e-4, atol=1e-7)
    t = RNG.uniform(0, 1, (5, 4))
    z = np.concatenate([logits, [[-800.0, 800.0, 0.0, 1.0]]])
    tt = np.concatenate([t, [[0.0, 1.0, 0.5, 0.5]]])
    out = N.sigmoid_cross_entropy_with_logits(labels=tt, logits=fn.constant(z))
    ref = -(tt[:-1] * np.log(_sig(logits)) + (1 - tt[:-1]) * np.log(1 - _sig(logits)))
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_allclose(out.numpy()[:-1], ref, rtol=1e-10)
    np.testing.assert_allclose(out.numpy()[-1], [0, 0, math.log(2), -(0.5 * math.log(_sig(1.0)) + 0.5 * math.log(
        1 - _sig(1.0)))], atol=1e-12)
    check_grad(lambda zz: N.sigmoid_cross_entropy_with_logits(labels=t, logits=zz), logits)
    check_second(lambda zz: N.sigmoid_cross_entropy_with_logits(labels=t, logits=zz), logits, rtol=1e-4, atol=1e-7)


def test_l2_normalize_moments_dropout():
    x = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(N.l2_normalize(fn.constant(x), axis=1).numpy(),
                               x / np.linalg.norm(x, axis=1, keepdims=True))
    check_grad(lambda t: N.l2_normalize(t, axis=1), x)
    m, v = N.moments(fn.constant(x), axes=[0])
    np.testing.assert_allclose(m.numpy(), x.mean(0))
    np.testing.assert_allclose(v.numpy(), x.var(0))
    check_grad(lambda t: N.moments(t, axes=[0])[1], x)
    y = N.dropout(fn.constant(np.ones((200, 50))), 0.25, seed=3).numpy()
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.03
    xt = fn.constant(x)
    assert N.dropout(xt, 0.0) is xt
    np.testing.assert_array_equal(N.dropout(fn.constant(x), 0.5, seed=1).numpy(),
                                  N.dropout(fn.constant(x), 0.5, seed=1).numpy())
    with pytest.raises(ValueError, match="rate"):
        N.dropout(fn.constant(x), 1.0)


def test_mlp_hessian_vector_product():
    # a 2-8-8-1 tanh network as in a physics-informed model: HVP w.r.t. the input through dense twins
    w1, b1 = RNG.standard_normal((2, 8)), RNG.standard_normal(8)
    w2, b2 = RNG.standard_normal((8, 8)), RNG.standard_normal(8)
    w3 = RNG.standard_normal((8, 1))
    params = [fn.constant(a) for a in (w1, b1, w2, b2, w3)]

    def mlp(x):
        h = N.tanh(N.dense(x, params[0], params[1]))
        h = N.tanh(N.dense(h, params[2], params[3]))
        return N.dense(h, params[4])

    check_second(mlp, RNG.standard_normal((6, 2)), rtol=1e-5, atol=1e-7)

    # and w.r.t. the first kernel
    x = fn.constant(RNG.standard_normal((6, 2)))

    def loss_of_w1(w):
        h = N.tanh(N.dense(x, w, params[1]))
        h = N.tanh(N.dense(h, params[2], params[3]))
        return N.dense(h, params[4])

    check_second(loss_of_w1, w1, rtol=1e-5, atol=1e-7)
