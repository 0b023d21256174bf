"""Keras files: Keras-made fixtures load and predict the same, ferronet writes Keras 3's layout, bad files fail cleanly.

The fixtures in tests/data/keras/ come from tools/make_keras_fixtures.py (real
Keras 3.15 and Keras 2.15). Set FERRONET_KERAS_PYTHON to an interpreter that
has keras to also round-trip through live Keras (test_live_keras_round_trip).
"""

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import FileFormatError

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
FIXTURES = [("k3_mlp", "k3_mlp.keras", "k3_mlp.weights.h5"), ("k3_cnn", "k3_cnn.keras", "k3_cnn.keras"),
            ("k3_nested", "k3_nested.keras", "k3_nested.weights.h5"), ("k3_zoo", "k3_zoo.keras", "k3_zoo.keras"),
            ("k2_mlp", "k2_mlp.h5", "k2_mlp_weights.h5"), ("k2_cnn", "k2_cnn.h5", "k2_cnn.h5"),
            ("k2_nested", "k2_nested.h5", "k2_nested_weights.h5"), ("k2_zoo", "k2_zoo.h5", "k2_zoo.h5")]


def fixture(name):
    return os.path.join(DATA, name)


def expected(name):
    with np.load(fixture(f"{name}.expected.npz")) as npz:
        return npz["x"], npz["y"]


def small_cnn(dtype="float32"):
    return fn.Sequential([
        fn.Input((6, 6, 1), dtype=dtype),
        layers.Conv2D(4, 3, padding="same", activation="relu", kernel_regularizer=fn.regularizers.l2(1e-4),
                      dtype=dtype),
        layers.BatchNormalization(dtype=dtype),
        layers.MaxPooling2D(dtype=dtype),
        layers.Flatten(dtype=dtype),
        layers.Dropout(0.2, dtype=dtype),
        layers.Dense(8, activation="tanh", kernel_initializer="he_normal", dtype=dtype),
        layers.LeakyReLU(0.1, dtype=dtype),
        layers.Dense(3, dtype=dtype),
        layers.Softmax(dtype=dtype),
    ])


def trained(model, rng):
    x = rng.normal(size=(32,) + model.input_shape[1:]).astype(model.dtype)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 3, 32), epochs=2, batch_size=8, verbose=0)
    return model, x


# ------------------------------------------------------------------ Keras-made files
@pytest.mark.parametrize("name,model_file,weights_file", FIXTURES)
def test_keras_made_files_predict_the_same(name, model_file, weights_file):
    x, y = expected(name)
    model = fn.models.load_model(fixture(model_file))
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=0, atol=1e-6)
    fresh = fn.models.clone_model(model)  # same architecture, new weights
    assert not np.allclose(fresh.predict(x, verbose=0), y, atol=1e-3)
    fresh.load_weights(fixture(weights_file))
    np.testing.assert_allclose(fresh.predict(x, verbose=0), y, rtol=0, atol=1e-6)


def test_keras_compile_settings_are_restored():
    for path in ("k3_mlp.keras", "k2_mlp.h5"):
        model = fn.models.load_model(fixture(path))
        assert model.compiled and type(model.optimizer).__name__ == "Adam"
        assert model.get_compile_config()["metrics"] == ["accuracy"]
        x, _ = expected(path[:6])
        model.fit(x, np.zeros(len(x), dtype=int), epochs=1, verbose=0)  # trainable as loaded
    assert not fn.models.load_model(fixture("k3_mlp.keras"), compile=False).compiled
    assert not fn.models.load_model(fixture("k3_cnn.keras")).compiled  # saved uncompiled


# ------------------------------------------------------------------ ferronet-written files
def test_keras_round_trip_within_ferronet(tmp_path, rng):
    model, x = trained(small_cnn(), rng)
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    loaded = fn.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert [a.name for a in loaded.layers] == [b.name for b in model.layers]
    assert loaded.layers[0].kernel_regularizer.l2 == pytest.approx(1e-4)
    assert type(loaded.layers[5].kernel_initializer).__name__ == "HeNormal"
    fresh = fn.models.clone_model(model)
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    fresh = fn.models.clone_model(model)
    fresh.load_weights(tmp_path / "m.keras")  # the weights inside a .keras file
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "m.weights.h5"]  # no temporary files left


def _h5_layout(source):
    out = {}
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, getattr(obj, "shape", None)))
    return {k: v for k, v in out.items() if k.startswith("layers")}


def _compare_layers(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert (a["module"], a["class_name"]) == (b["module"], b["class_name"])
        if a["class_name"] == "Sequential":
            _compare_layers(a["config"]["layers"], b["config"]["layers"])
            continue
        for key, value in a["config"].items():
            if key == "dtype":
                continue
            expect = b["config"][key]
            if isinstance(value, dict):  # initializers/regularizers: Keras' wrapping, same arguments
                long_names = {"Orthogonal": "OrthogonalInitializer", "Identity": "IdentityInitializer"}
                assert value["module"] == expect["module"]
                assert value["class_name"] == long_names.get(expect["class_name"], expect["class_name"])
                assert value["config"].items() <= expect["config"].items(), (a["config"]["name"], key)
            else:
                assert value == expect, (a["class_name"], key)
        if "build_config" in b:  # Keras leaves it out for some weightless layers; ferronet writes it for all
            assert a["build_config"] == b["build_config"]


@pytest.mark.parametrize("name", ["k3_cnn", "k3_mlp", "k3_nested", "k3_zoo"])
def test_written_files_have_keras_layout(tmp_path, name):
    """A Keras-made model, written back by ferronet, has Keras' own HDF5 paths, shapes and layer configs."""
    model = fn.models.load_model(fixture(f"{name}.keras"), compile=False)
    model.save(tmp_path / "back.keras")
    with zipfile.ZipFile(tmp_path / "back.keras") as ours, zipfile.ZipFile(fixture(f"{name}.keras")) as theirs:
        assert set(ours.namelist()) == set(theirs.namelist())
        assert json.loads(ours.read("metadata.json"))["keras_version"].startswith("3.")
        mine = _h5_layout(io.BytesIO(ours.read("model.weights.h5")))
        keras = _h5_layout(io.BytesIO(theirs.read("model.weights.h5")))
        config_ours, config_keras = (json.loads(z.read("config.json")) for z in (ours, theirs))
    keras = {k: v for k, v in keras.items() if v is not None and not k.startswith("optimizer")}
    assert {k: v for k, v in mine.items() if v is not None} == keras
    assert config_ours["class_name"] == "Sequential" and config_ours["module"] == "keras"
    _compare_layers(config_ours["config"]["layers"], config_keras["config"]["layers"])


def test_nested_sequential_and_float64(tmp_path, rng):
    inner = fn.Sequential([layers.Dense(5, activation="relu", dtype="float64"),
                           layers.BatchNormalization(dtype="float64")], name="block")
    model = fn.Sequential([fn.Input((4,), dtype="float64"), inner, layers.Dense(2, dtype="float64")])
    x = rng.normal(size=(6, 4))
    model.save(tmp_path / "n.keras")
    with zipfile.ZipFile(tmp_path / "n.keras") as zf:
        paths = _h5_layout(io.BytesIO(zf.read("model.weights.h5")))
    assert paths["layers/sequential/layers/dense/vars/0"] == (4, 5)
    assert paths["layers/sequential/layers/batch_normalization/vars/3"] == (5,)
    assert paths["layers/dense/vars/0"] == (5, 2)
    loaded = fn.models.load_model(tmp_path / "n.keras")
    assert loaded.dtype == "float64" and loaded.layers[0].name == "block"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_what_keras_cannot_express_is_refused_before_writing(tmp_path):
    custom = fn.Sequential([fn.Input((3,)), layers.Dense(2, activation=lambda z: z * 2)])
    with pytest.raises(FileFormatError, match="built-in activations.*model.ferronet"):
        custom.save(tmp_path / "c.keras")
    assert not (tmp_path / "c.keras").exists()
    custom.save(tmp_path / "c.ferronet")  # ferronet's own format keeps it
    with pytest.raises(FileFormatError, match="not the legacy .h5"):
        small_cnn().save(tmp_path / "m.h5")
    with pytest.raises(FileFormatError, match=r"end in .weights.h5"):
        small_cnn().save_weights(tmp_path / "w.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ferronet"]


def test_old_ferronet_files_named_keras_still_load(tmp_path, rng):
    from ferronet import saving

    model, x = trained(small_cnn(), rng)
    (tmp_path / "old.keras").write_bytes(saving._model_to_bytes(model))
    loaded = fn.models.load_model(tmp_path / "old.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_missing_h5py_names_the_extra(tmp_path, monkeypatch):
    model = small_cnn()
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"ferronet\[keras\]"):
        model.save(tmp_path / "m.keras")
    with pytest.raises(ImportError, match=r"ferronet\[keras\]"):
        fn.models.load_model(fixture("k2_mlp.h5"))


# ------------------------------------------------------------------ live Keras (optional)
def _keras_python():
    python = os.environ.get("FERRONET_KERAS_PYTHON")
    if python:
        return python
    try:
        import keras  # noqa: F401
    except ImportError:
        pytest.skip("keras is not installed (set FERRONET_KERAS_PYTHON to a Python that has it)")
    return sys.executable


def every_layer():
    init = fn.initializers
    return fn.Sequential([
        fn.Input((7, 7, 2)),
        layers.Conv2D(4, 3, padding="same", dilation_rate=2, activation="elu",
                      kernel_initializer=init.RandomNormal(stddev=0.3, seed=1), bias_initializer=init.Constant(0.1)),
        layers.BatchNormalization(center=False, epsilon=1e-2),
        layers.AveragePooling2D(pool_size=2, padding="same"),
        layers.Conv2D(5, 2, strides=2, activation="gelu", bias_regularizer=fn.regularizers.L1L2(l1=1e-4, l2=1e-3)),
        layers.Dropout(0.3, noise_shape=(None, 1, 1, 5), seed=4),
        layers.GlobalMaxPooling2D(keepdims=True),
        layers.Reshape((5,)),
        layers.Dense(6, activation="silu", kernel_initializer=init.Orthogonal(gain=0.5, seed=2)),
        fn.Sequential([layers.Dense(4, activation="softplus"), layers.BatchNormalization(scale=False)], name="block"),
        layers.Activation("tanh"),
        layers.LeakyReLU(0.2),
        layers.Dense(3, kernel_initializer=init.VarianceScaling(2.0, "fan_out", "uniform", seed=3)),
        layers.Softmax(),
    ])


@pytest.mark.parametrize("build", [small_cnn, every_layer], ids=["cnn", "every_layer"])
def test_live_keras_round_trip(tmp_path, rng, build):
    python = _keras_python()
    model, x = trained(build(), rng)
    model.save(tmp_path / "ours.keras")
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent("""
        import sys, numpy as np, keras
        d = sys.argv[1]
        x = np.load(d + "/x.npy")
        model = keras.saving.load_model(d + "/ours.keras")
        np.save(d + "/keras_pred.npy", model.predict(x, verbose=0))
        model.save(d + "/theirs.keras")
    """)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    subprocess.run([python, "-c", script, str(tmp_path)], check=True, env=env, capture_output=True)
    ours = model.predict(x, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "keras_pred.npy"), ours, rtol=0, atol=1e-6)
    back = fn.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), ours, rtol=0, atol=1e-6)


def test_every_layer_round_trip_within_ferronet(tmp_path, rng):
    model, x = trained(every_layer(), rng)
    model.save(tmp_path / "e.keras")
    loaded = fn.models.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # Layer configs survive exactly; the nested block gains the InputLayer Keras writes for a built Sequential.
    for a, b in zip(loaded.get_config()["layers"][1:], model.get_config()["layers"][1:]):
        if a["class_name"] == "Sequential":
            assert a["config"]["layers"][1:] == b["config"]["layers"]
            assert a["config"]["layers"][0]["class_name"] == "InputLayer"
        else:
            assert a == b


def test_readme_section_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "saving.md").read_text()
    code = re.search(r"# Saving and moving models\n.*?```python\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs saving page", "exec"), {})
    assert {p.name for p in tmp_path.iterdir()} == {"digits.keras", "digits.weights.h5", "digits.onnx"}


def test_compile_settings_travel_in_keras_files(tmp_path, rng):
    model = fn.Sequential([fn.Input((5,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=fn.optimizers.RMSprop(learning_rate=0.005, momentum=0.5),
                  loss="sparse_categorical_crossentropy", metrics="accuracy")
    model.save(tmp_path / "c.keras")
    with zipfile.ZipFile(tmp_path / "c.keras") as zf:
        compile_config = json.loads(zf.read("config.json"))["compile_config"]
    assert compile_config["optimizer"]["module"] == "keras.optimizers"
    assert compile_config["optimizer"]["class_name"] == "RMSprop"
    assert (compile_config["loss"], compile_config["metrics"]) == ("sparse_categorical_crossentropy", ["accuracy"])
    loaded = fn.models.load_model(tmp_path / "c.keras")
    assert type(loaded.optimizer).__name__ == "RMSprop"
    assert loaded.optimizer.get_config() == {**model.optimizer.get_config(), "name": "rmsprop"}
    assert loaded.get_compile_config()["metrics"] == ["accuracy"]
    # What Keras could not rebuild (a loss object here) is left out; the model still saves.
    model.compile(optimizer="adam", loss=fn.losses.SparseCategoricalCrossentropy())
    model.save(tmp_path / "d.keras")
    with zipfile.ZipFile(tmp_path / "d.keras") as zf:
        assert "compile_config" not in json.loads(zf.read("config.json"))
    assert not fn.models.load_model(tmp_path / "d.keras").compiled


@pytest.mark.parametrize("name", ["k3_mlp", "k3_nested"])
def test_written_weights_files_have_keras_layout(tmp_path, name):
    model = fn.models.load_model(fixture(f"{name}.keras"), compile=False)
    model.save_weights(tmp_path / "w.weights.h5")
    keras = {k: v for k, v in _h5_layout(fixture(f"{name}.weights.h5")).items() if v is not None}
    assert {k: v for k, v in _h5_layout(tmp_path / "w.weights.h5").items() if v is not None} == keras
