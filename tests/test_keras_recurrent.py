"""Keras 3 files with the recurrent and attention layers (SimpleRNN, LSTM, GRU, Bidirectional, MultiHeadAttention,
Attention), whose weights Keras keeps in sub-objects (``layers/lstm/cell/vars``, ``layers/bidirectional/
forward_layer/cell/vars``, ``layers/multi_head_attention/query_dense/vars``).

tests/data/keras/k3_recurrent.json records, from Keras 3.15 (tools/make_keras_fixtures.py), the config.json
entry and weight layout Keras writes for each model below; k3_recurrent_*.keras are small models Keras saved,
with their predictions. Set FERRONET_KERAS_PYTHON to a Python that has Keras 3 (KERAS_BACKEND defaults to jax)
to check both directions against live Keras.
"""

import io
import json
import os
import runpy
import subprocess
import textwrap
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import FileFormatError
from ferronet.formats import keras_config

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
MERGE_MODES = ["concat", "sum", "mul", "ave", None]


# ------------------------------------------------------------------ the models (one definition for both libraries)
MODELS_FILE = os.path.join(os.path.dirname(__file__), "keras_recurrent_models.py")
MODELS = runpy.run_path(MODELS_FILE)["MODELS"]


def inputs_for(model, rng, n=8):
    """A batch for ``model``: token ids for an Embedding, else normal numbers."""
    shapes = [tuple(model.input_shape)] if not isinstance(model.input_shape, list) else model.input_shape
    embed = any(type(layer).__name__ == "Embedding" for layer in model.layers)
    out = []
    for shape in shapes:
        size = (n,) + tuple(shape[1:])
        x = rng.integers(0, 10, size) if embed else rng.normal(size=size)
        if embed:  # trailing padding, so masks matter
            x[:, -2:] = 0
            x[0, 1:] = 0
        out.append(x.astype("float32"))
    return out if len(out) > 1 else out[0]


def randomized(model, rng):
    """The model with every weight drawn at random (biases too), so a misplaced array shows."""
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def as_list(y):
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def _h5_layout(payload):
    out = {}
    with h5py.File(io.BytesIO(payload), "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, list(obj.shape) if isinstance(obj, h5py.Dataset)
                                                       else None) if name.startswith("layers") else None)
    return out


def saved(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json")), _h5_layout(zf.read("model.weights.h5"))


def ferronet_model(name, seed=0):
    rng = np.random.default_rng(seed)
    model = randomized(MODELS[name](fn), rng)
    return model, inputs_for(model, rng)


def predict(model, x):
    return as_list(model.predict(x, verbose=0))


# ------------------------------------------------------------------ within ferronet
@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_within_ferronet(tmp_path, name):
    """ferronet -> .keras -> ferronet: same predictions, same config; load_weights into a fresh model too."""
    model, x = ferronet_model(name)
    model.save(tmp_path / "m.keras")
    loaded = fn.models.load_model(tmp_path / "m.keras")
    for a, b in zip(predict(loaded, x), predict(model, x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_config()["layers"][1:] == model.get_config()["layers"][1:]
    fresh = randomized(MODELS[name](fn), np.random.default_rng(1))
    fresh.load_weights(tmp_path / "m.keras")
    for a, b in zip(predict(fresh, x), predict(model, x), strict=True):
        np.testing.assert_array_equal(a, b)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = randomized(MODELS[name](fn), np.random.default_rng(2))
    fresh.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(predict(fresh, x), predict(model, x), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ live Keras (optional)
KERAS_SCRIPT = textwrap.dedent("""
    import json, runpy, sys, numpy as np, keras
    models_file, d = sys.argv[1], sys.argv[2]
    models = runpy.run_path(models_file)["MODELS"]
    report = {"keras": keras.__version__, "backend": keras.backend.backend()}

    def listed(y):
        return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]

    for i, (name, build) in enumerate(sorted(models.items())):
        with np.load(f"{d}/{name}.x.npz") as npz:
            x = [npz[f"arr_{j}"] for j in range(len(npz.files))]
        x = x if len(x) > 1 else x[0]
        try:  # ferronet's file, on ferronet's inputs
            ours = keras.saving.load_model(f"{d}/{name}.ours.keras")
            np.savez(f"{d}/{name}.keras_on_ours.npz", *listed(ours.predict(x, verbose=0)))
        except Exception as e:  # reported by the test of this model
            report[name + ".ours"] = f"{type(e).__name__}: {e}"
        # Keras' own model, random weights, as .keras and as Keras' legacy .h5
        rng = np.random.default_rng(100 + i)
        model = build(keras)
        model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in model.get_weights()])
        model.save(f"{d}/{name}.theirs.keras")
        try:
            model.save(f"{d}/{name}.theirs.h5")
        except Exception as e:
            report[name + ".h5"] = f"{type(e).__name__}: {e}"
        np.savez(f"{d}/{name}.theirs.npz", *listed(model.predict(x, verbose=0)))
    with open(f"{d}/report.json", "w") as f:
        json.dump(report, f)
""")


@pytest.fixture(scope="module")
def live_keras(tmp_path_factory):
    """Runs Keras once on every model: loads ferronet's files, and saves its own (with their predictions)."""
    python = os.environ.get("FERRONET_KERAS_PYTHON")
    if not python:
        pytest.skip("set FERRONET_KERAS_PYTHON to a Python that has Keras 3")
    d = tmp_path_factory.mktemp("keras_recurrent")
    ours = {}
    for name in sorted(MODELS):
        model, x = ferronet_model(name)
        model.save(d / f"{name}.ours.keras")
        np.savez(d / f"{name}.x.npz", *as_list(x))
        ours[name] = (model, x)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    proc = subprocess.run([python, "-c", KERAS_SCRIPT, MODELS_FILE, str(d)], env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    with open(d / "report.json") as f:
        return d, ours, json.load(f)


def _npz(path):
    with np.load(path) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_live_keras_loads_ferronet_files(live_keras, name):
    d, ours, report = live_keras
    model, x = ours[name]
    assert name + ".ours" not in report, report[name + ".ours"][-3000:]
    for theirs, mine in zip(_npz(d / f"{name}.keras_on_ours.npz"), predict(model, x), strict=True):
        np.testing.assert_allclose(theirs, mine, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_live_ferronet_loads_keras_files(live_keras, name):
    d, ours, report = live_keras
    x = ours[name][1]
    expected = _npz(d / f"{name}.theirs.npz")
    for suffix in ("keras", "h5"):
        if suffix == "h5" and name + ".h5" in report:
            pytest.fail(f"Keras could not write {name}.h5: {report[name + '.h5']}")
        loaded = fn.models.load_model(d / f"{name}.theirs.{suffix}")
        for theirs, mine in zip(expected, predict(loaded, x), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6, err_msg=suffix)
