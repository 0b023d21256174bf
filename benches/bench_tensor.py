"""Eager Tensor ops outside a tape against the NumPy call each stands for, on small inputs.

Run ``pytest benches/bench_tensor.py`` (pytest-benchmark: the Tensor op is
timed, the ratio to NumPy lands in ``extra_info["vs_numpy"]`` as NumPy time /
ferronet time), or ``python benches/bench_tensor.py`` for a side-by-side
table. Both sides are timed interleaved in one process
(:func:`ferronet._bench.interleaved`), so the ratios hold under load better
than the absolute times. Target: a Tensor op costs at most 2x its NumPy call.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import ferronet as fn
from ferronet import _bench
from ferronet import tfcompat as tf  # the functions ``import ferronet as tf`` reaches (tf.exp, tf.reduce_sum...)

SHAPES = {"scalar": (), "(8,)": (8,), "(32,32)": (32, 32)}


def cases():
    """``(name, shape name, tensor op, numpy op)`` for every op and input size."""
    rng = np.random.default_rng(0)
    out = []
    for sname, shape in SHAPES.items():
        a = np.asarray(rng.standard_normal(shape), np.float32)
        b = np.asarray(rng.standard_normal(shape), np.float32)
        t, u = fn.Tensor(a), fn.Tensor(b)
        flat = (-1,)
        out += [
            ("a + b", sname, lambda t=t, u=u: t + u, lambda a=a, b=b: a + b),
            ("a * b", sname, lambda t=t, u=u: t * u, lambda a=a, b=b: a * b),
            ("exp(a)", sname, lambda t=t: tf.exp(t), lambda a=a: np.exp(a)),
            ("reduce_sum(a)", sname, lambda t=t: tf.reduce_sum(t), lambda a=a: np.sum(a)),
            ("reshape(a, -1)", sname, lambda t=t: tf.reshape(t, flat), lambda a=a: np.reshape(a, flat)),
            ("a.reshape(-1)", sname, lambda t=t: t.reshape(-1), lambda a=a: a.reshape(-1)),
            ("a.sum()", sname, lambda t=t: t.sum(), lambda a=a: a.sum()),
        ]
        if shape:
            out += [
                ("a @ b", sname, lambda t=t, u=u: t @ u, lambda a=a, b=b: a @ b),
                ("a[1:3]", sname, lambda t=t: t[1:3], lambda a=a: a[1:3]),
                ("a[2]", sname, lambda t=t: t[2], lambda a=a: a[2]),
            ]
    # The same call through ``import ferronet as tf``: the name goes through ferronet's module __getattr__.
    t8 = fn.Tensor(np.ones(8, np.float32))
    a8 = t8.numpy()
    out.append(("ferronet.exp(a)", "(8,)", lambda: fn.exp(t8), lambda: np.exp(a8)))
    return out


CASES = cases()


def measure(case):
    """Interleaved best times of the Tensor op and its NumPy call, and their ratio."""
    name, sname, tensor_op, numpy_op = case
    times = _bench.interleaved({"tensor": tensor_op, "numpy": numpy_op}, min_time=0.15, rounds=7)
    return {"op": name, "input": sname, "tensor_ns": times["tensor"] * 1e9, "numpy_ns": times["numpy"] * 1e9,
            "ratio": times["tensor"] / times["numpy"]}


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_tensor_op_overhead(benchmark, case):
    row = measure(case)
    benchmark.extra_info["vs_numpy"] = round(1 / row["ratio"], 3)
    benchmark.extra_info["tensor_over_numpy"] = round(row["ratio"], 3)
    benchmark(case[2])


def main():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {_bench.machine()}; load average (1 min): {load:.2f}")
    print(f"{'op':16s} {'input':9s} {'Tensor ns':>10s} {'NumPy ns':>10s} {'Tensor/NumPy':>13s}")
    rows = [measure(c) for c in CASES]
    for r in rows:
        flag = "" if r["ratio"] <= 2 else "  > 2x"
        print(f"{r['op']:16s} {r['input']:9s} {r['tensor_ns']:10.0f} {r['numpy_ns']:10.0f} {r['ratio']:12.2f}x{flag}")
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"worst: {worst['op']} on {worst['input']}: {worst['ratio']:.2f}x NumPy's time")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
