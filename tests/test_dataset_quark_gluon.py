"""datasets.quark_gluon: shapes, padding, the physics it encodes, reproducibility, argument checks."""

import numpy as np
import pytest

from ferronet.datasets import QUARK_GLUON_FEATURES, quark_gluon
from ferronet.errors import ArgumentError
from ferronet.metrics import roc_auc_score


def test_jets_are_padded_sorted_sets_with_unit_momentum():
    x, y = quark_gluon(3000, max_particles=40, seed=1)
    assert x.shape == (3000, 40, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert QUARK_GLUON_FEATURES == ("pt_fraction", "delta_eta", "delta_phi")
    z = x[..., 0]
    real = z > 0
    assert np.all(np.diff(z, axis=1) <= 0)  # hardest first, padding (zero rows) last
    assert np.all(x[~real] == 0)
    full = real.sum(1) < 40  # jets that kept every constituent carry the whole pT and sit on the axis
    np.testing.assert_allclose(z[full].sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose((z[..., None] * x[..., 1:])[full].sum(1), 0.0, atol=1e-6)
    assert np.abs(x[..., 1:]).max() <= 0.8


def test_gluon_jets_are_busier_wider_and_softer():
    x, y = quark_gluon(6000, seed=2)
    count = (x[..., 0] > 0).sum(1)
    width = (x[..., 0] * np.hypot(x[..., 1], x[..., 2])).sum(1)
    ptd = np.sqrt((x[..., 0] ** 2).sum(1))
    assert 1.4 < count[y == 1].mean() / count[y == 0].mean() < 1.9
    for score in (count, width, -ptd):  # each alone separates, none perfectly
        assert 0.75 < roc_auc_score(y, score) < 0.92
    assert abs(y.mean() - 0.5) < 0.03


def test_reproducible_and_checked():
    a, b = quark_gluon(50, seed=3), quark_gluon(50, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert quark_gluon(200, gluon_fraction=0.0, seed=0)[1].sum() == 0
    with pytest.raises(ArgumentError, match="n must be a positive integer. Received: n=0"):
        quark_gluon(0)
    with pytest.raises(ArgumentError, match="max_particles must be an integer of at least 2"):
        quark_gluon(10, max_particles=1)
    with pytest.raises(ArgumentError, match="gluon_fraction must be in"):
        quark_gluon(10, gluon_fraction=1.5)
