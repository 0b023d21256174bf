"""Side-by-side benchmarks: ferronet against NumPy (and PyTorch when installed).

Run ``python -m ferronet bench`` for the table. Every comparison times the
contenders interleaved in one process (A B A B ...) and reports the best time
of each, so drifting machine load affects both alike; ratios are
``peer time / ferronet time`` (above 1 means ferronet is faster).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np

import ferronet
from ferronet import ops

# The optional peer, imported by run() only: the NumPy reference implementations here are also used by
# benches/bench_fit.py, whose memory figures must not include a framework it did not ask for.
torch = None


def _load_torch():
    global torch
    if torch is None:
        try:
            import torch as t  # type: ignore

            torch = t
        except Exception:  # pragma: no cover - torch absent or broken
            pass
    return torch


# ----------------------------------------------------------------------------
# timing


SETTLE = 0.0


def interleaved(fns: Dict[str, Callable[[], object]], min_time: float = 0.2, rounds: int = 7) -> Dict[str, float]:
    """Best seconds per call of each function, timed in alternation.

    With several threads, each sample is followed by a pause of ``SETTLE``
    seconds: thread pools spin for a while after their work (OpenBLAS for
    about 0.1 s), and a contender timed right after another would share the
    cores with the other's spinning threads.
    """
    for f in fns.values():  # warm-up: caches, buffers, thread pools
        f()
    # calls per sample so each sample takes ~min_time/rounds
    per = {}
    for name, f in fns.items():
        t0 = time.perf_counter()
        f()
        dt = max(time.perf_counter() - t0, 1e-7)
        per[name] = max(1, int(min_time / rounds / dt))
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            n = per[name]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            best[name] = min(best[name], (time.perf_counter() - t0) / n)
            if SETTLE:
                time.sleep(SETTLE)
    return best


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, ferronet SIMD path {ferronet.simd()}, NumPy {np.__version__}"


class _BlasThreads:
    """Set the thread count of NumPy's bundled OpenBLAS (what threadpoolctl does)."""

    def __init__(self) -> None:
        self._fn = None
        try:
            with open("/proc/self/maps") as fh:
                libs = {line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line}
        except OSError:
            libs = set()
        for path in libs:
            lib = ctypes.CDLL(path)
            for sym in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads"):
                if hasattr(lib, sym):
                    self._fn = getattr(lib, sym)
                    return

    def set(self, n: int) -> bool:
        if self._fn is None:
            return False
        self._fn(ctypes.c_int(n))
        return True


# ----------------------------------------------------------------------------
# reference NumPy implementations the comparisons run against


def numpy_conv2d(x, w, stride=1, padding="valid"):
    """im2col + matmul convolution (NHWC/HWIO), as one writes it in NumPy."""
    kh, kw, c, f = w.shape
    if padding == "same":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cols = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    n, oh, ow = cols.shape[:3]
    cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    return (cols @ w.reshape(-1, f)).reshape(n, oh, ow, f), cols


def numpy_conv2d_backward(dy, x, w, cols, padding="valid"):
    kh, kw, c, f = w.shape
    n, oh, ow, _ = dy.shape
    d2 = dy.reshape(-1, f)
    dw = (cols.T @ d2).reshape(w.shape)
    db = d2.sum(0)
    dcols = (d2 @ w.reshape(-1, f).T).reshape(n, oh, ow, kh, kw, c)
    ph, pw = (kh - 1, kw - 1) if padding == "same" else (0, 0)
    dxp = np.zeros((n, x.shape[1] + ph, x.shape[2] + pw, c), x.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i : i + oh, j : j + ow, :] += dcols[:, :, :, i, j, :]
    dx = dxp[:, ph // 2 : ph // 2 + x.shape[1], pw // 2 : pw // 2 + x.shape[2], :]
    return dx, dw, db


def numpy_maxpool2x2(x):
    n, h, w, c = x.shape
    v = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
    y = v.max(axis=(2, 4))
    return y, v


def numpy_maxpool2x2_backward(dy, x, y, v):
    mask = v == y[:, :, None, :, None, :]
    dx = np.zeros_like(x)
    n, h, w, c = x.shape
    dx[:, : h // 2 * 2, : w // 2 * 2] = (mask * dy[:, :, None, :, None, :]).reshape(n, h // 2 * 2, w // 2 * 2, c)
    return dx


# ----------------------------------------------------------------------------
# the comparisons


class Row(dict):
    """One line of the report."""


PEERS = ("numpy", "torch", "float32")
PEER_NAMES = {"numpy": "numpy", "torch": "torch", "float32": "ferronet float32"}
# The float32 FMA peak of one core in GFLOP/s, measured by run() (None: not measured).
PEAK: Optional[float] = None


def _row(name, flops, times, threads, peak_factor=None):
    """A report line; ``peak_factor`` scales the float32 FMA peak for the
    case's dtype (1 for float32, 0.5 for float64) to report its share."""
    f = times["ferronet"]
    r = Row(case=name, threads=threads, ferronet_ms=f * 1e3)
    if flops:
        r["ferronet_gflops"] = flops / f / 1e9
        if PEAK and peak_factor:
            r["peak_share"] = r["ferronet_gflops"] / (PEAK * peak_factor * threads)
    for peer in PEERS:
        if peer in times:
            r[f"{peer}_ms"] = times[peer] * 1e3
            r[f"vs_{peer}"] = times[peer] / f
    return r


def fma_peak() -> Optional[float]:
    """The measured float32 FMA peak of one core (GFLOP/s) on ferronet's SIMD path."""
    return ferronet._core.fma_peak()


def gemm_cases(quick: bool = False):
    sizes = [256, 1024] if quick else [256, 512, 1024, 2048]
    for dt in (np.float32, np.float64):
        for n in sizes:
            yield f"matmul {np.dtype(dt).name} {n}x{n}x{n}", dt, (n, n), (n, n), False, False
    yield "matmul float32 MLP fwd 128x784 . 784x512", np.float32, (128, 784), (784, 512), False, False
    yield "matmul float32 MLP dW 784x128 . 128x512", np.float32, (128, 784), (128, 512), True, False
    yield "matmul float32 MLP dx 128x512 . 512x784", np.float32, (128, 512), (784, 512), False, True
    yield "matmul float32 skinny 128x512 . 512x10", np.float32, (128, 512), (512, 10), False, False


def bench_gemm(threads: int, quick: bool = False, rows: Optional[List[Row]] = None) -> List[Row]:
    rows = [] if rows is None else rows
    rng = np.random.default_rng(0)
    for name, dt, sa, sb, ta, tb in gemm_cases(quick):
        a = rng.standard_normal(sa).astype(dt)
        b = rng.standard_normal(sb).astype(dt)
        a = a.T if ta else a
        b = b.T if tb else b
        out = np.empty((a.shape[0], b.shape[1]), dt)
        fns = {
            "ferronet": lambda: ops.matmul(a, b, out=out),
            "numpy": lambda: np.matmul(a, b, out=out),
        }
        if torch is not None:
            ta_, tb_, to_ = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
            fns["torch"] = lambda: torch.matmul(ta_, tb_, out=to_)
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        rows.append(_row(name, flops, interleaved(fns), threads, 1.0 if dt == np.float32 else 0.5))
    return rows


def bf16_cases(quick: bool = False):
    for n in [1024] if quick else [512, 1024, 2048]:
        yield f"matmul bfloat16 {n}x{n}x{n}", n


def bench_bf16(threads: int, quick: bool = False, rows: Optional[List[Row]] = None, only: Optional[int] = None) -> List[Row]:
    """``matmul(precision="bfloat16")`` (AMX tiles when in use) against
    ferronet's float32 product, NumPy's float32 and torch's autocast bfloat16
    (only size ``only`` when given)."""
    rows = [] if rows is None else rows
    rng = np.random.default_rng(0)
    unit = "AMX" if ferronet.amx() else "no AMX"
    for name, n in bf16_cases(quick):
        if only is not None and n != only:
            continue
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        out = np.empty((n, n), np.float32)
        fns = {
            "ferronet": lambda: ops.matmul(a, b, out=out, precision="bfloat16"),
            "float32": lambda: ops.matmul(a, b, out=out),
            "numpy": lambda: np.matmul(a, b, out=out),
        }
        if torch is not None:
            ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)

            def autocast():
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return torch.matmul(ta_, tb_)

            fns["torch"] = autocast
        rows.append(_row(f"{name} ({unit})", 2 * n**3, interleaved(fns), threads))
    return rows


CONV_CASES = [
    ("conv2d fwd+bwd 64x28x28x1 -> 32 (3x3)", (64, 28, 28, 1), (3, 3, 1, 32), "valid", False),
    ("conv2d fwd+bwd 64x13x13x32 -> 64 (3x3)", (64, 13, 13, 32), (3, 3, 32, 64), "valid", True),
    ("conv2d fwd+bwd 32x32x32x64 -> 64 (3x3 same)", (32, 32, 32, 64), (3, 3, 64, 64), "same", True),
    ("conv2d fwd+bwd 64x28x28x16 -> 16 (3x3 same)", (64, 28, 28, 16), (3, 3, 16, 16), "same", True),
]


def bench_conv(threads: int, quick: bool = False, rows: Optional[List[Row]] = None) -> List[Row]:
    rows = [] if rows is None else rows
    rng = np.random.default_rng(0)
    for name, xs, ks, pad, need_dx in CONV_CASES[:2] if quick else CONV_CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ks) * 0.1).astype(np.float32)
        b = np.zeros(ks[3], np.float32)
        y = ops.conv2d(x, w, b, padding=pad)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        bufs = dict(
            dx_out=np.empty_like(x) if need_dx else None, dw_out=np.empty_like(w), db_out=np.empty_like(b)
        )

        def fer():
            ops.conv2d(x, w, b, padding=pad, out=y)
            ops.conv2d_backward(dy, x, w, padding=pad, need_dx=need_dx, **bufs)

        def npy():
            out, cols = numpy_conv2d(x, w, padding=pad)
            out += b
            numpy_conv2d_backward(dy, x, w, cols, padding=pad)

        fns = {"ferronet": fer, "numpy": npy}
        if torch is not None:
            tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(memory_format=torch.channels_last)
            tx.requires_grad_(need_dx)
            tw = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(True)
            tb = torch.from_numpy(b).requires_grad_(True)
            tdy = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()).to(memory_format=torch.channels_last)

            def tor():
                out = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
                out.backward(tdy)

            fns["torch"] = tor
        flops = 2 * int(np.prod(y.shape)) * ks[0] * ks[1] * ks[2] * (3 if need_dx else 2)
        rows.append(_row(name, flops, interleaved(fns), threads, peak_factor=1.0))
        if need_dx and ks[2] >= 32:  # the GEMM-bound shapes, also with bfloat16 products

            def fer_bf16():
                ops.conv2d(x, w, b, padding=pad, out=y, precision="bfloat16")
                ops.conv2d_backward(dy, x, w, padding=pad, need_dx=need_dx, precision="bfloat16", **bufs)

            bfns = {"ferronet": fer_bf16, "float32": fer}
            if torch is not None:

                def tor_bf16():
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        out = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
                    out.backward(tdy.to(out.dtype))

                bfns["torch"] = tor_bf16
            rows.append(_row(name.replace("fwd+bwd", "fwd+bwd bfloat16"), flops, interleaved(bfns), threads))
    return rows


def bench_elementwise(threads: int, quick: bool = False, rows: Optional[List[Row]] = None) -> List[Row]:
    rows = [] if rows is None else rows
    rng = np.random.default_rng(0)
    n = 10**6 if quick else 10**7
    x = rng.standard_normal(n).astype(np.float32)
    out = np.empty_like(x)
    cases = []
    if hasattr(ops, "sigmoid"):
        cases.append(("sigmoid", lambda: ops.sigmoid(x, out=out), lambda: np.divide(1.0, 1.0 + np.exp(-x), out=out)))
    if hasattr(ops, "relu"):
        cases.append(("relu", lambda: ops.relu(x, out=out), lambda: np.maximum(x, 0, out=out)))
    if hasattr(ops, "tanh"):
        cases.append(("tanh", lambda: ops.tanh(x, out=out), lambda: np.tanh(x, out=out)))
    for name, f, g in cases:
        rows.append(_row(f"{name} on {n:.0e} float32", None, interleaved({"ferronet": f, "numpy": g}), threads))
    if hasattr(ops, "max_pool2d"):
        xp = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
        yp = ops.max_pool2d(xp, 2)
        dyp = rng.standard_normal(yp.shape).astype(np.float32)
        dxp = np.empty_like(xp)

        def fer():
            ops.max_pool2d(xp, 2, out=yp)
            ops.max_pool2d_backward(dyp, xp, 2, out=dxp)

        def npy():
            y, v = numpy_maxpool2x2(xp)
            numpy_maxpool2x2_backward(dyp, xp, y, v)

        rows.append(_row("max_pool2d 2x2 fwd+bwd 64x26x26x32", None, interleaved({"ferronet": fer, "numpy": npy}), threads))
    a = rng.standard_normal((8, 8)).astype(np.float32)
    o8 = np.empty((8, 8), np.float32)
    rows.append(
        _row(
            "call overhead: 8x8 matmul",
            None,
            interleaved({"ferronet": lambda: ops.matmul(a, a, out=o8), "numpy": lambda: np.matmul(a, a, out=o8)}),
            threads,
        )
    )
    return rows


def run(threads_list=(1, 2), quick: bool = False) -> List[Row]:
    """All comparisons, for each thread count (NumPy and torch get the same count)."""
    global PEAK
    _load_torch()
    if PEAK is None:
        PEAK = fma_peak()
    blas = _BlasThreads()
    rows: List[Row] = []
    saved = ferronet.get_num_threads()
    global SETTLE
    try:
        for t in threads_list:
            ferronet.set_num_threads(t)
            blas.set(t)
            SETTLE = 0.15 if t > 1 else 0.0
            if torch is not None:
                torch.set_num_threads(t)
            bench_gemm(t, quick, rows)
            bench_bf16(t, quick, rows)
            bench_conv(t, quick, rows)
            bench_elementwise(t, quick, rows)
    finally:
        SETTLE = 0.0
        ferronet.set_num_threads(saved)
        blas.set(os.cpu_count() or 1)
    return rows


def format_table(rows: List[Row]) -> str:
    peers = [p for p in PEERS if any(f"vs_{p}" in r for r in rows)]
    head = ["case", "threads", "ferronet ms", "GFLOP/s", "of FMA peak"] + [f"vs {PEER_NAMES[p]}" for p in peers]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["case"], str(r["threads"]), f"{r['ferronet_ms']:.3f}", f"{r['ferronet_gflops']:.0f}" if "ferronet_gflops" in r else ""]
        cells.append(f"{r['peak_share']:.0%}" if "peak_share" in r else "")
        cells += [f"{r[f'vs_{p}']:.2f}x" if f"vs_{p}" in r else "" for p in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ferronet bench", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts to measure (default: 1 2)")
    p.add_argument("--quick", action="store_true", help="fewer, smaller cases")
    args = p.parse_args(argv)
    global PEAK
    print(f"machine: {machine()}")
    print(f"load average before the run: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    PEAK = fma_peak()
    if PEAK:
        print(f"float32 FMA peak of one core ({ferronet.simd()}, 12 register chains, measured): {PEAK:.0f} GFLOP/s")
    print("ratios are peer time / ferronet time (above 1: ferronet faster); NumPy's BLAS gets the same thread count")
    print("'of FMA peak': GFLOP/s over the measured peak times the threads (float64: half the float32 peak)\n")
    sys.stdout.flush()
    print(format_table(run(args.threads, args.quick)))
    return 0
