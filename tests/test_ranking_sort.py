"""roc_curve / roc_auc_score on the parallel Rust sort, against scikit-learn and the NumPy sort it replaced."""

import numpy as np
import pytest

import ferronet
from ferronet import metrics as M

S = pytest.importorskip("sklearn.metrics")


def _numpy_sort(s, pos):
    order = np.argsort(s, kind="stable")[::-1]
    return s[order], pos[order]


@pytest.mark.parametrize("n", [3, 50_000])
def test_same_as_the_previous_numpy_sort(rng, n):
    from ferronet.metrics.ranking import _sort_descending
    from tests.reference.ranking_numpy import sort_descending_numpy

    pos = rng.random(n) < 0.5
    for s in (np.round(rng.standard_normal(n), 2).astype(np.float32), rng.standard_normal(n)):
        got, want = _sort_descending(s, pos), sort_descending_numpy(s, pos)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])  # unique (score, label) keys: the same order exactly


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16])
@pytest.mark.parametrize("n", [1, 5, 1000, 70_000])
def test_sort_matches_numpy_with_ties(rng, dtype, n):
    raw = rng.integers(-50, 50, n) * 0.25 if dtype != np.int64 else rng.integers(-50, 50, n)
    s = np.asarray(raw).astype(dtype)
    if dtype != np.int64 and n > 1:
        s[: n // 3] = -0.0  # signed zeros tie with +0.0
        s[n // 3: n // 2] = 0.0
    if dtype == np.float64:
        s += rng.standard_normal(n) * 1e-9  # not float32-exact: the float64 path
    pos = rng.random(n) < 0.4
    from ferronet.metrics.ranking import _sort_descending

    got_s, got_p = _sort_descending(s, pos)
    want_s, _ = _numpy_sort(s, pos)
    np.testing.assert_array_equal(np.asarray(got_s, np.float64), np.asarray(want_s, np.float64))
    assert got_p.dtype == bool and got_p.sum() == pos.sum()
    # within each run of equal scores the labels are a permutation of the original ones
    keys = np.asarray(got_s, np.float64)
    for v in np.unique(keys)[:20]:
        assert got_p[keys == v].sum() == pos[np.asarray(s, np.float64) == v].sum()


@pytest.mark.parametrize("n", [10, 100_000])
def test_roc_matches_sklearn_for_any_thread_count(rng, n):
    y = rng.integers(0, 2, n)
    s32 = np.round(rng.random(n).astype(np.float32) * 500) / 500  # many ties
    s64 = rng.standard_normal(n)
    n0 = ferronet.get_num_threads()
    try:
        for threads in (1, 2, 3):
            ferronet.set_num_threads(threads)
            for s in (s32, s64):
                for ours, ref in zip(M.roc_curve(y, s), S.roc_curve(y, s)):
                    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=0)
                assert M.roc_auc_score(y, s) == pytest.approx(S.roc_auc_score(y, s), rel=1e-12, abs=1e-15)
    finally:
        ferronet.set_num_threads(n0)


def test_core_sort_checks_shapes():
    with pytest.raises(ferronet.ShapeError, match="1-D of one length"):
        ferronet._core.sort_scores(np.zeros(3, np.float32), np.zeros(4, np.uint8))
    s, p = ferronet._core.sort_scores(np.zeros(0), np.zeros(0, np.uint8))
    assert s.shape == p.shape == (0,)
