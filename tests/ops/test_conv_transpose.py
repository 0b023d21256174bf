"""conv_transpose against the scatter definition (every stride phase, narrow and wide tiles, the GEMM fallback),
Keras' output sizes, the bias, bfloat16 products, thread-count independence and argument errors."""

import numpy as np
import pytest

import ferronet
from ferronet import ops
from ferronet.errors import ArgumentError, ShapeError


def reference(x, w, strides, padding, output_padding, dilation):
    """The transposed convolution by its definition: every input pixel spread over its output window."""
    n, h, wd, _ = x.shape
    kh, kw, c_out, _ = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    size = [ops.deconv_length(d, k, padding, p, s, dl) for d, k, p, s, dl in
            zip((h, wd), (kh, kw), output_padding, strides, dilation)]
    # The padding TensorFlow gives the convolution whose input is `size` large.
    pads = []
    for length, k, s, d, out in zip(size, (kh, kw), strides, dilation, (h, wd)):
        span = (k - 1) * d + 1
        pads.append(max((out - 1) * s + span - length, 0) // 2 if padding == "same" else 0)
    y = np.zeros((n, *size, c_out))
    for oh in range(h):
        for ow in range(wd):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = oh * sh + i * dh - pads[0], ow * sw + j * dw - pads[1]
                    if 0 <= ih < size[0] and 0 <= iw < size[1]:
                        y[:, ih, iw, :] += x[:, oh, ow, :] @ w[i, j].T
    return y


CASES = [
    # (x shape, kernel shape, strides, padding, output_padding, dilation)
    ((2, 7, 7, 32), (3, 3, 32, 32), (2, 2), "same", (None, None), (1, 1)),   # a decoder's 7 -> 14, wide tile
    ((2, 5, 6, 8), (3, 3, 12, 8), (2, 2), "valid", (None, None), (1, 1)),    # ragged panel
    ((1, 6, 5, 4), (3, 3, 10, 4), (2, 2), "same", (1, 1), (1, 1)),           # output_padding
    ((1, 4, 4, 3), (2, 2, 5, 3), (3, 3), "valid", (None, None), (1, 1)),     # phases no tap reaches
    ((1, 5, 5, 6), (4, 4, 7, 6), (2, 3), "same", (None, None), (1, 1)),      # unequal strides, 2 taps per phase
    ((2, 6, 6, 5), (3, 3, 4, 5), (1, 1), "same", (None, None), (1, 1)),      # unit stride
    ((1, 6, 6, 3), (3, 3, 5, 3), (2, 1), "same", (None, None), (1, 2)),      # dilated: the GEMM path
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ks,st,pad,op,dil", CASES)
def test_conv_transpose_matches_the_definition(dtype, xs, ks, st, pad, op, dil):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ks).astype(dtype)
    b = rng.standard_normal(ks[2]).astype(dtype)
    output_padding = None if op == (None, None) else op
    y = ops.conv_transpose(x, w, st, pad, output_padding, dilation_rate=dil, bias=b)
    want = reference(x.astype(np.float64), w.astype(np.float64), st, pad, op, dil) + b
    tol = 1e-4 if dtype == np.float32 else 1e-11
    assert y.dtype == dtype and y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)


def test_it_is_the_input_gradient_of_conv2d_and_matches_the_layer():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 7, 7, 16)).astype(np.float32), rng.standard_normal((3, 3, 8, 16)).astype(np.float32)
    y = ops.conv_transpose(x, w, 2, "same")
    dx, _, _ = ops.conv2d_backward(x, np.empty(y.shape, np.float32), w, 2, "same", need_dw=False, need_db=False)
    np.testing.assert_allclose(y, dx, rtol=1e-5, atol=1e-5)
    layer = ferronet.layers.Conv2DTranspose(8, 3, strides=2, padding="same")
    layer.build(x.shape)
    layer.kernel.assign(w)
    np.testing.assert_array_equal(np.asarray(layer(x)), y)


def test_bfloat16_products_and_the_out_buffer():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 7, 7, 32)).astype(np.float32), rng.standard_normal((3, 3, 32, 32)).astype(
        np.float32)
    rounded = [(a.view(np.uint32) + 0x7FFF + ((a.view(np.uint32) >> 16) & 1) & 0xFFFF0000).view(np.float32)
               for a in (x, w)]
    want = reference(*(r.astype(np.float64) for r in rounded), (2, 2), "same", (None, None), (1, 1))
    out = np.empty(want.shape, np.float32)
    got = ops.conv_transpose(x, w, 2, "same", precision="bfloat16", out=out)
    assert got is out
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((8, 14, 14, 32)).astype(np.float32), rng.standard_normal((3, 3, 32, 32)).astype(
        np.float32)
    threads = ferronet.get_num_threads()
    try:
        runs = []
        for t in (1, 2, 3):
            ferronet.set_num_threads(t)
            runs.append(ops.conv_transpose(x, w, 2, "same", bias=np.ones(32, np.float32)))
    finally:
        ferronet.set_num_threads(threads)
    assert all(np.array_equal(runs[0], r) for r in runs[1:])


def test_bad_arguments_name_what_was_wrong():
    x = np.ones((1, 4, 4, 3), np.float32)
    with pytest.raises(ShapeError, match="channels last"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 2), np.float32))
    with pytest.raises(ArgumentError, match="channels_last"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 3), np.float32), data_format="channels_first")
    with pytest.raises(ArgumentError, match="output_padding"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 3), np.float32), strides=2, output_padding=2)
    with pytest.raises(ShapeError, match="bias"):
        ops.conv_transpose(x, np.ones((3, 3, 5, 3), np.float32), bias=np.ones(4, np.float32))
