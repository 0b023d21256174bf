"""``timeseries_dataset_from_array``: Keras' windows against a reference loop, shuffling, and training on it."""

import itertools

import numpy as np
import pytest

import ferronet as tf
from ferronet.utils import timeseries_dataset_from_array


def reference_windows(n, length, stride, rate, start, end, n_targets=None):
    """Start positions and windows, one at a time."""
    end = n if end is None else end
    start = start or 0
    out, p = [], start
    while p + (length - 1) * rate < end and (n_targets is None or p < n_targets):
        out.append((p, [p + j * rate for j in range(length)]))
        p += stride
    return out


@pytest.mark.parametrize("length,stride,rate", [(1, 1, 1), (4, 1, 1), (3, 2, 1), (10, 3, 2), (5, 7, 3)])
@pytest.mark.parametrize("start,end", [(None, None), (5, None), (None, 40), (3, 31)])
@pytest.mark.parametrize("batch_size", [None, 1, 4, 128])
def test_windows_and_targets_match_the_reference(length, stride, rate, start, end, batch_size):
    data = np.arange(50 * 2, dtype=np.float32).reshape(50, 2)
    targets = np.arange(1000, 1050)
    ds = timeseries_dataset_from_array(data, targets, length, sequence_stride=stride, sampling_rate=rate,
                                       batch_size=batch_size, start_index=start, end_index=end)
    want = reference_windows(50, length, stride, rate, start, end)
    batches = list(ds)
    assert len(batches) == len(ds)
    if batch_size is None:
        xs = np.stack([b[0] for b in batches]) if batches else np.zeros((0, length, 2))
        ys = np.array([b[1] for b in batches])
    else:
        assert all(len(b[0]) <= batch_size for b in batches) and all(len(b[0]) == batch_size for b in batches[:-1])
        xs = np.concatenate([b[0] for b in batches]) if batches else np.zeros((0, length, 2))
        ys = np.concatenate([b[1] for b in batches]) if batches else np.zeros(0)
    np.testing.assert_array_equal(xs, np.array([data[idx] for _, idx in want]).reshape(-1, length, 2))
    np.testing.assert_array_equal(ys, [1000 + p for p, _ in want])


def test_keras_documented_windows():
    # Indices 0..98, windows of 10 sampled every 2, starting every 3: [0 2 .. 18], [3 5 .. 21], ..., [78 .. 96].
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3)
    (x,) = list(ds)  # one batch of 27 windows, no targets
    np.testing.assert_array_equal(x[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(x[1], np.arange(3, 22, 2))
    np.testing.assert_array_equal(x[-1], np.arange(78, 97, 2))
    # The past 10 steps predict the next one.
    data = np.random.default_rng(0).normal(size=200)
    inputs, targets = next(iter(timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)))
    np.testing.assert_array_equal(inputs[0], data[:10])
    assert targets[0] == data[10]
    # Many-to-many: two datasets of non-overlapping windows, zipped.
    x_all, y_all = np.arange(100), np.arange(100) * 2
    pairs = zip(timeseries_dataset_from_array(x_all, None, 20, sequence_stride=20),
                timeseries_dataset_from_array(y_all, None, 20, sequence_stride=20))
    inputs, targets = next(pairs)
    np.testing.assert_array_equal(inputs[0], x_all[:20])
    np.testing.assert_array_equal(targets[1], y_all[20:40])


def test_shuffle_keeps_the_windows_seeds_them_and_reshuffles_each_epoch():
    data = np.arange(300)
    plain = np.concatenate(list(timeseries_dataset_from_array(data, None, 5, batch_size=32)))
    ds = timeseries_dataset_from_array(data, None, 5, batch_size=32, shuffle=True, seed=4)
    first = np.concatenate(list(ds))
    assert not np.array_equal(first, plain)
    np.testing.assert_array_equal(first[np.lexsort(first.T[::-1])], plain)
    again = np.concatenate(list(timeseries_dataset_from_array(data, None, 5, batch_size=32, shuffle=True, seed=4)))
    np.testing.assert_array_equal(again, first)
    ds.on_epoch_end()
    assert not np.array_equal(np.concatenate(list(ds)), first)


def test_take_indexing_and_module_paths():
    ds = timeseries_dataset_from_array(np.arange(100.0), np.arange(100.0), 4, batch_size=8)
    assert len(ds) == 13 and len(ds.take(1)) == 1 and len(ds.take(-1)) == 13 and len(ds.take(50)) == 13
    (x, y), = list(ds.take(1))
    np.testing.assert_array_equal(x, ds[0][0])
    np.testing.assert_array_equal(ds[-1][0], ds[12][0])
    with pytest.raises(IndexError, match="the dataset has 13 batches. Received: 13"):
        ds[13]
    assert tf.keras.preprocessing.timeseries_dataset_from_array is timeseries_dataset_from_array
    assert tf.keras.utils.timeseries_dataset_from_array is timeseries_dataset_from_array


def test_an_lstm_learns_to_forecast_from_the_windows():
    tf.utils.set_random_seed(0)
    t = np.arange(1200, dtype=np.float32)
    series = (np.sin(0.07 * t) + 0.5 * np.sin(0.23 * t))[:, None].astype(np.float32)
    past, split = 24, 900
    train = timeseries_dataset_from_array(series[:-past], series[past:], past, batch_size=64, end_index=split)
    val = timeseries_dataset_from_array(series[:-past], series[past:], past, batch_size=64, start_index=split)
    model = tf.keras.Sequential([tf.keras.Input((past, 1)), tf.keras.layers.LSTM(16), tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(train, epochs=8, validation_data=val, verbose=0)
    assert history.history["val_loss"][-1] < 0.05 * np.var(series)
    predictions = model.predict(val, verbose=0)
    assert predictions.shape == (sum(len(b[0]) for b in val), 1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(sequence_length=0), r"sequence_length must be a positive integer. Received: sequence_length=0"),
    (dict(sequence_stride=50), r"sequence_stride must be lower than the length of the data \(50\)"),
    (dict(sampling_rate=-1), r"sampling_rate must be a positive integer"),
    (dict(batch_size=0), r"batch_size must be a positive integer"),
    (dict(start_index=50), r"start_index must be 0 or greater"),
    (dict(start_index=10, end_index=5), r"end_index must be higher than start_index \(10\)"),
    (dict(end_index=50), r"lower than the length of the data \(50\). Received: end_index=50"),
])
def test_bad_arguments_name_the_problem(kwargs, match):
    args = {"sequence_length": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        timeseries_dataset_from_array(np.zeros(50), None, **args)
