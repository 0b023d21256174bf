"""Training and evaluation data that once passed the checks and then poisoned the weights or the metrics."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers


def _model():
    m = fn.models.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def data(rng):
    return rng.standard_normal((20, 4)), rng.integers(0, 3, 20)


def _weights_unchanged(m, before):
    return all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


def test_values_beyond_float32_are_refused_before_training(data):
    x, y = data
    m = _model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"x holds values beyond the range of the model's dtype float32.*x\[0, 0\]"):
        m.fit(np.full((20, 4), 1e39), y, verbose=0)
    assert _weights_unchanged(m, before)
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="sample_weight (holds values|contains NaN)"):
        m.fit(x, y, sample_weight=np.full(20, -1e300), verbose=0)
    with pytest.raises(ValueError, match="x holds values beyond"):
        m.evaluate(np.full((20, 4), -1e39), y, verbose=0)


def test_large_values_are_kept_where_the_model_dtype_holds_them():
    check = fn.models.data.check_finite
    x_big = np.full((20, 4), 1e39)
    check(x_big, "x", np.float64)  # fits a float64 model
    check(np.full((2, 2), 3e38), "x", np.float32)
    with pytest.raises(ValueError, match=r"beyond the range of the model's dtype float32"):
        check(x_big, "x", np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0, "heavy", None])
def test_class_weight_values_must_be_finite_and_non_negative(data, bad):
    x, y = data
    m = _model()
    before = m.get_weights()
    with pytest.raises(ValueError, match=r"class_weight values must be finite numbers >= 0. Received: class_weight\[0\]"):
        m.fit(x, y, class_weight={0: bad, 1: 1, 2: 1}, verbose=0)
    assert _weights_unchanged(m, before)


@pytest.mark.parametrize("key", ["a", 1.5, -1, True])
def test_class_weight_keys_are_named_in_the_error(data, key):
    x, y = data
    with pytest.raises(ValueError, match=r"class_weight keys must be class ids .*class_weight="):
        _model().fit(x, y, class_weight={key: 1.0}, verbose=0)


def test_valid_class_weight_still_trains(data):
    x, y = data
    h = _model().fit(x, y, class_weight={0: 2, 1: np.float32(0.5), np.int64(2): 0}, epochs=2, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))


def test_empty_data_is_refused(data):
    x, y = data
    m = _model()
    with pytest.raises(ValueError, match="The data is empty.*x with 0 samples"):
        m.evaluate(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="The data is empty"):
        m.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="The data is empty"):
        m.train_on_batch(x[:0], y[:0])
    with pytest.raises(ValueError, match="The data is empty"):
        m.test_on_batch(x[:0], y[:0])
    assert m.predict(x[:0], verbose=0).shape == (0, 3)  # predicting nothing is fine, as in Keras


def test_unaligned_inputs_are_accepted_by_predict_evaluate_and_call(data):
    x, y = data
    raw = bytearray(x.astype(np.float32).nbytes + 1)
    xu = np.frombuffer(raw, np.float32, offset=1, count=x.size).reshape(x.shape)
    xu[...] = x
    assert not xu.flags.aligned
    m = _model()
    want = m.predict(x.astype(np.float32), verbose=0)
    np.testing.assert_array_equal(m.predict(xu, verbose=0), want)
    np.testing.assert_array_equal(m(xu), want)
    assert m.evaluate(xu, y, verbose=0) == m.evaluate(x.astype(np.float32), y, verbose=0)
    np.testing.assert_array_equal(m.predict(x.astype(">f4"), verbose=0), want)
