"""Pooling vs NumPy references and float64 central differences."""

import math

import numpy as np
import pytest

import ferronet
from ferronet import ops

FLOATS = [np.float32, np.float64]


def _axis(size, k, s, padding):
    """(output size, padding before) along one axis, TensorFlow's rules."""
    if padding == "valid":
        return (max(0, (size - k) // s + 1) if size >= k else 0), 0
    out = math.ceil(size / s)
    total = max(0, (max(out, 1) - 1) * s + k - size)
    return out, total // 2


def _windows(shape, pool, strides, padding):
    """Yields (i, j, rows, cols): each output cell and its in-image window slices."""
    _, h, w, _ = shape
    oh, ph = _axis(h, pool[0], strides[0], padding)
    ow, pw = _axis(w, pool[1], strides[1], padding)
    for i in range(oh):
        r0 = i * strides[0] - ph
        rows = slice(max(r0, 0), min(r0 + pool[0], h))
        for j in range(ow):
            c0 = j * strides[1] - pw
            yield i, j, rows, slice(max(c0, 0), min(c0 + pool[1], w))


def np_pool(x, kind, pool, strides, padding):
    n, h, w, c = x.shape
    oh, _ = _axis(h, pool[0], strides[0], padding)
    ow, _ = _axis(w, pool[1], strides[1], padding)
    y = np.zeros((n, oh, ow, c), x.dtype)
    for i, j, rs, cs in _windows(x.shape, pool, strides, padding):
        win = x[:, rs, cs, :]
        y[:, i, j, :] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return y


def np_pool_backward(dy, x, kind, pool, strides, padding):
    """Reference gradient; max: the first maximum (row-major) of each window."""
    dx = np.zeros(x.shape, np.float64)
    for i, j, rs, cs in _windows(x.shape, pool, strides, padding):
        win = x[:, rs, cs, :]
        kh, kw = win.shape[1], win.shape[2]
        g = dy[:, i, j, :].astype(np.float64)
        if kind == "max":
            flat = win.reshape(win.shape[0], kh * kw, -1)
            first = flat.argmax(axis=1)  # argmax returns the first maximum
            onehot = (np.arange(kh * kw)[None, :, None] == first[:, None, :]).reshape(win.shape)
            dx[:, rs, cs, :] += onehot * g[:, None, None, :]
        else:
            dx[:, rs, cs, :] += g[:, None, None, :] / (kh * kw)
    return dx.astype(x.dtype)


CASES = [
    # (shape, pool_size, strides, padding)
    ((2, 6, 6, 3), (2, 2), None, "valid"),
    ((3, 7, 5, 4), (2, 2), None, "valid"),  # odd sizes: last row/col dropped
    ((2, 7, 9, 5), (3, 3), (2, 2), "valid"),  # overlapping windows
    ((1, 9, 8, 17), (3, 2), (1, 3), "valid"),  # strides != pool size
    ((2, 7, 5, 3), (2, 2), None, "same"),
    ((2, 5, 7, 6), (3, 3), (2, 2), "same"),  # padding on both sides
    ((1, 6, 6, 2), (4, 3), (1, 2), "same"),
    ((2, 1, 1, 3), (2, 2), (1, 1), "same"),
    ((1, 3, 3, 33), (3, 3), (1, 1), "same"),  # channels not a multiple of the vector width
    ((4, 12, 10, 8), (2, 3), (3, 2), "same"),
]


def _args(pool, strides):
    return dict(pool_size=pool, strides=strides)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,pool,strides,padding", CASES)
def test_forward_matches_numpy(rng, dtype, shape, pool, strides, padding):
    x = rng.standard_normal(shape).astype(dtype)
    st = pool if strides is None else strides
    want_max = np_pool(x, "max", pool, st, padding)
    got = ops.max_pool2d(x, padding=padding, **_args(pool, strides))
    assert got.dtype == dtype and got.shape == want_max.shape
    np.testing.assert_array_equal(got, want_max)
    want_avg = np_pool(x.astype(np.float64), "avg", pool, st, padding)
    got = ops.avg_pool2d(x, padding=padding, **_args(pool, strides))
    assert got.dtype == dtype and got.shape == want_avg.shape
    np.testing.assert_allclose(got, want_avg, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,pool,strides,padding", CASES)
def test_backward_matches_numpy(rng, dtype, shape, pool, strides, padding):
    x = rng.standard_normal(shape).astype(dtype)
    st = pool if strides is None else strides
    y = ops.max_pool2d(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    got = ops.max_pool2d_backward(dy, x, pool, strides, padding)
    np.testing.assert_allclose(got, np_pool_backward(dy, x, "max", pool, st, padding), rtol=tol, atol=tol)
    got = ops.avg_pool2d_backward(dy, x, pool, strides, padding)
    np.testing.assert_allclose(got, np_pool_backward(dy, x, "avg", pool, st, padding), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape,pool,strides,padding", CASES)
def test_backward_through_relu_equals_relu_backward_after(rng, dtype, shape, pool, strides, padding):
    x = np.maximum(rng.standard_normal(shape), 0).astype(dtype)  # a ReLU's output: many exact zeros
    dy = rng.standard_normal(ops.max_pool2d(x, pool, strides, padding).shape).astype(dtype)
    want = ops.relu_backward(ops.max_pool2d_backward(dy, x, pool, strides, padding), x)
    got = ops.max_pool2d_backward(dy, x, pool, strides, padding, through_relu=True)
    np.testing.assert_array_equal(got, want)


def central_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize(
    "shape,pool,strides,padding",
    [((2, 5, 6, 3), (2, 2), None, "valid"), ((1, 5, 5, 2), (3, 3), (2, 1), "same"), ((1, 4, 7, 2), (2, 3), (1, 2), "same")],
)
def test_gradients_match_central_differences(rng, shape, pool, strides, padding):
    # Distinct values at least 0.01 apart: a 1e-6 step never changes an argmax.
    x = (rng.permutation(int(np.prod(shape))) * 0.01).reshape(shape) + rng.uniform(0, 1e-3, shape)
    y = ops.max_pool2d(x, pool, strides, padding)
    w = rng.standard_normal(y.shape)
    for kind, fwd, bwd in [
        ("max", ops.max_pool2d, ops.max_pool2d_backward),
        ("avg", ops.avg_pool2d, ops.avg_pool2d_backward),
    ]:
        num = central_difference(lambda v: float((fwd(v, pool, strides, padding) * w).sum()), x)
        got = bwd(w, x, pool, strides, padding)
        np.testing.assert_allclose(got, num, atol=1e-7, err_msg=kind)


def test_global_pools_match_numpy_and_central_differences(rng):
    for dtype in FLOATS:
        x = rng.standard_normal((3, 5, 4, 7)).astype(dtype)
        np.testing.assert_allclose(ops.global_avg_pool2d(x), x.mean(axis=(1, 2)), rtol=1e-6)
        np.testing.assert_array_equal(ops.global_max_pool2d(x), x.max(axis=(1, 2)))
        assert ops.global_avg_pool2d(x).dtype == dtype
    x = (rng.permutation(2 * 3 * 4 * 5) * 0.01).reshape(2, 3, 4, 5)
    w = rng.standard_normal((2, 5))
    num = central_difference(lambda v: float((ops.global_avg_pool2d(v) * w).sum()), x)
    np.testing.assert_allclose(ops.global_avg_pool2d_backward(w, x.shape), num, atol=1e-7)
    np.testing.assert_allclose(ops.global_avg_pool2d_backward(w, x), num, atol=1e-7)
    num = central_difference(lambda v: float((ops.global_max_pool2d(v) * w).sum()), x)
    np.testing.assert_allclose(ops.global_max_pool2d_backward(w, x), num, atol=1e-7)


def test_max_ties_go_to_the_first_maximum_only():
    # One 2x2 window per image; equal maxima at several positions.
    x = np.array([[[[1.0], [3.0]], [[3.0], [0.0]]], [[[2.0], [2.0]], [[2.0], [2.0]]]], np.float32)
    dx = ops.max_pool2d_backward(np.array([[[[5.0]]], [[[7.0]]]], np.float32), x)
    np.testing.assert_array_equal(dx[..., 0], [[[0, 5], [0, 0]], [[7, 0], [0, 0]]])
    # Overlapping windows over a constant image: each window feeds its own first cell.
    x = np.ones((1, 3, 3, 2))
    dx = ops.max_pool2d_backward(np.ones((1, 2, 2, 2)), x, pool_size=2, strides=1)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    # Global max: the first maximum in row-major (h, w) order.
    x = np.zeros((1, 2, 3, 1))
    x[0, 0, 2, 0] = x[0, 1, 0, 0] = 4.0
    dx = ops.global_max_pool2d_backward(np.array([[3.0]]), x)
    assert dx[0, 0, 2, 0] == 3.0 and dx.sum() == 3.0


def test_nan_propagates_and_takes_the_gradient():
    x = np.array([1.0, np.nan, 9.0, np.nan]).reshape(1, 2, 2, 1)
    assert np.isnan(ops.max_pool2d(x)).all()
    np.testing.assert_array_equal(ops.max_pool2d_backward(np.ones((1, 1, 1, 1)), x).ravel(), [0, 1, 0, 0])
    assert np.isnan(ops.avg_pool2d(x)).all()
    assert np.isnan(ops.global_max_pool2d(x)).all() and np.isnan(ops.global_avg_pool2d(x)).all()


@pytest.mark.parametrize("shape", [(0, 4, 4, 3), (2, 4, 4, 0), (2, 1, 5, 3)])
def test_empty_inputs_and_outputs(shape):
    x = np.ones(shape, np.float32)
    y = ops.max_pool2d(x, pool_size=2)  # (2, 1, 5, 3): no 2x2 window fits
    assert y.shape == np_pool(x, "max", (2, 2), (2, 2), "valid").shape
    assert ops.max_pool2d_backward(np.ones(y.shape, np.float32), x).shape == shape
    dx = ops.avg_pool2d_backward(np.ones(y.shape, np.float32), shape)
    assert dx.shape == shape and not dx.any()
    assert ops.global_avg_pool2d(x).shape == (shape[0], shape[3])


def test_bitwise_identical_across_thread_counts(rng):
    x = rng.standard_normal((16, 31, 29, 24)).astype(np.float32)
    y = ops.max_pool2d(x, 3, 1, "same")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(1)
        want = [ops.max_pool2d_backward(dy, x, 3, 1, "same"), ops.avg_pool2d_backward(dy, x.shape, 3, 1, "same")]
        for n in (2, 3, 5):
            ferronet.set_num_threads(n)
            assert np.array_equal(ops.max_pool2d_backward(dy, x, 3, 1, "same"), want[0])
            assert np.array_equal(ops.avg_pool2d_backward(dy, x.shape, 3, 1, "same"), want[1])
            assert np.array_equal(ops.max_pool2d(x, 3, 1, "same"), y)
    finally:
        ferronet.set_num_threads(n0)


def test_large_input_matches_numpy(rng):
    # Big enough to run in parallel chunks.
    x = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
    y = ops.max_pool2d(x)
    np.testing.assert_array_equal(y, x.reshape(64, 13, 2, 13, 2, 32).max(axis=(2, 4)))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = ops.max_pool2d_backward(dy, x)
    win = x.reshape(64, 13, 2, 13, 2, 32).transpose(0, 1, 3, 5, 2, 4).reshape(64, 13, 13, 32, 4)
    first = win.argmax(axis=-1)
    want = (np.arange(4) == first[..., None]) * dy[..., None]
    want = want.reshape(64, 13, 13, 32, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(x.shape)
    np.testing.assert_array_equal(dx, want)


def test_out_argument_and_promotion(rng):
    x = rng.standard_normal((2, 4, 4, 3)).astype(np.float32)
    out = np.empty((2, 2, 2, 3), np.float32)
    assert ops.max_pool2d(x, out=out) is out
    np.testing.assert_array_equal(out, np_pool(x, "max", (2, 2), (2, 2), "valid"))
    dx = ops.max_pool2d_backward(np.ones((2, 2, 2, 3)), x)  # float64 dy promotes
    assert dx.dtype == np.float64
    assert ops.avg_pool2d_backward(np.ones((2, 2, 2, 3), np.float32), x.astype(np.float64)).dtype == np.float64
    # Non-contiguous views are accepted (copied).
    np.testing.assert_array_equal(ops.max_pool2d(x[:, ::-1]), np_pool(x[:, ::-1], "max", (2, 2), (2, 2), "valid"))
    np.testing.assert_array_equal(ops.max_pool2d(x, 2, None), ops.max_pool2d(x, (2, 2), (2, 2)))


def test_errors_are_clear():
    x = np.ones((2, 4, 4, 3), np.float32)
    with pytest.raises(ferronet.ShapeError, match=r"max_pool2d: expected a 4-D x .*Received: x.shape=\(4, 4, 3\)"):
        ops.max_pool2d(x[0])
    with pytest.raises(ferronet.ArgumentError, match=r"pool_size must be positive. Received: pool_size=\(2, 0\)"):
        ops.max_pool2d(x, (2, 0))
    with pytest.raises(ferronet.ArgumentError, match=r"strides must be an int or a pair"):
        ops.avg_pool2d(x, 2, "2")
    with pytest.raises(ferronet.ArgumentError, match=r"padding must be 'valid' or 'same'. Received: padding='full'"):
        ops.max_pool2d(x, padding="full")
    with pytest.raises(ferronet.DTypeError, match=r"x.dtype=int64"):
        ops.max_pool2d(np.ones((1, 2, 2, 1), np.int64))
    with pytest.raises(ferronet.ShapeError, match=r"dy must have shape \(2, 2, 2, 3\) .*Received: dy.shape=\(2, 1, 2, 3\)"):
        ops.max_pool2d_backward(np.ones((2, 1, 2, 3), np.float32), x)
    with pytest.raises(ferronet.ShapeError, match=r"out has shape"):
        ops.max_pool2d(x, out=np.empty((2, 3, 3, 3), np.float32))
    with pytest.raises(ferronet.DTypeError):
        ops.max_pool2d(x, out=np.empty((2, 2, 2, 3), np.float64))
    with pytest.raises(ferronet.ShapeError, match=r"global_avg_pool2d_backward: expected a 4-D x"):
        ops.global_avg_pool2d_backward(np.ones((2, 3)), (2, 3))
    with pytest.raises(ferronet.ShapeError, match=r"dy must have shape \(2, 3\) .*Received: dy.shape=\(3, 2\)"):
        ops.global_max_pool2d_backward(np.ones((3, 2), np.float32), x)
    with pytest.raises(ferronet.ArgumentError, match="negative"):
        ops.avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, -2, 2, 1))
