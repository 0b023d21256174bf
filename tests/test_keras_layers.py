"""Keras 3 files with the sequence, image, preprocessing and wrapper layers, both directions.

tests/data/keras/k3_layer_configs.json records, from real Keras 3 (tools/make_keras_fixtures.py),
each layer's entry in a saved model's config.json and the layout of its weight arrays; the
k3_seq1d/k3_image2d/k3_tabular/k3_embed fixtures are trained Keras 3 models using these layers (k2_*:
the same models from Keras 2.15, legacy .h5).
Set FERRONET_KERAS_PYTHON to a Python that has keras to also cross-check with live Keras.
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
from ferronet.formats import keras_config

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
with open(os.path.join(DATA, "k3_layer_configs.json")) as _f:
    RECORDED = json.load(_f)["layers"]
FIXTURES = ["k3_seq1d", "k3_image2d", "k3_tabular", "k3_embed"]
KERAS2_FIXTURES = ["k2_seq1d", "k2_image2d", "k2_tabular", "k2_embed"]  # Keras 2.15's legacy .h5 files
# Keras arguments ferronet's layers do not have; it leaves them out, and reads them only at these inert values.
NOT_WRITTEN = {"activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
               "alpha_constraint": None, "embeddings_constraint": None, "quantization_config": None,
               "rms_scaling": False, "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
               "gamma_constraint": None, "data_format": "channels_last"}


def _h5_layout(source):
    out = {}
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, list(obj.shape))
                     if isinstance(obj, h5py.Dataset) and name.startswith("layers") else None)
    return out


def _saved(model, path):
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json")), _h5_layout(io.BytesIO(zf.read("model.weights.h5")))


def assert_keras_entry(ours, theirs):
    """ferronet's layer entry says what Keras' says: same class, same values, only inert Keras keys left out."""
    assert (ours["module"], ours["class_name"]) == (theirs["module"], theirs["class_name"])
    mine, keras = ours["config"], theirs["config"]
    for key, value in mine.items():
        assert key in keras, (ours["class_name"], key)
        if key == "dtype":  # Keras writes a DTypePolicy, or a plain name for a few layers
            assert value == (keras[key] if isinstance(keras[key], str) else keras[key]["config"]["name"])
        elif key == "layer":
            assert_keras_entry(value, keras[key])
        elif isinstance(value, dict):  # initializers and regularizers: Keras' wrapping, same arguments
            assert (value["module"], value["class_name"]) == (keras[key]["module"], keras[key]["class_name"])
            assert value["config"].items() <= keras[key]["config"].items(), (ours["class_name"], key)
        else:
            assert value == keras[key], (ours["class_name"], key)
    for key in set(keras) - set(mine):
        assert key in NOT_WRITTEN and keras[key] == NOT_WRITTEN[key], (ours["class_name"], key)


# ------------------------------------------------------------------ recorded Keras configs (no Keras needed)
@pytest.mark.parametrize("class_name", sorted(RECORDED))
def test_layer_config_and_weights_match_keras(tmp_path, class_name):
    """Keras' entry reads into the ferronet layer, which writes back Keras' keys, values and weight layout."""
    record = RECORDED[class_name]
    model_config = {"class_name": "Sequential", "config": {"name": "m", "layers": [record["config"]]}}
    entry = keras_config.from_keras(model_config, "recorded")["config"]["layers"][0]
    layer = layers.deserialize(entry)
    assert type(layer).__name__ == class_name
    model = fn.Sequential([fn.Input(tuple(record["input_shape"])), layer])
    config, weights = _saved(model, tmp_path / "m.keras")
    assert_keras_entry(config["config"]["layers"][1], record["config"])
    assert weights == record["weights"]


def sequence_model(dtype="float32"):
    """The layers of the k3_seq1d fixture with the same non-default arguments."""
    d = {"dtype": dtype}
    return fn.Sequential([
        fn.Input((12, 3), dtype=dtype),
        layers.Conv1D(4, 3, padding="same", dilation_rate=2, activation="relu", **d),
        layers.LayerNormalization(epsilon=1e-2, **d),
        layers.MaxPooling1D(2, **d), layers.ZeroPadding1D((1, 2), **d), layers.Cropping1D((1, 0), **d),
        layers.UpSampling1D(2, **d), layers.AveragePooling1D(3, strides=2, padding="same", **d),
        layers.Conv1D(5, 2, strides=2, use_bias=False, **d),
        layers.PReLU(alpha_initializer=fn.initializers.Constant(0.2), shared_axes=[1], **d),
        layers.SpatialDropout1D(0.2, **d), layers.GaussianNoise(0.1, **d), layers.GaussianDropout(0.1, **d),
        layers.Permute((2, 1), **d), layers.GlobalAveragePooling1D(**d), layers.Dense(4, **d),
        layers.UnitNormalization(**d), layers.ELU(0.5, **d),
        layers.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.05, **d), layers.RepeatVector(3, **d),
        layers.TimeDistributed(layers.Dense(2, activation="tanh", **d), **d), layers.GlobalMaxPooling1D(**d),
        layers.ActivityRegularization(l1=1e-3, **d), layers.Rescaling(2.0, offset=-0.5, **d),
        layers.Dense(3, activation="softmax", **d),
    ])


def image_model(dtype="float32"):
    d = {"dtype": dtype}
    return fn.Sequential([
        fn.Input((6, 6, 2), dtype=dtype), layers.Normalization(mean=[0.5, -0.5], variance=[4.0, 0.25], **d),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu", **d),
        layers.ZeroPadding2D(((1, 0), (0, 1)), **d), layers.Cropping2D(((0, 1), (1, 0)), **d),
        layers.UpSampling2D((2, 1), **d), layers.SpatialDropout2D(0.1, **d),
        layers.Conv2DTranspose(2, 2, use_bias=False, **d), layers.Conv2D(2, 3, strides=2, **d), layers.Flatten(**d),
        layers.Dense(3, activation="softmax", **d),
    ])


def table_model(dtype="float32"):
    norm = layers.Normalization(dtype=dtype)
    norm.adapt(np.random.default_rng(5).normal(2.0, 3.0, size=(40, 5)))
    return fn.Sequential([fn.Input((5,), dtype=dtype), norm, layers.Dense(6, activation="relu", dtype=dtype),
                          layers.LayerNormalization(dtype=dtype), layers.Dense(3, activation="softmax", dtype=dtype)])


def embedding_model(dtype="float32"):
    return fn.Sequential([fn.Input((4,), dtype=dtype), layers.Embedding(10, 3, dtype=dtype),
                          layers.TimeDistributed(layers.Dense(2, dtype=dtype), dtype=dtype),
                          layers.Flatten(dtype=dtype), layers.Dense(3, activation="softmax", dtype=dtype)])


def functional_model(dtype="float32"):
    """A functional graph of the newer layers: two branches of a sequence merged, with a shared wrapper."""
    inputs = fn.Input((8, 3), dtype=dtype)
    d = {"dtype": dtype}
    shared = layers.TimeDistributed(layers.Dense(4, activation="elu", **d), **d)
    a = layers.LayerNormalization(**d)(shared(layers.Conv1D(3, 3, padding="same", **d)(inputs)))
    b = shared(layers.UpSampling1D(2, **d)(layers.MaxPooling1D(2, **d)(inputs)))
    attended = layers.Conv1DTranspose(2, 3, strides=2, padding="same", **d)(
        layers.AdditiveAttention(**d)([a, b], use_causal_mask=True))
    attended = layers.Cropping1D((0, 8), **d)(attended)  # (16 steps back to 8)
    merged = layers.Concatenate(**d)([layers.PReLU(**d)(a), layers.ReLU(max_value=2.0, **d)(b), attended])
    outputs = layers.Dense(3, activation="softmax", **d)(layers.GlobalAveragePooling1D(**d)(merged))
    return fn.Model(inputs, outputs)


BUILDERS = [sequence_model, image_model, table_model, embedding_model, functional_model]


def trained(model, rng):
    shape = (32,) + model.input_shape[1:]
    x = rng.integers(0, 10, shape) if model.layers[0].name.startswith("embedding") else rng.normal(size=shape)
    x = x.astype(model.dtype)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 3, 32), epochs=2, batch_size=8, verbose=0)
    return model, x


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_new_layer_round_trips_within_ferronet(tmp_path, rng, build, dtype):
    model, x = trained(build(dtype), rng)
    model.save(tmp_path / "m.keras")
    loaded = fn.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config()["layers"][1:] == model.get_config()["layers"][1:]
    fresh = fn.models.clone_model(model)
    fresh.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_normalization_weights_follow_keras(tmp_path):
    """Adapted statistics are weights mean, variance, count (int32); given ones live only in the config."""
    config, weights = _saved(table_model(), tmp_path / "t.keras")
    assert weights["layers/normalization/vars/2"] == []
    with zipfile.ZipFile(tmp_path / "t.keras") as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as f:
        assert f["layers/normalization/vars/2"].dtype == np.int32 and f["layers/normalization/vars/2"][()] == 40
    assert [v.name for v in fn.models.load_model(tmp_path / "t.keras").layers[0].weights] == [
        "mean", "variance", "count"]
    config, weights = _saved(image_model(), tmp_path / "i.keras")
    assert not any(k.startswith("layers/normalization/") for k in weights)
    assert config["config"]["layers"][1]["config"]["mean"] == [0.5, -0.5]
    model = table_model()
    model.save(tmp_path / "t.ferronet")  # ferronet's own format keeps the integer count too
    count = fn.models.load_model(tmp_path / "t.ferronet").layers[0].count
    assert count.numpy().dtype == np.int32 and count.numpy() == 40
    with pytest.raises(ValueError, match="was given its mean and variance, so it cannot adapt"):
        layers.Normalization(mean=[0.0], variance=[1.0]).adapt(np.ones((3, 1)))


# ------------------------------------------------------------------ Keras-made files
@pytest.mark.parametrize("name", FIXTURES)
def test_keras_made_files_predict_the_same(tmp_path, name):
    with np.load(os.path.join(DATA, f"{name}.expected.npz")) as npz:
        x, y = npz["x"], npz["y"]
    path = os.path.join(DATA, f"{name}.keras")
    model = fn.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=0, atol=1e-6)
    fresh = fn.models.clone_model(model)
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), y, rtol=0, atol=1e-6)
    # Written back by ferronet: Keras' own configs and HDF5 layout.
    config, weights = _saved(model, tmp_path / "back.keras")
    with zipfile.ZipFile(path) as zf:
        theirs = json.loads(zf.read("config.json"))["config"]["layers"]
        assert weights == _h5_layout(io.BytesIO(zf.read("model.weights.h5")))
    for ours, keras in zip(config["config"]["layers"], theirs, strict=True):
        if ours["class_name"] != "InputLayer":
            assert_keras_entry(ours, keras)


@pytest.mark.parametrize("name", KERAS2_FIXTURES)
def test_keras2_files_predict_the_same(name):
    with np.load(os.path.join(DATA, f"{name}.expected.npz")) as npz:
        x, y = npz["x"], npz["y"]
    model = fn.models.load_model(os.path.join(DATA, f"{name}.h5"))
    np.testing.assert_allclose(model.predict(x, verbose=0), y, rtol=0, atol=1e-6)


def test_keras_lambda_and_python_code_are_refused(tmp_path):
    with pytest.raises(FileFormatError, match="wraps Python code"):
        fn.Sequential([fn.Input((2, 3)), layers.TimeDistributed(layers.Lambda(lambda z: z * 2))]).save(
            tmp_path / "l.keras")
    assert not (tmp_path / "l.keras").exists()
    entry = {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "f", "function": "4wEAAA=="}}
    wrapped = {**RECORDED["TimeDistributed"]["config"]}
    wrapped["config"] = {**wrapped["config"], "layer": entry}
    with pytest.raises(FileFormatError, match="Keras stores as Python bytecode"):
        keras_config.from_keras({"class_name": "Sequential", "config": {"layers": [wrapped]}}, "edited")


def test_inert_keras_arguments_that_change_the_math_are_refused():
    record = json.loads(json.dumps(RECORDED["LayerNormalization"]["config"]))
    record["config"]["rms_scaling"] = True
    with pytest.raises(FileFormatError, match=r"does not support rms_scaling.*rms_scaling=True"):
        keras_config.from_keras({"class_name": "Sequential", "config": {"layers": [record]}}, "edited")


# ------------------------------------------------------------------ live Keras (optional)
@pytest.mark.parametrize("build", BUILDERS)
def test_live_keras_round_trip(tmp_path, rng, build):
    """ferronet's file loads in Keras with the same predictions; Keras' re-saved file loads back the same."""
    python = os.environ.get("FERRONET_KERAS_PYTHON")
    if not python:
        pytest.importorskip("keras", reason="keras is not installed (set FERRONET_KERAS_PYTHON to a Python with it)")
        python = sys.executable
    model, x = trained(build(), rng)
    model.save(tmp_path / "ours.keras")
    np.save(tmp_path / "x.npy", x[:8])
    script = textwrap.dedent("""
        import sys, numpy as np, keras
        d = sys.argv[1]
        if keras.__version__.startswith("3.0.") and sys.argv[2] == "functional_model":
            sys.exit(3)  # Keras 3.0 fails on its own file of this graph ("Layer node index out of bounds")
        model = keras.saving.load_model(d + "/ours.keras")
        np.save(d + "/keras_pred.npy", model.predict(np.load(d + "/x.npy"), verbose=0))
        model.save(d + "/theirs.keras")
    """)
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    proc = subprocess.run([python, "-c", script, str(tmp_path), build.__name__], env=env, capture_output=True)
    if proc.returncode == 3:
        pytest.skip("Keras 3.0 cannot load this graph, not even from its own file (Layer node index out of bounds)")
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    ours = model.predict(x[:8], verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "keras_pred.npy"), ours, rtol=0, atol=1e-6)
    back = fn.models.load_model(tmp_path / "theirs.keras")
    np.testing.assert_allclose(back.predict(x[:8], verbose=0), ours, rtol=0, atol=1e-6)


def test_time_distributed_nests_like_keras(tmp_path, rng):
    """A wrapper in a wrapper keeps Keras' path (layer/layer/vars); a wrapped model is refused both ways."""
    model = fn.Sequential([fn.Input((2, 3, 4)), layers.TimeDistributed(layers.TimeDistributed(layers.Dense(2)))])
    x = rng.normal(size=(5, 2, 3, 4)).astype("float32")
    config, weights = _saved(model, tmp_path / "t.keras")
    assert weights == {"layers/time_distributed/layer/layer/vars/0": [4, 2],
                       "layers/time_distributed/layer/layer/vars/1": [2]}
    np.testing.assert_array_equal(fn.models.load_model(tmp_path / "t.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    wrapped = fn.Sequential([fn.Input((2, 3)), layers.TimeDistributed(fn.Sequential([layers.Dense(2)]))])
    with pytest.raises(FileFormatError, match="TimeDistributed around a single layer"):
        wrapped.save(tmp_path / "w.keras")
    entry = config["config"]["layers"][1]
    entry["config"]["layer"] = {"class_name": "Sequential", "config": {"layers": []}}
    with pytest.raises(FileFormatError, match="TimeDistributed around a single layer.*Received: layer='Sequential'"):
        keras_config.from_keras({"class_name": "Sequential", "config": {"layers": [entry]}}, "edited")

