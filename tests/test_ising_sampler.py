"""The Rust Ising sampler against the NumPy sampler it replaced (tests/reference/ising_numpy.py).

The two run the same Markov chains with different random streams, so they are
compared statistically: per temperature, the mean |m| and energy per spin over
independent chains agree within 4.5 combined standard errors.
"""

import multiprocessing
import sys

import numpy as np
import pytest

import ferronet
from ferronet import datasets
from tests.reference.ising_numpy import ising_numpy

TEMPS = [1.5, 2.0, 2.27, 2.6, 3.5]
PER_CHAIN = 4


def _chain_means(values, t, T):
    return values[t == T].reshape(-1, PER_CHAIN).mean(axis=1)  # chains are independent, their samples are not


@pytest.mark.parametrize("method", ["metropolis", "wolff"])
def test_matches_the_numpy_sampler(method):
    wolff = method == "wolff"
    x, t = datasets.ising(L=12, temperatures=TEMPS, n_per_T=320, method=method, seed=5, samples_per_chain=PER_CHAIN)
    y, u = ising_numpy(12, TEMPS, 320, wolff=wolff, seed=5, samples_per_chain=PER_CHAIN)
    np.testing.assert_array_equal(t, u)
    for stat in (lambda c: np.abs(datasets.magnetization(c)), datasets.energy):
        a, b = stat(x), stat(y)
        for T in TEMPS:
            ca, cb = _chain_means(a, t, T), _chain_means(b, u, T)
            se = np.hypot(ca.std(ddof=1) / np.sqrt(ca.size), cb.std(ddof=1) / np.sqrt(cb.size))
            assert abs(ca.mean() - cb.mean()) < 4.5 * se + 1e-3, (method, T, ca.mean(), cb.mean(), se)


@pytest.mark.parametrize("method", ["metropolis", "wolff"])
def test_same_for_any_thread_count_and_reproducible(method):
    kw = dict(L=8, temperatures=[1.5, 2.3, 3.0], n_per_T=9, method=method, samples_per_chain=2, n_equilibrate=30)
    n0 = ferronet.get_num_threads()
    try:
        ferronet.set_num_threads(1)
        want, _ = datasets.ising(seed=21, **kw)
        for n in (2, 3, 5):
            ferronet.set_num_threads(n)
            got, _ = datasets.ising(seed=21, **kw)
            np.testing.assert_array_equal(got, want)
    finally:
        ferronet.set_num_threads(n0)
    assert not np.array_equal(datasets.ising(seed=22, **kw)[0], want)
    # a Generator or SeedSequence is taken as np.random.default_rng takes it
    a = datasets.ising(seed=np.random.default_rng(4), **kw)[0]
    np.testing.assert_array_equal(a, datasets.ising(seed=np.random.default_rng(4), **kw)[0])
    np.testing.assert_array_equal(datasets.ising(seed=np.random.SeedSequence(9), **kw)[0],
                                  datasets.ising(seed=9, **kw)[0])


def test_random_start_and_samples_spaced_by_n_between():
    # At infinite temperature (beta = 0) every Metropolis proposal is accepted: a sweep flips every spin,
    # so consecutive samples n_between = 1 sweep apart are exact negatives.
    x, _ = datasets.ising(L=6, temperatures=[1e12], n_per_T=3, samples_per_chain=3, n_equilibrate=0, n_between=1,
                          start="random", seed=0)
    np.testing.assert_array_equal(x[1], -x[0])
    np.testing.assert_array_equal(x[2], x[0])
    assert 0 < (x[0] == 1).sum() < 36  # a random start, not an ordered one


def test_core_rejects_bad_arguments():
    with pytest.raises(ferronet.ArgumentError, match="L must be an even integer"):
        ferronet._core.ising_sample(np.ones(2), 5, 1, 1, 1, False, True, 0)
    with pytest.raises(ferronet.ArgumentError, match="finite"):
        ferronet._core.ising_sample(np.array([np.nan]), 4, 1, 1, 1, False, True, 0)


def _child_sample(q):
    x, _ = datasets.ising(L=8, temperatures=[2.0, 3.0], n_per_T=4, samples_per_chain=1, n_equilibrate=5, seed=1)
    q.put(x.tobytes())


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_rayon_pool_survives_fork():
    n0 = ferronet.get_num_threads()
    ferronet.set_num_threads(2)
    try:
        want, _ = datasets.ising(L=8, temperatures=[2.0, 3.0], n_per_T=4, samples_per_chain=1, n_equilibrate=5,
                                 seed=1)  # the parent's pool threads exist before the fork
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_child_sample, args=(q,))
        p.start()
        p.join(timeout=60)
        assert p.exitcode == 0, "child hung or crashed on its first sampler call after fork"
        assert q.get(timeout=5) == want.tobytes()
    finally:
        ferronet.set_num_threads(n0)
