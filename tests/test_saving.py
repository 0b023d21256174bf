"""Saving and loading: bit-exact round trips, resumed training, damaged and foreign files (FileFormatError), pickling."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers


def make_model():
    model = fn.Sequential([
        fn.Input((6, 6, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dropout(0.25),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def data(rng):
    return rng.normal(size=(64, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 64)


def test_round_trip_bit_exact_and_resumed_training(tmp_path, data):
    x, y = data
    fn.utils.set_random_seed(0)
    model = make_model()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    path = tmp_path / "m.ferronet"
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.ferronet"]  # no temporary file left
    loaded = fn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.get_config() == model.get_config()
    # Continued training is identical to uninterrupted training.
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_archive_is_readable_without_ferronet(tmp_path, data):
    model = make_model()
    model.fit(*data, epochs=1, verbose=0)
    path = tmp_path / "m.ferronet"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert {"ferronet.json", "weights.npz", "optimizer.npz"} <= set(zf.namelist())
        with np.load(io.BytesIO(zf.read("weights.npz")), allow_pickle=False) as npz:
            np.testing.assert_array_equal(npz[model.layers[0].kernel.path], model.layers[0].kernel.value)


def test_damaged_and_foreign_files(tmp_path, data):
    model = make_model()
    model.fit(*data, epochs=1, verbose=0)
    path = tmp_path / "m.ferronet"
    model.save(path)
    payload = path.read_bytes()
    truncated = tmp_path / "t.ferronet"
    truncated.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(fn.errors.FileFormatError, match="not a ferronet model file|truncated|damaged"):
        fn.models.load_model(truncated)
    garbage = tmp_path / "g.ferronet"
    garbage.write_bytes(b"\x89HDF\r\n" + os.urandom(200))
    with pytest.raises(fn.errors.FileFormatError, match="not a ferronet model file"):
        fn.models.load_model(garbage)
    foreign = tmp_path / "f.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(fn.errors.FileFormatError, match="no ferronet.json"):
        fn.models.load_model(foreign)
    # A flipped byte inside the stored weights is caught by the zip CRC.
    corrupt = bytearray(payload)
    start = payload.index(b"weights.npz") + 200
    corrupt[start] ^= 0xFF
    bad = tmp_path / "c.ferronet"
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(fn.errors.FileFormatError):
        fn.models.load_model(bad)
    with pytest.raises(FileNotFoundError):
        fn.models.load_model(tmp_path / "missing.ferronet")


def test_save_weights_load_weights(tmp_path, data):
    model = make_model()
    model.fit(*data, epochs=1, verbose=0)
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    fresh = make_model()  # other automatic layer names: matched by position
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = fn.Sequential([fn.Input((6, 6, 1)), layers.Flatten(), layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(ValueError, match="weight arrays but the model has"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    full = tmp_path / "full.ferronet"
    model.save(full)
    fresh.load_weights(full)


def test_pickle_round_trip(data):
    x, y = data
    model = make_model()
    model.fit(x, y, epochs=1, verbose=0)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    clone.fit(x, y, epochs=1, verbose=0)


def test_overwrite_false(tmp_path, data):
    model = make_model()
    model.fit(*data, epochs=1, verbose=0)
    path = tmp_path / "m.ferronet"
    model.save(path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(path, overwrite=False)


def test_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="build it"):
        fn.Sequential([layers.Dense(2)]).save(tmp_path / "x.ferronet")
