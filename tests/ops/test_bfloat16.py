"""precision="bfloat16" products against NumPy on bfloat16-rounded operands.

The reference rounds each float32 operand to the nearest bfloat16 (ties to
even) and multiplies in float64; a float32 sum of k exact products is within
(k + 2)·eps32·Σ|products| of that, whatever its order (AMX tiles or the
float32 kernels of the SIMD path under test).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import ferronet
from ferronet import _bench, ops

EPS = float(np.finfo(np.float32).eps)


def bf16(x):
    """float32 -> nearest bfloat16 value (ties to even), as float32."""
    x = np.asarray(x, np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    r = (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), r)


def check(got, a, b, k, want=None, bound=None):
    """`got` against `a @ b` of the rounded operands, within the float32-sum bound."""
    if want is None:
        ra, rb = bf16(a).astype(np.float64), bf16(b).astype(np.float64)
        want, bound = np.matmul(ra, rb), np.matmul(np.abs(ra), np.abs(rb))
    assert got.dtype == np.float32 and got.shape == want.shape
    err = np.abs(got.astype(np.float64) - want)
    assert np.all(err <= (k + 2) * EPS * bound + 1e-30), f"max error {err.max()} (bound {(k + 2) * EPS * bound.max()})"


def test_rounding_is_nearest_even(rng):
    one = np.float32(1.0)
    ties = np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 1 + 2**-8 + 2**-16], np.float32)
    x = np.concatenate([ties, rng.standard_normal(300).astype(np.float32) * 100, [np.float32(3.0e38), np.float32(-1e-3)]])
    # x · I picks each element times one: the rounded element itself.
    got = ops.matmul(x[:, None], np.array([[one]]), precision="bfloat16")[:, 0]
    assert np.array_equal(got, bf16(x))
    assert got[0] == 1.0 and got[1] == 1 + 2**-6 and got[3] == 1 + 2**-7


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((7, 5), (5, 3)),
        ((64, 784), (784, 512)),
        ((128, 512), (512, 10)),
        ((300, 257), (257, 33)),
        ((33, 1100), (1100, 70)),
        ((2, 1, 40, 30), (5, 30, 60)),
        ((0, 3), (3, 4)),
        ((2, 0), (0, 4)),
    ],
)
def test_matmul_matches_rounded_numpy(rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    got = np.asarray(ops.matmul(a, b, precision="bfloat16"), np.float32)
    check(got, a, b, sa[-1])


def test_strided_and_transposed_views(rng):
    a = rng.standard_normal((90, 120)).astype(np.float32)
    b = rng.standard_normal((100, 120)).astype(np.float32)
    for x, y in [(a, b.T), (a[::-2], b.T[:, ::3]), (np.asfortranarray(a).T, np.asfortranarray(a))]:
        check(ops.matmul(x, y, precision="bfloat16"), x, y, x.shape[-1])
    out = np.empty((100, 90), np.float32).T  # a column-major out
    ops.matmul(a, b.T, out=out, precision="bfloat16")
    check(out, a, b.T, 120)


def test_linear_and_backward(rng):
    x = rng.standard_normal((37, 200)).astype(np.float32)
    w = rng.standard_normal((200, 70)).astype(np.float32)
    b = rng.standard_normal(70).astype(np.float32)
    y = ops.linear(x, w, b, precision="bfloat16")
    ra, rb = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    check(y, x, w, 200, want=ra @ rb + b, bound=np.abs(ra) @ np.abs(rb) + np.abs(b))
    dy = rng.standard_normal((37, 70)).astype(np.float32)
    dx, dw, db = ops.linear_backward(dy, x, w, precision="bfloat16")
    check(dx, dy, w.T, 70)
    check(dw, x.T, dy, 37)
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-5, atol=1e-5)


CONV_CASES = [
    ((2, 9, 9, 3), (3, 3, 3, 8), "valid"),  # few taps: the direct kernels
    ((4, 13, 13, 32), (3, 3, 32, 64), "valid"),
    ((2, 16, 16, 24), (3, 3, 24, 40), "same"),
    ((3, 7, 7, 70), (1, 1, 70, 33), "valid"),
]


@pytest.mark.parametrize("xs,ks,pad", CONV_CASES)
def test_conv2d_forward_and_backward(rng, xs, ks, pad):
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ks).astype(np.float32)
    y = ops.conv2d(x, w, padding=pad, precision="bfloat16")
    rx, rw = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    want, cols = _bench.numpy_conv2d(rx, rw, padding=pad)
    bound, _ = _bench.numpy_conv2d(np.abs(rx), np.abs(rw), padding=pad)
    taps = ks[0] * ks[1] * ks[2]
    check(y, None, None, taps, want=want, bound=bound)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = ops.conv2d_backward(dy, x, w, padding=pad, precision="bfloat16")
    rdy = bf16(dy).astype(np.float64)
    want_dx, want_dw, _ = _bench.numpy_conv2d_backward(rdy, rx, rw, cols, padding=pad)
    _, acols = _bench.numpy_conv2d(np.abs(rx), np.abs(rw), padding=pad)
    bound_dx, bound_dw, _ = _bench.numpy_conv2d_backward(np.abs(rdy), rx, np.abs(rw), acols, padding=pad)
    rows = int(np.prod(y.shape[:3]))
    check(dw, None, None, rows, want=want_dw, bound=bound_dw)
    check(dx, None, None, ks[3] * ks[0] * ks[1], want=want_dx, bound=bound_dx)
    np.testing.assert_allclose(db, dy.sum((0, 1, 2)), rtol=1e-5, atol=1e-4)


def test_bitwise_identical_across_thread_counts(rng):
    a = rng.standard_normal((333, 517)).astype(np.float32)
    b = rng.standard_normal((517, 271)).astype(np.float32)
    x = rng.standard_normal((8, 20, 20, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 48)).astype(np.float32)
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(1)
        one = ops.matmul(a, b, precision="bfloat16")
        conv = ops.conv2d(x, w, precision="bfloat16")
        for n in (2, 3, 7):
            ferronet.set_num_threads(n)
            assert np.array_equal(ops.matmul(a, b, precision="bfloat16"), one)
            assert np.array_equal(ops.conv2d(x, w, precision="bfloat16"), conv)
    finally:
        ferronet.set_num_threads(n0)


def test_nan_and_inf_propagate():
    a = np.ones((40, 40), np.float32)
    a[3, 4] = np.nan
    a[5, 6] = np.inf
    r = ops.matmul(a, np.ones((40, 40), np.float32), precision="bfloat16")
    assert np.isnan(r[3]).all() and np.isinf(r[5]).all() and (r[0] == 40).all()


@pytest.mark.skipif(not ferronet.amx(), reason="AMX not in use on this machine")
def test_amx_and_fallback_agree(rng):
    a = rng.standard_normal((200, 700)).astype(np.float32)
    b = rng.standard_normal((700, 150)).astype(np.float32)
    on = ops.matmul(a, b, precision="bfloat16")
    isa = ferronet.simd()
    try:
        assert ferronet._core.set_simd(isa) == isa and not ferronet.amx()
        off = ops.matmul(a, b, precision="bfloat16")
    finally:
        assert ferronet._core.set_simd("amx") == "amx"
    assert ferronet.amx()
    check(on, a, b, 700)
    check(off, a, b, 700)
    assert not np.array_equal(on, ops.matmul(a, b)), "bfloat16 differs from float32"


def test_a_named_vector_path_turns_amx_off():
    code = "import ferronet; print(ferronet.amx(), ferronet.simd())"
    env = dict(os.environ, FERRONET_SIMD="avx2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "False"


def test_errors_name_the_argument(rng):
    a64 = rng.standard_normal((4, 4))
    a32 = a64.astype(np.float32)
    with pytest.raises(ferronet.DTypeError, match=r"needs float32 inputs. Received: a.dtype=float64"):
        ops.matmul(a64, a64, precision="bfloat16")
    with pytest.raises(ferronet.DTypeError, match=r"b.dtype=float64"):
        ops.matmul(a32, a64, precision="bfloat16")
    with pytest.raises(ferronet.DTypeError, match=r"int64"):
        ops.matmul(np.ones((2, 2), np.int64), a32[:2, :2], precision="bfloat16")
    with pytest.raises(ferronet.ArgumentError, match=r"precision must be 'float32' or 'bfloat16'. Received: precision='float16'"):
        ops.matmul(a32, a32, precision="float16")
    with pytest.raises(ferronet.DTypeError, match=r"kernel.dtype=float64"):
        ops.linear(a32, a64, precision="bfloat16")
    with pytest.raises(ferronet.DTypeError, match=r"x.dtype=float64"):
        ops.conv2d(np.ones((1, 3, 3, 1)), np.ones((1, 1, 1, 1), np.float32), precision="bfloat16")
    with pytest.raises(ferronet.ArgumentError, match="precision"):
        ops.conv2d_backward(np.ones((1, 3, 3, 1), np.float32), np.ones((1, 3, 3, 1), np.float32),
                            np.ones((1, 1, 1, 1), np.float32), precision="half")
    # float64 in the binding directly
    with pytest.raises(ferronet.DTypeError, match="float64"):
        ferronet._core.matmul(a64, a64, None, "bfloat16")


def _child_bf16(q):
    a = np.full((64, 64), 1 / 3, np.float32)
    q.put(float(ops.matmul(a, a, precision="bfloat16")[0, 0]))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_tile_permission_survives_fork():
    """A forked child inherits the AMX permission (a tile instruction without it is SIGILL)."""
    import multiprocessing as mp

    a = np.ones((64, 64), np.float32)
    ops.matmul(a, a, precision="bfloat16")  # the permission is requested in the parent first
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_bf16, args=(q,))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0, f"child exited with {p.exitcode}"
    want = float(bf16(np.float32(1 / 3))) ** 2 * 64
    assert abs(q.get(timeout=5) - want) < 1e-4
