"""model.fit under set_distribution and model.predict of a Dask array go through ferronet.distribution."""

import numpy as np
import pytest

import ferronet as fn


def _model():
    fn.utils.set_random_seed(3)
    m = fn.Sequential([fn.Input((4,)), fn.layers.Dense(8, activation="relu"), fn.layers.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def test_predict_of_a_dask_array_is_a_dask_array_of_the_same_outputs():
    da = pytest.importorskip("dask.array")
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    model = _model()
    lazy = model.predict(da.from_array(x, chunks=(16, 4)))
    assert hasattr(lazy, "dask")
    np.testing.assert_allclose(lazy.compute(scheduler="synchronous"), model.predict(x, verbose=0), rtol=1e-6)


def test_fit_under_set_distribution_runs_the_data_parallel_strategy(monkeypatch):
    from ferronet import distribution

    x = np.random.default_rng(1).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    calls = []
    original = distribution.DataParallel.fit

    def spy(self, model, *args, **kwargs):
        calls.append(kwargs.get("batch_size"))
        return original(self, model, *args, **kwargs)

    monkeypatch.setattr(distribution.DataParallel, "fit", spy)
    model = _model()
    distribution.set_distribution(distribution.DataParallel())
    try:
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    finally:
        distribution.set_distribution(None)
    assert calls == [16] and len(history.history["loss"]) == 2
    plain = _model()
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
