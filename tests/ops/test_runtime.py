"""Threads, SIMD selection, fork safety, concurrency and error behaviour."""

import multiprocessing as mp
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import ferronet
from ferronet import ops


def test_thread_count_round_trip():
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(3)
        assert ferronet.get_num_threads() == 3
        with pytest.raises(ValueError, match="between 1 and 256"):
            ferronet.set_num_threads(0)
    finally:
        ferronet.set_num_threads(n0)


def test_environment_controls_threads_and_simd():
    code = "import ferronet; print(ferronet.get_num_threads(), ferronet.simd())"
    env = dict(os.environ, FERRONET_NUM_THREADS="3", FERRONET_SIMD="scalar")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "scalar"]


def test_simd_names():
    assert ferronet.simd() in ferronet.supported_simd()
    assert "scalar" in ferronet.supported_simd()


def _child_matmul(q):
    a = np.ones((300, 300), np.float32)
    q.put(float(ops.matmul(a, a)[0, 0]))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_pool_survives_fork():
    a = np.ones((400, 400), np.float32)
    ops.matmul(a, a)  # start the worker threads in the parent first
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_matmul, args=(q,))
    p.start()
    p.join(timeout=60)
    assert p.exitcode == 0, "child hung or crashed on its first kernel call after fork"
    assert q.get(timeout=5) == 300.0


def test_many_python_threads_at_once():
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((120, 130)).astype(np.float32) for _ in range(8)]
    want = [m @ m.T for m in mats]
    errors = []

    def work(i):
        for _ in range(5):
            got = ops.matmul(mats[i], mats[i].T)
            if not np.allclose(got, want[i], rtol=1e-4, atol=1e-3):
                errors.append(i)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_kernels_release_the_gil():
    """A long matmul on one thread must not stop another Python thread."""
    a = np.ones((1500, 1500), np.float32)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        for _ in range(3):
            ops.matmul(a, a)
    finally:
        done.set()
        t.join()
    assert len(ticks) > 3


def test_exception_hierarchy():
    assert issubclass(ferronet.ShapeError, ferronet.FerronetError)
    assert issubclass(ferronet.ShapeError, ValueError)
    assert issubclass(ferronet.DTypeError, TypeError)
    assert issubclass(ferronet.ArgumentError, ValueError)


def test_wrong_dtypes_name_the_dtype():
    with pytest.raises(ferronet.DTypeError, match="int32"):
        ferronet._core.matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int32))
    with pytest.raises(ferronet.DTypeError, match="float64"):
        ferronet._core.matmul(np.ones((2, 2), np.float32), np.ones((2, 2)))
    with pytest.raises(ferronet.DTypeError):
        ops.linear(np.ones((2, 2), np.int8), np.ones((2, 2), np.int8))


def test_read_only_out_is_refused():
    a = np.ones((3, 3))
    out = np.empty((3, 3))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ops.matmul(a, a, out=out)
