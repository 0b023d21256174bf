"""depthwise_conv2d, affine_transform and resize against NumPy/SciPy references, their gradients against float64
central differences, thread-count independence and argument errors."""

import numpy as np
import pytest

import ferronet
from ferronet import ops
from ferronet.errors import ArgumentError, DTypeError, ShapeError

RNG = np.random.default_rng(5)


def depthwise_reference(x, k, strides, padding, dilation):
    """Direct definition with TensorFlow's 'same' padding (odd cell at the end)."""
    n, h, w, c = x.shape
    kh, kw, _, dm = k.shape
    (sh, sw), (dh, dw) = strides, dilation

    def axis(size, kk, s, d):
        span = (kk - 1) * d + 1
        if padding == "valid":
            return (size - span) // s + 1, 0
        out = -(-size // s)
        return out, max((out - 1) * s + span - size, 0) // 2

    (oh, pt), (ow, pl) = axis(h, kh, sh, dh), axis(w, kw, sw, dw)
    xp = np.zeros((n, h + 2 * kh * dh + oh * sh, w + 2 * kw * dw + ow * sw, c), x.dtype)
    xp[:, pt:pt + h, pl:pl + w] = x
    y = np.zeros((n, oh, ow, c, dm), np.float64)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
            y += win[..., None] * k[i, j]
    return y.reshape(n, oh, ow, c * dm)


DW_CASES = [
    ((2, 7, 6, 3), (3, 3, 3, 1), (1, 1), "same", (1, 1)),
    ((1, 9, 8, 5), (3, 2, 5, 2), (2, 2), "same", (1, 1)),
    ((2, 8, 8, 17), (3, 3, 17, 3), (1, 2), "valid", (1, 1)),
    ((1, 10, 9, 4), (3, 3, 4, 1), (1, 1), "same", (2, 2)),
    ((3, 5, 5, 33), (5, 5, 33, 1), (2, 1), "valid", (1, 1)),
    # Wide rows and whole vectors of channels: the register tiles on interior
    # pixels, the per-pixel loop on the borders and leftover channels.
    ((2, 6, 37, 40), (3, 3, 40, 1), (1, 1), "same", (1, 1)),
    ((1, 7, 33, 16), (3, 3, 16, 2), (1, 1), "same", (1, 1)),
    ((1, 9, 40, 24), (3, 3, 24, 1), (1, 1), "same", (2, 3)),
    ((2, 5, 41, 32), (3, 5, 32, 1), (2, 3), "same", (1, 1)),
    ((1, 1, 50, 48), (1, 7, 48, 1), (1, 1), "same", (1, 1)),
]

# Gradient cases small enough for central differences yet wide enough for
# the tiles (8 float64 channels fill one AVX-512 vector, 4 one AVX2 vector).
DW_TILE_GRAD_CASES = [
    ((1, 5, 20, 8), (3, 3, 8, 1), (1, 1), "same", (1, 1)),
    ((1, 4, 19, 4), (3, 3, 4, 2), (1, 1), "same", (1, 2)),
    ((1, 5, 23, 8), (2, 3, 8, 1), (2, 2), "valid", (1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ks,st,pad,dil", DW_CASES)
def test_depthwise_conv2d_matches_reference(dtype, xs, ks, st, pad, dil):
    x, k = RNG.standard_normal(xs).astype(dtype), RNG.standard_normal(ks).astype(dtype)
    b = RNG.standard_normal(ks[2] * ks[3]).astype(dtype)
    y = ops.depthwise_conv2d(x, k, st, pad, dilation_rate=dil, bias=b)
    assert y.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, depthwise_reference(x, k, st, pad, dil) + b, rtol=tol, atol=tol)
    np.testing.assert_array_equal(ops.depthwise_conv(x, k, st, pad, dilation_rate=dil), ops.depthwise_conv2d(
        x, k, st, pad, dilation_rate=dil))


def _numeric(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        hi = f()
        a[i] = old - eps
        lo = f()
        a[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("xs,ks,st,pad,dil", [
    ((1,) + xs[1:3] + (min(xs[3], 4),), ks[:2] + (min(xs[3], 4), ks[3]), st, pad, dil)
    for xs, ks, st, pad, dil in DW_CASES[:4]] + DW_TILE_GRAD_CASES)
def test_depthwise_conv2d_gradients_match_central_differences(xs, ks, st, pad, dil):
    x, k = RNG.standard_normal(xs), RNG.standard_normal(ks)
    dy = RNG.standard_normal(ops.depthwise_conv2d(x, k, st, pad, dilation_rate=dil).shape)
    dx, dk, db = ops.depthwise_conv2d_backward(dy, x, k, st, pad, dil)

    def loss():
        return float(np.sum(ops.depthwise_conv2d(x, k, st, pad, dilation_rate=dil) * dy))

    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dk, _numeric(loss, k), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, dy.reshape(-1, dy.shape[-1]).sum(0), rtol=1e-12)
    none = ops.depthwise_conv2d_backward(dy, x, k, st, pad, dil, need_dx=False, need_db=False)
    assert none[0] is None and none[2] is None and np.array_equal(none[1], dk)


def test_results_do_not_depend_on_the_thread_count():
    x = RNG.standard_normal((16, 20, 20, 24)).astype(np.float32)
    k = RNG.standard_normal((3, 3, 24, 2)).astype(np.float32)
    t = np.tile([0.9, -0.2, 1.5, 0.25, 1.1, -2.0, 0.001, 0.002], (16, 1))
    n0 = ferronet.get_num_threads()
    runs = []
    try:
        for n in (1, 2, 3):
            ferronet.set_num_threads(n)
            y = ops.depthwise_conv2d(x, k, padding="same")
            grads = ops.depthwise_conv2d_backward(y, x, k, padding="same")
            z = ops.affine_transform(x, t, fill_mode="reflect")
            c = ops.adjust_images(x, np.linspace(0.5, 1.5, 16), 0.1, True, (-1, 1))
            runs.append([y, *grads, z, ops.affine_transform_backward(z, x.shape, t, fill_mode="reflect"), c,
                         ops.adjust_images_backward(c, x, np.linspace(0.5, 1.5, 16), 0.1, True, (-1, 1))])
    finally:
        ferronet.set_num_threads(n0)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


SCIPY_MODES = {"reflect": "reflect", "wrap": "grid-wrap", "nearest": "nearest", "constant": "grid-constant"}


@pytest.mark.parametrize("fill_mode", list(SCIPY_MODES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_transform_bilinear_matches_scipy_map_coordinates(fill_mode, dtype):
    ndimage = pytest.importorskip("scipy.ndimage")
    x = RNG.standard_normal((3, 9, 7, 2)).astype(dtype)
    t = np.array([[np.cos(0.4), -np.sin(0.4), 2.0, np.sin(0.4), np.cos(0.4), -1.5, 0.0, 0.0],
                  [1.7, 0.2, -4.0, -0.1, 0.6, 3.3, 0.01, -0.02],
                  [1.0, 0.0, -20.3, 0.0, 1.0, 12.7, 0.0, 0.0]])
    y = ops.affine_transform(x, t, "bilinear", fill_mode, fill_value=0.5, output_size=(8, 11))
    assert y.shape == (3, 8, 11, 2) and y.dtype == dtype
    oy, ox = np.mgrid[0:8, 0:11].astype(np.float64)
    for b in range(3):
        a = t[b]
        k = a[6] * ox + a[7] * oy + 1
        xi, yi = (a[0] * ox + a[1] * oy + a[2]) / k, (a[3] * ox + a[4] * oy + a[5]) / k
        for c in range(2):
            ref = ndimage.map_coordinates(x[b, :, :, c].astype(np.float64), [yi, xi], order=1,
                                          mode=SCIPY_MODES[fill_mode], cval=0.5)
            np.testing.assert_allclose(y[b, :, :, c], ref, rtol=1e-5, atol=1e-5)


def test_affine_transform_nearest_and_flips_are_exact():
    x = RNG.standard_normal((2, 5, 6, 3))
    flip = [-1, 0, 5, 0, 1, 0, 0, 0]
    np.testing.assert_array_equal(ops.affine_transform(x, flip, "nearest"), x[:, :, ::-1])
    np.testing.assert_array_equal(ops.affine_transform(x, flip, "bilinear"), x[:, :, ::-1])
    # nearest: output (x, y) reads pixel round(input point), indices outside mapped by the fill mode
    t = [1.0, 0.0, -2.4, 0.0, 1.0, 1.6, 0.0, 0.0]
    y = ops.affine_transform(x, t, "nearest", "wrap")
    rows, cols = (np.arange(5) + 2) % 5, (np.arange(6) - 2) % 6
    np.testing.assert_array_equal(y, x[:, rows][:, :, cols])
    single = ops.affine_transform(x[0], t, "nearest", "wrap")
    np.testing.assert_array_equal(single, y[0])


def resize_reference(x, size):
    """tf.image.resize bilinear with half-pixel centers, written out per axis."""
    def weights(n_in, n_out):
        pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        lo = np.floor(pos)
        frac = pos - lo
        m = np.zeros((n_out, n_in))
        for o in range(n_out):
            a, b = int(np.clip(lo[o], 0, n_in - 1)), int(np.clip(lo[o] + 1, 0, n_in - 1))
            m[o, a] += 1 - frac[o]
            m[o, b] += frac[o]
        return m

    wy, wx = weights(x.shape[1], size[0]), weights(x.shape[2], size[1])
    return np.einsum("ph,qw,nhwc->npqc", wy, wx, x)


@pytest.mark.parametrize("size", [(10, 14), (3, 2), (5, 7), (1, 9)])
def test_resize_matches_half_pixel_reference(size):
    x = RNG.standard_normal((2, 5, 7, 3))
    np.testing.assert_allclose(ops.resize(x, size), resize_reference(x, size), rtol=1e-12, atol=1e-12)
    # nearest: pixel floor((o + 0.5) * in / out)
    near = ops.resize(x, size, "nearest")
    r = np.minimum(np.floor((np.arange(size[0]) + 0.5) * 5 / size[0]).astype(int), 4)
    c = np.minimum(np.floor((np.arange(size[1]) + 0.5) * 7 / size[1]).astype(int), 6)
    np.testing.assert_array_equal(near, x[:, r][:, :, c])


def test_resize_upsampling_by_two_matches_keras_values():
    x = np.array([0.0, 1.0, 2.0], np.float32).reshape(1, 1, 3, 1)
    np.testing.assert_allclose(ops.resize(x, (1, 6))[0, 0, :, 0], [0, 0.25, 0.75, 1.25, 1.75, 2], atol=1e-7)
    np.testing.assert_array_equal(ops.resize(x, (1, 6), "nearest")[0, 0, :, 0], [0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", list(SCIPY_MODES))
def test_affine_gradient_is_the_transpose(interpolation, fill_mode):
    x = RNG.standard_normal((2, 6, 5, 3))
    t = np.array([[0.8, -0.4, 1.3, 0.3, 1.2, -0.9, 0.01, 0.0], [1.1, 0.0, -2.2, 0.0, 0.9, 0.7, 0.0, 0.0]])
    dy = RNG.standard_normal((2, 7, 4, 3))
    dx = ops.affine_transform_backward(dy, x.shape, t, interpolation, fill_mode)

    def loss():
        return float(np.sum(ops.affine_transform(x, t, interpolation, fill_mode, 0.0, output_size=(7, 4)) * dy))

    np.testing.assert_allclose(dx, _numeric(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ops.resize_backward(dy, (2, 3, 2, 3)), _numeric(
        lambda: float(np.sum(ops.resize(xs, (7, 4)) * dy)), xs := RNG.standard_normal((2, 3, 2, 3))),
        rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adjust_images_matches_numpy_and_central_differences(center, dtype):
    x = RNG.random((3, 4, 5, 6)).astype(dtype)
    f, d = np.array([0.5, 1.3, 2.0]), np.array([0.1, -0.05, 0.0])
    y = ops.adjust_images(x, f, d, center, (0.0, 1.0))
    mean = x.mean(axis=(1, 2), keepdims=True) if center else 0
    ref = np.clip(f[:, None, None, None] * (x - mean) + mean + d[:, None, None, None], 0, 1)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)
    if dtype == np.float64:
        x = x * 0.6 + 0.2  # away from the clip bounds for most pixels; clipped ones pass no gradient
        dy = RNG.standard_normal(x.shape)
        dx = ops.adjust_images_backward(dy, x, f, d, center, (0.0, 1.0))
        num = _numeric(lambda: float(np.sum(ops.adjust_images(x, f, d, center, (0.0, 1.0)) * dy)), x)
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


def test_bad_arguments_say_what_was_received():
    x = np.zeros((2, 5, 5, 3), np.float32)
    with pytest.raises(ShapeError, match="kernel"):
        ops.depthwise_conv2d(x, np.zeros((3, 3, 2, 1), np.float32))
    with pytest.raises(ArgumentError, match="padding"):
        ops.depthwise_conv2d(x, np.zeros((3, 3, 3, 1), np.float32), padding="full")
    with pytest.raises(ArgumentError, match="channels_last"):
        ops.depthwise_conv2d(x, np.zeros((3, 3, 3, 1), np.float32), data_format="channels_first")
    with pytest.raises(DTypeError, match="float32 or float64"):
        ops.depthwise_conv2d(x.astype(np.complex64), np.zeros((3, 3, 3, 1)))
    with pytest.raises(ArgumentError, match="fill_mode"):
        ops.affine_transform(x, np.eye(3).ravel()[:8], fill_mode="mirror")
    with pytest.raises(ArgumentError, match="interpolation"):
        ops.resize(x, (3, 3), interpolation="bicubic")
    with pytest.raises(ShapeError, match=r"transform.shape=\(3, 8\)"):
        ops.affine_transform(x, np.zeros((3, 8)))
    with pytest.raises(ShapeError, match="images"):
        ops.affine_transform(np.zeros((5, 5)), np.zeros(8))
    with pytest.raises(ArgumentError, match="value_range"):
        ops.adjust_images(x, 1.0, 0.0, value_range=(1, 0))
    with pytest.raises(ShapeError, match="factor"):
        ops.adjust_images(x, [1.0, 2.0, 3.0])
    with pytest.raises(ShapeError, match="dy"):
        ops.depthwise_conv2d_backward(np.zeros((2, 4, 4, 3)), x, np.zeros((3, 3, 3, 1)), padding="same")
