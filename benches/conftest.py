"""Benchmarks: run with ``pytest benches/bench_*.py`` (pytest-benchmark).

Each benchmark times ferronet with pytest-benchmark and, in the same process,
times ferronet and its peers interleaved (A B A B) to record ratios in the
benchmark's extra_info (``vs_numpy``, ``vs_torch`` = peer time / ferronet time).
"""

import pytest

import ferronet
from ferronet import _bench


def pytest_report_header(config):
    return f"machine: {_bench.machine()}; threads: {ferronet.get_num_threads()}"


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}thr")
def threads(request):
    saved = ferronet.get_num_threads()
    blas = _bench._BlasThreads()
    ferronet.set_num_threads(request.param)
    blas.set(request.param)
    # NOTE: loaded here, not left to the first benchmark that times it: a torch imported after this fixture ran
    # kept its default thread count, so the first one-thread case compared against PyTorch on every core.
    if _bench._load_torch() is not None:
        _bench.torch.set_num_threads(request.param)
    _bench.SETTLE = 0.15 if request.param > 1 else 0.0
    yield request.param
    _bench.SETTLE = 0.0
    ferronet.set_num_threads(saved)
