"""Bulk work on the rayon pool against the NumPy code it replaced: the Ising sampler and the ROC sort.

Run ``python benches/bench_rayon.py`` for the table (both contenders timed
interleaved in this process, best of several rounds, at one and two threads),
or ``pytest benches/bench_rayon.py``. The NumPy references are the former
implementations, kept in ``tests/reference``.

- Ising: ``datasets.ising`` with the demo's lattice (L = 32, 16 temperatures,
  Metropolis) at 40 configurations per temperature, and with Wolff clusters.
- ROC: ``roc_auc_score`` on 10^7 float32 scores, whose time is the sort's.
"""

from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import ferronet  # noqa: E402
from ferronet import _bench, datasets, metrics  # noqa: E402
from ferronet.metrics import ranking  # noqa: E402
from tests.reference.ising_numpy import ising_numpy  # noqa: E402
from tests.reference.ranking_numpy import sort_descending_numpy  # noqa: E402

TEMPS = np.linspace(1.0, 3.5, 16)


def ising_contenders(method):
    kw = dict(L=32, temperatures=TEMPS, n_per_T=40, method=method, samples_per_chain=10, seed=0)
    return {
        "rust (rayon)": lambda: datasets.ising(**kw),
        "numpy": lambda: ising_numpy(32, TEMPS, 40, wolff=method == "wolff", samples_per_chain=10, seed=0),
    }


def roc_contenders(n=10**7):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    s = (rng.standard_normal(n) + y).astype(np.float32)
    rust_sort = ranking._sort_descending

    def with_sort(sort):
        ranking._sort_descending = sort
        try:
            return metrics.roc_auc_score(y, s)
        finally:
            ranking._sort_descending = rust_sort

    return {"rust (rayon)": lambda: with_sort(rust_sort), "numpy": lambda: with_sort(sort_descending_numpy)}


CASES = {"ising metropolis L=32, 16 T x 40": lambda: ising_contenders("metropolis"),
         "ising wolff L=32, 16 T x 40": lambda: ising_contenders("wolff"),
         "roc_auc_score, 10^7 float32 scores": roc_contenders}


def run(threads):
    saved = ferronet.get_num_threads()
    ferronet.set_num_threads(threads)
    try:
        return {case: _bench.interleaved(make(), min_time=0.5, rounds=3) for case, make in CASES.items()}
    finally:
        ferronet.set_num_threads(saved)


def main():
    print(f"machine: {_bench.machine()}; load average {os.getloadavg()[0]:.2f}\n")
    print("| case | threads | rust (rayon) s | numpy s | speed-up |")
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        for case, t in run(threads).items():
            print(f"| {case} | {threads} | {t['rust (rayon)']:.3f} | {t['numpy']:.3f} | "
                  f"{t['numpy'] / t['rust (rayon)']:.1f}x |", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def test_rayon_bulk(benchmark):
    for threads in (1, 2):
        for case, t in run(threads).items():
            benchmark.extra_info[f"{case} {threads}thr"] = t
    benchmark.pedantic(lambda: None, rounds=1)


if __name__ == "__main__":
    main()
