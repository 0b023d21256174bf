"""Dropout, batch normalization and sum_rows vs NumPy references."""

import math

import numpy as np
import pytest

import ferronet
from ferronet import ops

FLOATS = [np.float32, np.float64]


def with_threads(n, f):
    n0 = ferronet.get_num_threads()
    ferronet.set_num_threads(n)
    try:
        return f()
    finally:
        ferronet.set_num_threads(n0)


# --- dropout ------------------------------------------------------------------------


def np_mask(shape, rate, seed):
    """The documented mask: keep element i iff splitmix64(key + (i+1)·γ) >> 11 >= ceil(rate·2^53)."""

    def mix64(z):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    with np.errstate(over="ignore"):
        key = mix64(np.array([seed % 2**64], np.uint64) ^ np.uint64(0x6A09E667F3BCC909))
        i = np.arange(1, int(np.prod(shape)) + 1, dtype=np.uint64)
        bits = mix64(key + i * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(11)
    return (bits >= np.uint64(math.ceil(rate * 2**53))).astype(np.uint8).reshape(shape)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,rate", [((1000,), 0.5), ((7, 13, 3), 0.25), ((0, 4), 0.5), ((5,), 0.0), ((5,), 1.0)])
def test_dropout_matches_reference(rng, dtype, shape, rate):
    x = rng.standard_normal(shape).astype(dtype)
    y, mask = ops.dropout(x, rate, seed=2024)
    want = np_mask(shape, rate, 2024)
    assert mask.dtype == np.uint8 and mask.shape == shape and y.dtype == dtype
    np.testing.assert_array_equal(mask, want)
    keep = dtype(1 - rate)
    np.testing.assert_array_equal(y, np.where(want == 1, x / keep if rate < 1 else 0, 0).astype(dtype))
    dy = rng.standard_normal(shape).astype(dtype)
    dx = ops.dropout_backward(dy, mask, rate)
    np.testing.assert_array_equal(dx, np.where(want == 1, dy / keep if rate < 1 else 0, 0).astype(dtype))


def test_dropout_is_deterministic_and_thread_independent(rng):
    x = rng.standard_normal((257, 1031)).astype(np.float32)  # large enough to run in parallel
    runs = [with_threads(n, lambda: ops.dropout(x, 0.3, seed=7)) for n in (1, 2, 3, 8)]
    for y, m in runs[1:]:
        assert np.array_equal(y, runs[0][0]) and np.array_equal(m, runs[0][1])
    _, m64 = ops.dropout(x.astype(np.float64), 0.3, seed=7)
    assert np.array_equal(m64, runs[0][1])  # the mask does not depend on the dtype
    _, other = ops.dropout(x, 0.3, seed=8)
    assert (other != runs[0][1]).mean() > 0.3
    # Seeds are taken modulo 2**64.
    assert np.array_equal(ops.dropout(x, 0.3, seed=-1)[1], ops.dropout(x, 0.3, seed=2**64 - 1)[1])


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_keep_rate_statistics(rate):
    n = 1_000_000
    _, m = ops.dropout(np.ones(n, np.float32), rate, seed=12345)
    kept = m.mean()
    sigma = math.sqrt(rate * (1 - rate) / n)
    assert abs(kept - (1 - rate)) < 5 * sigma
    # Neighbouring elements are uncorrelated.
    a, b = m[:-1].astype(np.float64), m[1:].astype(np.float64)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(n)


def test_dropout_special_values_and_buffers(rng):
    x = np.array([np.nan, np.inf, -1.0, 2.0] * 50)
    y, m = ops.dropout(x, 0.5, seed=3)
    assert (y[m == 0] == 0).all()  # dropped inf/NaN become 0, as Keras' where
    assert np.array_equal(np.isnan(y), np.isnan(x) & (m == 1))
    out, mask_out = np.empty_like(x), np.empty(x.shape, np.uint8)
    y2, m2 = ops.dropout(x, 0.5, seed=3, out=out, mask_out=mask_out)
    assert y2 is out and m2 is mask_out and np.array_equal(m2, m)
    # A bool mask is accepted by the backward pass.
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(ops.dropout_backward(dy, m.astype(bool), 0.5), ops.dropout_backward(dy, m, 0.5))


def test_dropout_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ferronet.ArgumentError, match=r"dropout: rate must be in \[0, 1\]. Received: rate=1.5"):
        ops.dropout(x, 1.5, seed=0)
    with pytest.raises(ferronet.ArgumentError, match=r"seed must be an int. Received: seed=0.5"):
        ops.dropout(x, 0.5, seed=0.5)
    with pytest.raises(ferronet.DTypeError, match=r"mask_out must be a uint8 array .*Received: mask_out.dtype=int32"):
        ops.dropout(x, 0.5, seed=0, mask_out=np.empty((3, 4), np.int32))
    with pytest.raises(ferronet.ShapeError, match=r"mask must have shape \(3, 4\). Received: mask.shape=\(4, 3\)"):
        ops.dropout_backward(x, np.ones((4, 3), np.uint8), 0.5)
    with pytest.raises(ferronet.DTypeError, match=r"mask.dtype=float32"):
        ops.dropout_backward(x, x, 0.5)
    with pytest.raises(ferronet.DTypeError, match=r"x.dtype=int64"):
        ops.dropout(np.ones(3, np.int64), 0.5, seed=0)


# --- batch norm ---------------------------------------------------------------------


def np_bn_train(x, gamma, beta, eps):
    x64 = x.astype(np.float64).reshape(math.prod(x.shape[:-1]), x.shape[-1])
    mean = x64.mean(axis=0)
    var = x64.var(axis=0)
    y = (x64 - mean) / np.sqrt(var + eps) * gamma + beta
    return y.reshape(x.shape), mean, var


def np_bn_backward(dy, x, gamma, mean, var, eps):
    x2 = x.astype(np.float64).reshape(math.prod(x.shape[:-1]), x.shape[-1])
    dy2 = dy.astype(np.float64).reshape(x2.shape)
    n = x2.shape[0]
    inv = 1 / np.sqrt(var + eps)
    xhat = (x2 - mean) * inv
    dbeta = dy2.sum(axis=0)
    dgamma = (dy2 * xhat).sum(axis=0)
    dx = gamma * inv / n * (n * dy2 - dbeta - xhat * dgamma)
    return dx.reshape(x.shape), dgamma, dbeta


BN_SHAPES = [(32, 10), (1, 3), (7, 1), (4, 5, 6, 17), (300, 64), (2, 3, 0)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_matches_numpy(rng, dtype, shape):
    c = shape[-1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma = rng.standard_normal(c).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    y, mean, var = ops.batch_norm_train(x, gamma, beta)
    wy, wm, wv = np_bn_train(x, gamma.astype(np.float64), beta.astype(np.float64), 1e-3)
    assert y.dtype == mean.dtype == var.dtype == dtype and y.shape == shape and mean.shape == (c,)
    np.testing.assert_allclose(y, wy, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(mean, wm, rtol=tol, atol=tol)
    np.testing.assert_allclose(var, wv, rtol=tol, atol=tol)
    np.testing.assert_allclose(ops.batch_norm_infer(x, gamma, beta, mean, var), y, rtol=tol, atol=tol * 10)
    dy = rng.standard_normal(shape).astype(dtype)
    dx, dg, db = ops.batch_norm_backward(dy, x, gamma, mean, var)
    wdx, wdg, wdb = np_bn_backward(dy, x, gamma.astype(np.float64), mean.astype(np.float64), var.astype(np.float64), 1e-3)
    np.testing.assert_allclose(dx, wdx, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(dg, wdg, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(db, wdb, rtol=tol * 10, atol=tol * 10)


def test_batch_norm_gradients_match_central_differences(rng):
    x = rng.standard_normal((6, 2, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    w = rng.standard_normal(x.shape)
    eps = 1e-3

    def loss(x, gamma, beta):
        return float((ops.batch_norm_train(x, gamma, beta, eps)[0] * w).sum())

    def num(f, v, h=1e-6):
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            vp, vm = v.copy(), v.copy()
            vp[i] += h
            vm[i] -= h
            g[i] = (f(vp) - f(vm)) / (2 * h)
        return g

    _, mean, var = ops.batch_norm_train(x, gamma, beta, eps)
    dx, dg, db = ops.batch_norm_backward(w, x, gamma, mean, var, eps)
    np.testing.assert_allclose(dx, num(lambda v: loss(v, gamma, beta), x), atol=1e-7)
    np.testing.assert_allclose(dg, num(lambda v: loss(x, v, beta), gamma), atol=1e-7)
    np.testing.assert_allclose(db, num(lambda v: loss(x, gamma, v), beta), atol=1e-7)


def test_batch_norm_is_numerically_careful():
    # A large offset with a small spread: E[x²] - E[x]² would lose every digit in float32.
    rng = np.random.default_rng(5)
    x = (1000.0 + rng.standard_normal((20_000, 4))).astype(np.float32)
    _, mean, var = ops.batch_norm_train(x, None, None)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(var, x64.var(axis=0), rtol=1e-3)


def test_batch_norm_defaults_nan_and_threads(rng):
    x = rng.standard_normal((50, 3))
    y, mean, var = ops.batch_norm_train(x, None, None)  # gamma=1, beta=0
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-12)
    x[4, 1] = np.nan
    y, mean, var = ops.batch_norm_train(x, None, None)
    assert np.isnan(y[:, 1]).all() and np.isfinite(np.delete(y, 1, axis=1)).all()
    big = rng.standard_normal((4099, 37)).astype(np.float32)
    g, b = np.ones(37, np.float32), np.zeros(37, np.float32)
    runs = [with_threads(n, lambda: ops.batch_norm_train(big, g, b)) for n in (1, 2, 5)]
    for r in runs[1:]:
        assert all(np.array_equal(a, w) for a, w in zip(r, runs[0]))


def test_batch_norm_of_an_empty_batch_is_nan_like_numpy():
    y, mean, var = ops.batch_norm_train(np.ones((0, 3), np.float32), None, None)
    assert y.shape == (0, 3) and np.isnan(mean).all() and np.isnan(var).all()
    dx, dg, db = ops.batch_norm_backward(np.ones((0, 3)), np.ones((0, 3)), None, mean, var)
    assert dx.shape == (0, 3) and not dg.any() and not db.any()


def test_batch_norm_errors():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ferronet.ShapeError, match=r"gamma must have shape \(3,\) .*Received: gamma has 2 elements"):
        ops.batch_norm_train(x, np.ones(2), None)
    with pytest.raises(ferronet.ShapeError, match=r"x needs a channel axis"):
        ops.batch_norm_train(np.float32(1.0), None, None)
    with pytest.raises(ferronet.ShapeError, match=r"dy must have the shape of x \(4, 3\). Received: dy.shape=\(3, 4\)"):
        ops.batch_norm_backward(np.ones((3, 4)), x, None, np.zeros(3), np.ones(3))
    with pytest.raises(ferronet.ArgumentError, match=r"epsilon must be finite and non-negative. Received: epsilon=-1"):
        ops.batch_norm_infer(x, None, None, np.zeros(3), np.ones(3), epsilon=-1)
    with pytest.raises(ferronet.DTypeError, match=r"x.dtype=complex128"):
        ops.batch_norm_train(np.ones((2, 2), complex), None, None)


# --- sum_rows -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(5, 3), (1, 7), (0, 4), (200, 1), (9,), (3, 4, 5), (10_000, 33)])
def test_sum_rows_matches_numpy(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    got = ops.sum_rows(x)
    want = x.astype(np.float64).sum(axis=0)
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * math.sqrt(shape[0] + 1))


def test_sum_rows_fixed_order_out_and_errors(rng):
    x = rng.standard_normal((100_000, 20)).astype(np.float32)
    runs = [with_threads(n, lambda: ops.sum_rows(x)) for n in (1, 2, 3, 7)]
    assert all(np.array_equal(r, runs[0]) for r in runs[1:])
    # Blocked pairwise sums stay close to the float64 sum.
    np.testing.assert_allclose(runs[0], x.astype(np.float64).sum(axis=0), rtol=0, atol=2e-3)
    out = np.empty(20, np.float32)
    assert ops.sum_rows(x, out=out) is out and np.array_equal(out, runs[0])
    with pytest.raises(ferronet.ShapeError, match="out has shape"):
        ops.sum_rows(x, out=np.empty(19, np.float32))
    with pytest.raises(ferronet.ShapeError, match=r"sum_rows: x needs at least one axis"):
        ops.sum_rows(np.float64(3.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_l2_penalty_value_and_gradient(rng, dtype):
    w = rng.standard_normal((17, 9)).astype(dtype)
    w[0, 0] = 0.0
    g = rng.standard_normal(w.shape).astype(dtype)
    g0 = g.copy()
    p = ops.l1_l2_penalty(w, l1=0.01, l2=0.003, grad=g)
    w64 = w.astype(np.float64)
    assert p == pytest.approx(0.01 * np.abs(w64).sum() + 0.003 * (w64**2).sum(), rel=1e-12)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(g, g0 + 0.01 * np.sign(w) + 0.006 * w, rtol=tol, atol=tol)
    assert ops.l1_l2_penalty(w) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        ops.l1_l2_penalty(w, l1=-1.0)
    with pytest.raises(ValueError):
        ops.l1_l2_penalty(w, l2=0.1, grad=np.zeros(3, dtype))


def test_batch_norm_backward_writes_into_given_arrays(rng):
    x = rng.standard_normal((12, 5)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma = rng.standard_normal(5).astype(np.float32)
    _, mean, var = ops.batch_norm_train(x, gamma, None)
    want = ops.batch_norm_backward(dy, x, gamma, mean, var)
    outs = np.empty_like(x), np.empty(5, np.float32), np.empty(5, np.float32)
    got = ops.batch_norm_backward(dy, x, gamma, mean, var, dx_out=outs[0], dgamma_out=outs[1], dbeta_out=outs[2])
    assert all(g is o for g, o in zip(got, outs))
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    with pytest.raises(ValueError, match="separate"):
        ops.batch_norm_backward(dy, x, gamma, mean, var, dgamma_out=outs[1], dbeta_out=outs[1])
    with pytest.raises(ValueError):
        ops.batch_norm_backward(dy, x, gamma, mean, var, dx_out=np.empty((3, 5), np.float32))


def test_dropout_noise_shape_broadcasts_one_decision_per_cell():
    x = np.arange(1.0, 2 * 3 * 4 * 5 + 1, dtype=np.float32).reshape(2, 3, 4, 5)
    y, mask = ops.dropout(x, 0.5, seed=11, noise_shape=(2, 1, 1, 5))
    assert np.array_equal(mask, np.broadcast_to(mask[:, :1, :1, :], mask.shape))
    np.testing.assert_array_equal(y, x * mask / np.float32(0.5))
    # The decisions are those plain dropout makes on the noise shape itself.
    _, small = ops.dropout(np.ones((2, 1, 1, 5), np.float32), 0.5, seed=11)
    np.testing.assert_array_equal(mask[:, :1, :1, :], small)
    full_y, full_mask = ops.dropout(x, 0.5, seed=11, noise_shape=x.shape)
    plain_y, plain_mask = ops.dropout(x, 0.5, seed=11)
    assert np.array_equal(full_mask, plain_mask) and np.array_equal(full_y, plain_y)
    with pytest.raises(ferronet.ShapeError, match=r"noise_shape must have one entry per axis of x.*\(2, 2, 1, 5\)"):
        ops.dropout(x, 0.5, seed=11, noise_shape=(2, 2, 1, 5))
