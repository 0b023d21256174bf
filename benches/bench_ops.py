"""Kernel benchmarks against NumPy (and torch when installed), side by side."""

import numpy as np
import pytest

from ferronet import _bench, ops


def record(benchmark, times):
    for peer in ("numpy", "torch"):
        if peer in times:
            benchmark.extra_info[f"vs_{peer}"] = round(times[peer] / times["ferronet"], 3)


@pytest.mark.parametrize("case", list(_bench.gemm_cases()), ids=lambda c: c[0])
def test_matmul(benchmark, threads, case):
    name, dt, sa, sb, ta, tb = case
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(dt)
    b = rng.standard_normal(sb).astype(dt)
    a, b = (a.T if ta else a), (b.T if tb else b)
    out = np.empty((a.shape[0], b.shape[1]), dt)
    fns = {"ferronet": lambda: ops.matmul(a, b, out=out), "numpy": lambda: np.matmul(a, b, out=out)}
    if _bench.torch is not None:
        t = _bench.torch
        ta_, tb_, to_ = t.from_numpy(a), t.from_numpy(b), t.from_numpy(out)
        fns["torch"] = lambda: t.matmul(ta_, tb_, out=to_)
    times = _bench.interleaved(fns)
    record(benchmark, times)
    benchmark.extra_info["gflops"] = round(2 * a.shape[0] * a.shape[1] * b.shape[1] / times["ferronet"] / 1e9, 1)
    benchmark(fns["ferronet"])


@pytest.mark.parametrize("case", _bench.CONV_CASES, ids=lambda c: c[0])
def test_conv2d_forward_backward(benchmark, threads, case, monkeypatch):
    # Reuse the table code for one case: it returns the interleaved ratios.
    monkeypatch.setattr(_bench, "CONV_CASES", [case])
    row = _bench.bench_conv(threads)[0]
    for k in ("vs_numpy", "vs_torch"):
        if k in row:
            benchmark.extra_info[k] = round(row[k], 3)
    name, xs, ks, pad, need_dx = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ks).astype(np.float32)
    y = ops.conv2d(x, w, padding=pad)
    dy = np.ones_like(y)

    def step():
        ops.conv2d(x, w, padding=pad, out=y)
        ops.conv2d_backward(dy, x, w, padding=pad, need_dx=need_dx)

    benchmark(step)


def test_elementwise_and_overhead(benchmark, threads):
    rows = _bench.bench_elementwise(threads)
    for r in rows:
        benchmark.extra_info[r["case"]] = round(r["vs_numpy"], 3)
    a = np.ones((8, 8), np.float32)
    benchmark(ops.matmul, a, a)


def test_fma_peak(benchmark):
    """The measured float32 FMA peak of one core, the yardstick of the GEMM rows."""
    peak = _bench.fma_peak()
    if peak is None:
        pytest.skip("no FMA path on this machine")
    benchmark.extra_info["fma_peak_gflops"] = round(peak, 1)
    benchmark(_bench.fma_peak)


@pytest.mark.parametrize("case", list(_bench.bf16_cases()), ids=lambda c: c[0])
def test_matmul_bfloat16(benchmark, threads, case):
    """matmul(precision="bfloat16") against ferronet float32 and NumPy, interleaved."""
    name, n = case
    row = _bench.bench_bf16(threads, only=n)[0]
    for k in ("vs_float32", "vs_numpy", "vs_torch", "ferronet_gflops"):
        if k in row:
            benchmark.extra_info[k] = round(row[k], 3)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), np.float32)
    benchmark(ops.matmul, a, b, out=out, precision="bfloat16")
