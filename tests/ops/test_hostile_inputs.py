"""Inputs that once crashed an op, corrupted memory or raised the wrong exception.

Each op must either compute what NumPy computes or raise one of ferronet's
errors (ValueError/TypeError subclasses) naming the argument: never a pyo3
PanicException, an OverflowError from argument conversion, or silently wrong
values from outputs that alias inputs.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ferronet
from ferronet import ops
from ferronet.errors import ArgumentError, FerronetError, ShapeError

RNG = np.random.default_rng(7)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# 1. allocation failure ------------------------------------------------------------------------------------------

def test_failed_output_allocation_is_a_memory_error():
    a, b = np.empty((2**40, 1, 0), np.float32), np.empty((1, 0, 5), np.float32)
    with pytest.raises(MemoryError):
        ops.matmul(a, b)
    with pytest.raises(MemoryError):
        ops.global_avg_pool2d_backward(np.ones((1, 2**10), np.float32), (1, 2**20, 2**20, 2**10))


def test_empty_products_in_a_huge_batch_do_not_reserve_per_product_state():
    # (2**40 products of 0x0) once reserved 8 TiB of batch offsets and aborted the process: run it aside.
    code = textwrap.dedent("""
        import numpy as np
        from ferronet import ops
        y = ops.matmul(np.empty((2**40, 0, 3), np.float32), np.empty((1, 3, 0), np.float32))
        assert y.shape == (2**40, 0, 0)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("code", [
    "ops.sum_rows(np.empty((2**40, 3, 0)))",
    "ops.batch_norm_train(np.empty((2**40, 0), np.float32), np.empty(0, np.float32), np.empty(0, np.float32))",
], ids=["sum_rows", "batch_norm_train"])
def test_huge_counts_of_empty_rows_return_at_once(code):
    # 2**40 rows of 0 columns were summed one by one (hours): run it aside with a timeout.
    script = f"import numpy as np\nfrom ferronet import ops\n{code}\nprint('ok')"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


@pytest.mark.parametrize("xs, ws", [((2, 3, 3, 0), (1, 1, 0, 2)), ((2, 3, 3, 2), (1, 1, 2, 0)),
                                    ((2, 3, 3, 0), (2, 2, 0, 3)), ((0, 3, 3, 2), (2, 2, 2, 3))])
def test_convolutions_without_channels_or_filters_match_numpy(xs, ws):
    x, w, b = _f32(*xs), _f32(*ws), _f32(ws[-1])
    y = ops.conv2d(x, w, b)
    oh, ow = xs[1] - ws[0] + 1, xs[2] - ws[1] + 1
    np.testing.assert_allclose(y, np.broadcast_to(b, (xs[0], oh, ow, ws[-1])))  # empty sums are 0
    dy = _f32(*y.shape)
    dx, dw, db = ops.conv2d_backward(dy, x, w)
    assert dx.shape == xs and dw.shape == ws and not np.any(dx) and not np.any(dw)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2)), rtol=1e-5)


def test_dropout_noise_shape_may_hold_an_empty_axis():
    y, mask = ops.dropout(np.ones((3, 0), np.float32), 0.5, 1, noise_shape=(1, 0))
    assert y.shape == mask.shape == (3, 0)


# 2, 3. outputs aliasing inputs -----------------------------------------------------------------------------------

def test_conv2d_out_aliasing_its_input_is_refused():
    x, w = _f32(2, 33, 33, 8), _f32(3, 3, 8, 8)
    before = x.copy()
    with pytest.raises(ArgumentError, match="conv2d: out must not share memory"):
        ops.conv2d(x, w, padding="same", out=x)
    np.testing.assert_array_equal(x, before)  # nothing half-written


def test_conv2d_out_aliasing_bias_is_refused():
    x, w = _f32(1, 4, 4, 2), _f32(1, 1, 2, 3)
    buf = np.zeros(1 * 4 * 4 * 3 + 3, np.float32)
    b, out = buf[:3], buf[:48].reshape(1, 4, 4, 3)
    with pytest.raises(ArgumentError, match="out must not share memory"):
        ops.conv2d(x, w, b, out=out)


def test_conv2d_backward_outputs_aliasing_inputs_or_each_other_are_refused():
    x, w = _f32(2, 6, 6, 3), _f32(3, 3, 3, 4)
    dy = _f32(2, 4, 4, 4)
    with pytest.raises(ArgumentError, match="conv2d_backward: dw_out must not share memory"):
        ops.conv2d_backward(dy, x, w, dw_out=w)
    with pytest.raises(ArgumentError, match="dx_out must not share memory"):
        ops.conv2d_backward(dy, x, w, dx_out=x)
    with pytest.raises(ArgumentError, match="db_out must not share memory"):
        ops.conv2d_backward(dy, x, w, db_out=dy[0, 0, 0])
    shared = np.empty(w.size, np.float32)
    with pytest.raises(ArgumentError, match="dw_out and db_out must not share memory"):
        ops.conv2d_backward(dy, x, w, dw_out=shared.reshape(w.shape), db_out=shared[:4])


def test_linear_backward_outputs_aliasing_inputs_or_each_other_are_refused():
    x, w, dy = _f32(4, 3), _f32(3, 3), _f32(4, 3)
    with pytest.raises(ArgumentError, match="linear_backward: db_out must not share memory"):
        ops.linear_backward(dy, x, w, db_out=dy[0])
    both = np.empty((3, 3), np.float32)
    with pytest.raises(ArgumentError, match="dx_out and dw_out must not share memory"):
        ops.linear_backward(dy, _f32(3, 3), w, dx_out=both, dw_out=both)
    buf = np.empty(12, np.float32)
    with pytest.raises(ArgumentError, match="linear: out must not share memory"):
        ops.linear(x, w, buf[:3], out=buf[:12].reshape(4, 3))


def test_gradients_into_separate_outputs_still_match():
    x, w, dy = _f32(2, 6, 6, 3), _f32(3, 3, 3, 4), _f32(2, 4, 4, 4)
    dx, dw, db = ops.conv2d_backward(dy, x, w)
    got = ops.conv2d_backward(dy, x, w, dx_out=np.empty_like(x), dw_out=np.empty_like(w),
                              db_out=np.empty(4, np.float32))
    for a, b in zip(got, (dx, dw, db)):
        np.testing.assert_array_equal(a, b)


# 7, 8. unaligned and byte-swapped operands -----------------------------------------------------------------------

def _unaligned(values, dtype=np.float32):
    values = np.asarray(values, dtype)
    raw = bytearray(values.nbytes + 1)
    a = np.frombuffer(raw, dtype, offset=1, count=values.size).reshape(values.shape)
    assert not a.flags.aligned
    np.copyto(a, values)
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_operands_are_read_as_numpy_reads_them(dtype):
    values = np.array([-1.5, 0.0, 2.5], dtype)
    x = _unaligned(values, dtype)
    np.testing.assert_array_equal(ops.relu(x), np.maximum(values, 0))
    w = _unaligned(np.eye(3), dtype)
    np.testing.assert_allclose(ops.linear(x.reshape(1, 3), w), values.reshape(1, 3))
    img = _unaligned(np.arange(16).reshape(1, 4, 4, 1), dtype)
    np.testing.assert_array_equal(ops.max_pool2d(img)[0, :, :, 0], [[5, 7], [13, 15]])


def test_unaligned_out_is_refused_with_a_working_hint():
    out = _unaligned(np.zeros(3))
    with pytest.raises(ArgumentError, match=r"out is written in place, so it must be aligned .*np\.empty"):
        ops.relu(np.ones(3, np.float32), out=out)


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "gelu"])
def test_big_endian_floats_are_accepted(op):
    x = np.array([[-1.0, 0.5, 2.0]], ">f4")
    got = getattr(ops, op)(x)
    np.testing.assert_array_equal(got, getattr(ops, op)(x.astype(np.float32)))
    assert got.dtype == np.float32


def test_big_endian_operands_of_the_layer_ops_are_accepted():
    x, w = np.ones((1, 4, 4, 2), ">f8"), np.ones((3, 3, 2, 1), ">f8")
    np.testing.assert_array_equal(ops.conv2d(x, w), ops.conv2d(x.astype(np.float64), w.astype(np.float64)))
    np.testing.assert_array_equal(ops.linear(np.ones((2, 3), ">f4"), np.ones((3, 1), ">f4")), np.full((2, 1), 3.0))
    got = ops.mean_squared_error(np.ones((2, 3), ">f4"), np.zeros((2, 3), ">f4"))
    want = ops.mean_squared_error(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_unaligned_and_byte_swapped_labels_are_accepted():
    p = np.full((3, 4), 0.25, np.float32)
    ids = np.array([0, 3, 1])
    want = ops.softmax_cross_entropy(p, ids)
    raw = bytearray(ids.nbytes + 1)
    unaligned = np.frombuffer(raw, np.int64, offset=1, count=3)
    unaligned[...] = ids
    for labels in (unaligned, ids.astype(">i8")):
        for a, b in zip(ops.softmax_cross_entropy(p, labels), want):
            np.testing.assert_array_equal(a, b)
        assert ferronet._core.argmax_hits(p, labels) == ferronet._core.argmax_hits(p, ids)
    onehot = np.eye(4, dtype=np.float32)[ids]
    for a, b in zip(ops.categorical_crossentropy(p, _unaligned(onehot)), ops.categorical_crossentropy(p, onehot)):
        np.testing.assert_array_equal(a, b)


def test_byte_swapped_param_is_refused_not_copied():
    param = np.ones(3, ">f4")
    with pytest.raises(ferronet.DTypeError):
        ops.sgd_update(param, np.ones(3, np.float32), learning_rate=0.5)
    np.testing.assert_array_equal(param, 1.0)


# 12, 15. window arithmetic and argument conversion ---------------------------------------------------------------

def test_dilation_that_would_wrap_is_refused():
    x, w = np.ones((1, 4, 4, 1), np.float32), np.ones((3, 3, 1, 1), np.float32)
    with pytest.raises(ArgumentError, match="dilation_rate must be at most 2\\*\\*63 - 1"):
        ops.conv2d(x, w, dilation_rate=2**63)
    with pytest.raises(ArgumentError, match="conv2d: the window does not fit"):
        ops.conv2d(x, w, dilation_rate=2**62)
    assert ops.conv2d(x, w, dilation_rate=2**40).shape == (1, 0, 0, 1)  # big, representable: an empty map


@pytest.mark.parametrize("dilation", [100_000, 2**40])
def test_huge_dilation_with_same_padding_computes_without_padding_a_huge_copy(dilation):
    # The direct path once padded the 4x4 image to (2·dilation)² cells and the process aborted: run it aside.
    code = textwrap.dedent(f"""
        import numpy as np
        from ferronet import ops
        x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        w = np.arange(1, 10, dtype=np.float32).reshape(3, 3, 1, 1)
        y = ops.conv2d(x, w, padding="same", dilation_rate={dilation})
        dx, dw, db = ops.conv2d_backward(np.ones_like(x), x, w, padding="same", dilation_rate={dilation})
        assert np.array_equal(y, 5 * x), y                       # only the centre tap lands inside
        assert np.array_equal(dw.ravel(), [0, 0, 0, 0, x.sum(), 0, 0, 0, 0]), dw
        assert np.array_equal(dx, np.full_like(x, 5)), dx
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_pool_windows_far_larger_than_the_image_do_not_reserve_their_size():
    # Each window's cell list was reserved for the full window (2**40 cells): the process aborted. Run it aside.
    code = textwrap.dedent("""
        import numpy as np
        from ferronet import ops
        x = np.random.default_rng(0).random((2, 8, 3, 3)).astype(np.float32)
        for op in (ops.max_pool2d, ops.avg_pool2d):
            y = op(x, (1, 2**40), (1, 2**40), "same")
            want = x.max(axis=2, keepdims=True) if op is ops.max_pool2d else x.mean(axis=2, keepdims=True)
            assert y.shape == (2, 8, 1, 3) and np.allclose(y, want), op
        dx = ops.max_pool2d_backward(np.ones((2, 8, 1, 3), np.float32), x, (1, 2**40), (1, 2**40), "same")
        assert dx.sum() == 2 * 8 * 3
        dx = ops.avg_pool2d_backward(np.ones((2, 8, 1, 3), np.float32), x, (1, 2**40), (1, 2**40), "same")
        assert np.allclose(dx, 1 / 3)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_pool_windows_that_would_wrap_are_refused():
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(ArgumentError, match="pool_size must be at most"):
        ops.max_pool2d(x, 2**64 - 1, 2**64 - 1, "same")
    with pytest.raises(ArgumentError, match="max_pool2d: the window does not fit"):
        ops.max_pool2d(x, 2**63 - 1, 2**63 - 1, "same")
    np.testing.assert_array_equal(ops.max_pool2d(x, 2**40, 2**40, "same"), np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(ops.avg_pool2d(x, 2**40, 2**40, "same"), np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("call", [
    lambda x: ops.max_pool2d(x, pool_size=2**64),
    lambda x: ops.avg_pool2d(x, strides=-(2**64)),
    lambda x: ops.conv2d(x, np.ones((1, 1, 1, 1), np.float32), strides=2**64),
    lambda x: ops.max_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), x, pool_size=(2, 2**70)),
    lambda x: ops.global_avg_pool2d_backward(np.ones((1, 1), np.float32), (1, 2**64, 4, 1)),
    lambda x: ops.softmax(x, axis=2**64),
    lambda x: ops.log_softmax_backward(x, x, axis=-(2**63) - 1),
    lambda x: ops.adam_update(np.ones(3, np.float32), np.ones(3, np.float32), np.zeros(3, np.float32),
                              np.zeros(3, np.float32), step=2**64),
    lambda x: ops.dropout(x, 0.5, seed=1, noise_shape=(1, -1, 4, 1)),
    lambda x: ops.dropout(x, 0.5, seed=1, noise_shape=(2**64, 4, 4, 1)),
    lambda x: ops.linear(np.float32(1.0), np.ones((1, 1), np.float32)),
    lambda x: ops.linear(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), out=[0.0] * 8),
], ids=["pool_size", "strides", "conv_strides", "pool_pair", "x_shape", "axis", "axis_neg", "step",
        "noise_shape_neg", "noise_shape_big", "0d_x", "list_out"])
def test_bad_arguments_raise_ferronet_errors(call):
    x = np.ones((1, 4, 4, 1), np.float32)
    with pytest.raises(FerronetError):
        call(x)


def test_set_num_threads_rejects_huge_counts_and_keeps_working():
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(2)
        for n in (5000, 2**64, 0):
            with pytest.raises(ArgumentError, match="between 1 and 256"):
                ferronet.set_num_threads(n)
        assert ferronet.get_num_threads() == 2
        x = _f32(256, 256)
        np.testing.assert_allclose(ops.matmul(x, x), x.astype(np.float64) @ x, rtol=1e-4, atol=1e-3)
    finally:
        ferronet.set_num_threads(n0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux features")
def test_a_refused_thread_start_leaves_the_team_usable():
    # Address space for the interpreter plus a few dozen thread stacks: 256 threads cannot start.
    code = textwrap.dedent("""
        import resource, numpy as np, ferronet
        from ferronet import ops
        def threads():
            return int([l for l in open("/proc/self/status") if l.startswith("Threads:")][0].split()[1])
        ferronet.set_num_threads(2)
        x = np.ones((300, 300), np.float32)
        ops.matmul(x, x)
        vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize:")][0].split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 96 * 2**20, resource.RLIM_INFINITY))
        before = threads()
        try:
            ferronet.set_num_threads(256)
        except ferronet.FerronetError as e:
            print("refused", type(e).__name__)
        print(ferronet.get_num_threads(), threads() - before)
        print(float(ops.matmul(x, x)[0, 0]))
    """)
    env = dict(os.environ, FERRONET_SPIN_US="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "refused ArgumentError"
    n, extra = lines[1].split()
    assert n == "2" and int(extra) <= 0  # the threads started for the failed attempt are gone
    assert lines[2] == "300.0"


# 16. empty operands -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("xs, ws", [((2, 3, 0), (0, 0)), ((2, 3, 0), (0, 4)), ((2, 0, 3), (3, 4)), ((0, 3), (3, 2))])
def test_linear_of_empty_operands_matches_numpy(xs, ws):
    x, w = np.ones(xs, np.float32), np.ones(ws, np.float32)
    got = ops.linear(x, w)
    np.testing.assert_array_equal(got, np.matmul(x, w))
    assert got.shape == np.matmul(x, w).shape


def test_linear_rejects_a_0d_x_by_name():
    with pytest.raises(ShapeError, match="linear: x must have at least one axis"):
        ops.linear(np.float32(2.0), np.ones((1, 1), np.float32))
