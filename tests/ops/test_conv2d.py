import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ferronet
from ferronet import ops

from .gradcheck import assert_grad


def _pads(n, k, s, d, padding):
    span = d * (k - 1) + 1
    if padding == "valid":
        return (n - span) // s + 1 if n >= span else 0, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + span - n, 0)
    return out, total // 2, total - total // 2


def reference_conv2d(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Straightforward NumPy convolution (TensorFlow's padding rules)."""
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    oh, pt, pb = _pads(h, kh, strides[0], dilation[0], padding)
    ow, pl, pr = _pads(wd, kw, strides[1], dilation[1], padding)
    xp = np.pad(x, ((0, 0), (pt, pb + kh * dilation[0]), (pl, pr + kw * dilation[1]), (0, 0)))
    y = np.zeros((n, oh, ow, f), dtype=np.result_type(x, w))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            patch = xp[:, r0 : r0 + strides[0] * oh : strides[0], c0 : c0 + strides[1] * ow : strides[1], :]
            y += patch[:, :oh, :ow, :] @ w[i, j]
    if b is not None:
        y += b
    return y


CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 4), 1, "valid", 1),
    ((2, 7, 6, 3), (3, 3, 3, 4), 2, "same", 1),
    ((1, 9, 8, 2), (3, 2, 2, 5), (1, 2), "same", (2, 1)),
    ((3, 5, 5, 4), (1, 1, 4, 6), 1, "valid", 1),
    ((2, 6, 6, 3), (2, 2, 3, 2), 2, "valid", 1),
    ((1, 4, 4, 1), (5, 5, 1, 2), 1, "same", 1),
    ((2, 13, 13, 8), (3, 3, 8, 16), 1, "valid", 2),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ks,s,pad,d", CASES)
def test_forward_matches_reference(rng, dtype, xs, ks, s, pad, d):
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ks).astype(dtype)
    b = rng.standard_normal(ks[3]).astype(dtype)
    got = ops.conv2d(x, w, b, strides=s, padding=pad, dilation_rate=d)
    want = reference_conv2d(x.astype(np.float64), w.astype(np.float64), b, _pair(s), pad, _pair(d))
    assert got.dtype == dtype and got.shape == want.shape
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "softplus", "silu", "gelu"])
def test_fused_activation_equals_activation_after(rng, dtype, act):
    x = rng.standard_normal((3, 15, 14, 3)).astype(dtype)  # several 128-row tiles, a ragged last one
    w = rng.standard_normal((3, 3, 3, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    want = getattr(ops, act)(ops.conv2d(x, w, b, padding="same"))
    got = ops.conv2d(x, w, b, padding="same", activation=act)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ferronet.ArgumentError, match="activation must be one of 'relu'.*Received: activation='elu'"):
        ops.conv2d(x, w, b, activation="elu")


@pytest.mark.parametrize("xs,ks,s,pad,d", CASES[:6])
def test_backward_matches_central_differences(rng, xs, ks, s, pad, d):
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ks)
    b = rng.standard_normal(ks[3])
    y = ops.conv2d(x, w, b, s, pad, d)
    dy = rng.standard_normal(y.shape)

    def loss():
        return float((ops.conv2d(x, w, b, s, pad, d) * dy).sum())

    dx, dw, db = ops.conv2d_backward(dy, x, w, s, pad, d)
    assert_grad(dx, loss, x)
    assert_grad(dw, loss, w)
    assert_grad(db, loss, b)


# Few taps per output (K = kh*kw*c <= 32): the direct kernels, with whole and ragged filter panels.
DIRECT_CASES = [
    ((3, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 1),
    ((2, 11, 9, 3), (3, 3, 3, 64), 1, "same", 1),
    ((2, 12, 13, 2), (2, 3, 2, 16), (2, 1), "same", 1),
    ((1, 14, 10, 1), (3, 3, 1, 32), 1, "valid", (2, 3)),
    ((2, 9, 9, 4), (2, 2, 4, 10), 2, "valid", 1),
    ((1, 5, 7, 1), (5, 5, 1, 48), 1, "same", 1),
]


def _case(rng, dtype, xs, ks, s, pad, d):
    """Random x, kernel and bias of a geometry, the tolerance of ``dtype`` and the float64 reference output."""
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ks).astype(dtype)
    b = rng.standard_normal(ks[3]).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    return x, w, b, tol, reference_conv2d(x.astype(np.float64), w.astype(np.float64), b, _pair(s), pad, _pair(d))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ks,s,pad,d", DIRECT_CASES)
def test_small_k_paths_match_reference(rng, dtype, xs, ks, s, pad, d):
    x, w, b, tol, want = _case(rng, dtype, xs, ks, s, pad, d)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(ops.conv2d(x, w, b, s, pad, d), want, rtol=tol, atol=tol)
    np.testing.assert_allclose(ops.conv2d(x, w, b, s, pad, d, activation="relu"), np.maximum(want, 0), rtol=tol, atol=tol)
    dy = rng.standard_normal(want.shape).astype(dtype)
    _, dw, db = ops.conv2d_backward(dy, x, w, s, pad, d, need_dx=False)
    # dW[i, j, c, f] = sum over output pixels of x-window * dy: the reference conv's adjoint, tap by tap.
    want_dw = np.zeros(ks)
    for i in range(ks[0]):
        for j in range(ks[1]):
            for c in range(ks[2]):
                e = np.zeros(ks)
                e[i, j, c, :] = 1.0
                taps = reference_conv2d(x64, e, None, _pair(s), pad, _pair(d))[..., 0]
                want_dw[i, j, c] = np.einsum("nhw,nhwf->f", taps, dy.astype(np.float64))
    np.testing.assert_allclose(dw, want_dw, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(db, dy.astype(np.float64).sum((0, 1, 2)), rtol=tol, atol=tol * 10)


def reference_input_grad(dy, w, x_shape, strides, padding, dilation):
    """dL/dx of :func:`reference_conv2d`: each output pixel's dy times the kernel, added back over its window."""
    n, h, wd, c = x_shape
    kh, kw = w.shape[:2]
    (sh, sw), (dh, dw) = strides, dilation
    _, ph, _ = _pads(h, kh, sh, dh, padding)
    _, pw, _ = _pads(wd, kw, sw, dw, padding)
    dx = np.zeros(x_shape)
    for oh in range(dy.shape[1]):
        for ow in range(dy.shape[2]):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = oh * sh + i * dh - ph, ow * sw + j * dw - pw
                    if 0 <= ih < h and 0 <= iw < wd:
                        dx[:, ih, iw, :] += dy[:, oh, ow, :] @ w[i, j].T
    return dx


# Few filters (one vector of them: the narrow direct forward) and few input channels with unit strides (the input
# gradient as the direct forward of the turned kernel), and their neighbours that keep the GEMM paths.
NARROW_CASES = [
    ((2, 10, 9, 16), (3, 3, 16, 16), 1, "same", 1),
    ((2, 9, 11, 12), (3, 3, 12, 8), 1, "valid", 1),
    ((1, 8, 8, 16), (2, 2, 16, 16), 1, "same", 1),
    ((2, 9, 9, 10), (3, 3, 10, 6), 2, "same", 1),
    ((1, 12, 12, 8), (3, 3, 8, 5), 1, "same", 2),
    ((2, 7, 7, 40), (3, 3, 40, 16), 1, "same", 1),
    ((2, 7, 7, 16), (3, 3, 16, 40), 1, "valid", 1),
    # Rows of 28 and 11 output pixels: the shorter narrow tiles (14 pixels, whole; 12, ragged).
    ((1, 5, 28, 16), (3, 3, 16, 16), 1, "same", 1),
    ((2, 4, 13, 8), (3, 3, 8, 16), 1, "valid", 1),
    # Whole tiles of a 3-wide unit-stride kernel on 16 or 32 channels: the input-stationary tiles (16 and 8 filters).
    ((2, 3, 24, 32), (3, 3, 32, 16), 1, "same", 1),
    ((1, 4, 16, 16), (3, 3, 16, 8), 1, "same", 1),
    # Rows of 30 pixels: a last tile overlapping the one before it (narrow 16-pixel tiles, wide 8-pixel ones);
    # rows of 28: the 7-pixel wide tile.
    ((1, 4, 30, 16), (3, 3, 16, 16), 1, "same", 1),
    ((1, 3, 30, 8), (3, 3, 8, 40), 1, "same", 1),
    ((1, 3, 28, 8), (3, 3, 8, 40), 1, "same", 1),
    # Rows that fill the pixel tiles: the wide direct forward (ragged last filter panel), and its adjoint for dx.
    ((2, 8, 16, 12), (3, 3, 12, 40), 1, "same", 1),
    ((1, 6, 24, 20), (3, 3, 20, 24), 1, "same", 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ks,s,pad,d", NARROW_CASES)
def test_few_filters_and_few_channels_match_reference(rng, dtype, xs, ks, s, pad, d):
    x, w, b, tol, want = _case(rng, dtype, xs, ks, s, pad, d)
    np.testing.assert_allclose(ops.conv2d(x, w, b, s, pad, d), want, rtol=tol, atol=tol)
    dy = rng.standard_normal(want.shape).astype(dtype)
    dx, dw, db = ops.conv2d_backward(dy, x, w, s, pad, d)
    want_dx = reference_input_grad(dy.astype(np.float64), w.astype(np.float64), xs, _pair(s), pad, _pair(d))
    np.testing.assert_allclose(dx, want_dx, rtol=tol, atol=tol * 10)
    # dW through the same adjoint: dW[i, j] = sum over pixels of x-window^T dy.
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    want_dw = np.zeros(ks)
    _, ph, _ = _pads(xs[1], ks[0], _pair(s)[0], _pair(d)[0], pad)
    _, pw, _ = _pads(xs[2], ks[1], _pair(s)[1], _pair(d)[1], pad)
    for oh in range(dy.shape[1]):
        for ow in range(dy.shape[2]):
            for i in range(ks[0]):
                for j in range(ks[1]):
                    ih, iw = oh * _pair(s)[0] + i * _pair(d)[0] - ph, ow * _pair(s)[1] + j * _pair(d)[1] - pw
                    if 0 <= ih < xs[1] and 0 <= iw < xs[2]:
                        want_dw[i, j] += x64[:, ih, iw, :].T @ dy64[:, oh, ow, :]
    np.testing.assert_allclose(dw, want_dw, rtol=tol, atol=tol * 30)
    np.testing.assert_allclose(db, dy64.sum((0, 1, 2)), rtol=tol, atol=tol * 10)


def test_skipping_gradients_and_out_buffers(rng):
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 6, 6, 4)).astype(np.float32)
    dx, dw, db = ops.conv2d_backward(dy, x, w, need_dx=False)
    assert dx is None and dw.shape == w.shape and db.shape == (4,)
    dw_buf = np.empty_like(w)
    _, dw2, _ = ops.conv2d_backward(dy, x, w, need_dx=False, need_db=False, dw_out=dw_buf)
    assert dw2 is dw_buf and np.array_equal(dw_buf, dw)
    y = np.empty((2, 6, 6, 4), np.float32)
    assert ops.conv2d(x, w, out=y) is y


@pytest.mark.parametrize("xs,ks", [((16, 20, 20, 8), (3, 3, 8, 16)), ((16, 28, 28, 1), (3, 3, 1, 32))])
def test_bitwise_identical_across_thread_counts(rng, xs, ks):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ks).astype(np.float32)
    dy = rng.standard_normal((xs[0], xs[1] - 2, xs[2] - 2, ks[3])).astype(np.float32)
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(1)
        ref = [ops.conv2d(x, w)] + list(ops.conv2d_backward(dy, x, w))
        for n in (2, 3):
            ferronet.set_num_threads(n)
            got = [ops.conv2d(x, w)] + list(ops.conv2d_backward(dy, x, w))
            assert all(np.array_equal(a, b) for a, b in zip(ref, got))
    finally:
        ferronet.set_num_threads(n0)


def test_errors_name_shapes():
    x = np.ones((1, 5, 5, 3), np.float32)
    with pytest.raises(ferronet.ShapeError, match=r"3 channels.*\(3, 3, 2, 4\)"):
        ops.conv2d(x, np.ones((3, 3, 2, 4), np.float32))
    with pytest.raises(ferronet.ShapeError, match="NHWC"):
        ops.conv2d(np.ones((5, 5, 3), np.float32), np.ones((3, 3, 3, 4), np.float32))
    with pytest.raises(ferronet.ArgumentError, match="padding"):
        ops.conv2d(x, np.ones((3, 3, 3, 4), np.float32), padding="full")
    with pytest.raises(ferronet.ArgumentError, match="strides"):
        ops.conv2d(x, np.ones((3, 3, 3, 4), np.float32), strides=0)
    with pytest.raises(ferronet.DTypeError, match="int64"):
        ops.conv2d(x.astype(np.int64), np.ones((3, 3, 3, 4), np.int64))


def test_noncontiguous_and_empty(rng):
    x = rng.standard_normal((2, 10, 10, 6))[:, ::2, :, ::2]
    w = rng.standard_normal((3, 3, 3, 2))
    np.testing.assert_allclose(ops.conv2d(x, w), reference_conv2d(x, w), rtol=1e-12, atol=1e-12)
    assert ops.conv2d(np.ones((0, 5, 5, 3)), np.ones((3, 3, 3, 2))).shape == (0, 3, 3, 2)
    assert ops.conv2d(np.ones((1, 2, 2, 3)), np.ones((3, 3, 3, 2))).shape == (1, 0, 0, 2)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3), h=st.integers(1, 9), wd=st.integers(1, 9), c=st.integers(1, 5),
    kh=st.integers(1, 4), kw=st.integers(1, 4), f=st.integers(1, 5),
    s=st.integers(1, 3), d=st.integers(1, 2), same=st.booleans(),
)
def test_random_geometries(n, h, wd, c, kh, kw, f, s, d, same):
    r = np.random.default_rng(n + 7 * h + 13 * wd + c)
    x = r.standard_normal((n, h, wd, c))
    w = r.standard_normal((kh, kw, c, f))
    pad = "same" if same else "valid"
    np.testing.assert_allclose(
        ops.conv2d(x, w, None, s, pad, d), reference_conv2d(x, w, None, (s, s), pad, (d, d)), rtol=1e-11, atol=1e-11
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_backward(rng, dtype):
    x = rng.standard_normal((9, 7))
    w = rng.standard_normal((7, 5))
    b = rng.standard_normal(5)
    dy = rng.standard_normal((9, 5))
    dx, dw, db = ops.linear_backward(dy.astype(dtype), x.astype(dtype), w.astype(dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dx, dy @ w.T, rtol=tol, atol=tol)
    np.testing.assert_allclose(dw, x.T @ dy, rtol=tol, atol=tol)
    np.testing.assert_allclose(db, dy.sum(0), rtol=tol, atol=tol)
    if dtype == np.float64:
        loss = lambda: float((ops.linear(x, w, b) * dy).sum())  # noqa: E731
        assert_grad(dx, loss, x)
        assert_grad(dw, loss, w)
        assert_grad(db, loss, b)
    none_dx, _, _ = ops.linear_backward(dy, x, w, need_dx=False)
    assert none_dx is None
    # dx_accumulate adds dy·wᵀ to dx_out inside the product.
    prev = rng.standard_normal((9, 7)).astype(dtype)
    want = prev + dy @ w.T
    got, _, _ = ops.linear_backward(dy.astype(dtype), x.astype(dtype), w.astype(dtype), dx_out=prev, dx_accumulate=True)
    assert got is prev
    np.testing.assert_allclose(prev, want, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="dx_accumulate adds to dx_out"):
        ops.linear_backward(dy, x, w, dx_accumulate=True)
