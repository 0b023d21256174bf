"""The accuracy-counting kernel against np.argmax, and the metrics' fast path against their checked path."""

import numpy as np
import pytest

import ferronet
from ferronet import _core, metrics


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_argmax_hits_matches_numpy_with_ties_and_nan(dtype):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(500, 7)).astype(dtype)  # many ties: the first maximum must win
    scores[rng.random(scores.shape) < 0.01] = np.nan
    ids = rng.integers(0, 7, 500).astype(np.int64)
    want = int(np.sum(np.argmax(scores, axis=1) == ids))
    assert _core.argmax_hits(scores, ids) == want
    targets = np.eye(7, dtype=dtype)[rng.integers(0, 7, 500)]
    targets[3] = np.nan
    want = int(np.sum(np.argmax(scores, axis=1) == np.argmax(targets, axis=1)))
    assert _core.argmax_hits(scores, targets) == want


def test_argmax_hits_rejects_bad_input():
    s = np.zeros((3, 4), np.float32)
    with pytest.raises(ferronet.ArgumentError, match=r"labels\[1\]=4 is not a class id.*\[0, 4\)"):
        _core.argmax_hits(s, np.array([0, 4, 1]))
    with pytest.raises(ferronet.ArgumentError, match=r"labels\[2\]=-1"):
        _core.argmax_hits(s, np.array([0, 1, -1]))
    with pytest.raises(ferronet.ShapeError, match=r"class ids must have shape \(3,\)"):
        _core.argmax_hits(s, np.array([0, 1]))
    with pytest.raises(ferronet.ShapeError, match="scores must be 2-D"):
        _core.argmax_hits(np.zeros(3, np.float32), np.array([0, 1, 2]))
    with pytest.raises(ferronet.DTypeError, match="labels must have the same dtype as scores"):
        _core.argmax_hits(s, np.zeros((3, 4), np.float64))
    with pytest.raises(ferronet.DTypeError, match="scores must be a float32 or float64 array"):
        _core.argmax_hits(np.zeros((3, 4), np.int64), np.array([0, 1, 2]))


def test_accuracy_fast_path_equals_checked_path():
    rng = np.random.default_rng(1)
    p = rng.random((64, 5), dtype=np.float32)
    ids = rng.integers(0, 5, 64)
    fast = metrics.SparseCategoricalAccuracy()
    fast.update_state(ids, p)
    slow = metrics.SparseCategoricalAccuracy()
    slow.update_state(ids, p, sample_weight=np.ones(64))
    assert fast.result() == pytest.approx(slow.result()) == np.mean(np.argmax(p, 1) == ids)
    onehot = np.eye(5, dtype=np.float32)[ids]
    cat = metrics.CategoricalAccuracy()
    cat.update_state(onehot, p)
    assert cat.result() == pytest.approx(fast.result())
    # Out-of-range ids still get the metric's own error.
    with pytest.raises(ValueError, match=r"class id outside \[0, 5\)"):
        metrics.SparseCategoricalAccuracy().update_state(np.array([0, 7]), p[:2])
