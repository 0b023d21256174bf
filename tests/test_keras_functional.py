"""Functional models in Keras files: Keras-made graphs load and predict the same, ferronet writes Keras 3's layout.

The fixtures come from tools/make_keras_fixtures.py (Keras 3.15 and Keras 2.15):
``merge_zoo`` (two inputs, two outputs, every merge layer), ``siamese`` (a
nested functional encoder applied to two inputs, a shared layer, a nested
Sequential), ``branches`` (convolutional branches joined along the channels)
``dict_io`` (inputs by name, a nested model with two outputs) and ``functional_add``. Set FERRONET_KERAS_PYTHON to an interpreter with
Keras 3 to also load ferronet-written files in live Keras.
"""

import json
import os
import subprocess
import textwrap
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import FileFormatError
from ferronet.formats import graph

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
GRAPHS = [("k3_merge_zoo", "k3_merge_zoo.keras", "k3_merge_zoo.keras"),
          ("k3_siamese", "k3_siamese.keras", "k3_siamese.weights.h5"),
          ("k3_branches", "k3_branches.keras", "k3_branches.keras"),
          ("k3_functional_add", "k3_functional_add.keras", "k3_functional_add.keras"),
          ("k2_merge_zoo", "k2_merge_zoo.h5", "k2_merge_zoo.h5"),
          ("k2_siamese", "k2_siamese.h5", "k2_siamese_weights.h5"),
          ("k2_branches", "k2_branches.h5", "k2_branches.h5"),
          ("k3_dict_io", "k3_dict_io.keras", "k3_dict_io.keras"),
          ("k2_dict_io", "k2_dict_io.h5", "k2_dict_io.h5")]


def fixture(name):
    return os.path.join(DATA, name)


def expected(name):
    """Inputs and Keras' predictions, as single arrays or lists (several inputs/outputs)."""
    with np.load(fixture(f"{name}.expected.npz")) as npz:
        xs = [npz[k] for k in sorted(npz.files) if k.startswith("x")]
        ys = [npz[k] for k in sorted(npz.files) if k.startswith("y")]
    return (xs[0] if len(xs) == 1 else xs), ys


def predictions(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


def max_diff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def file_config(path):
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("config.json"))
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["model_config"])


def coded_model():
    """Dict inputs, a layer shared across branches, nested functional and Sequential models, a training flag."""
    a, b = fn.Input((4,), name="a"), fn.Input((3,), name="b")
    shared = layers.Dense(4, activation="tanh")
    block = fn.Sequential([layers.Dense(5, activation="relu"), layers.BatchNormalization()], name="block")
    inner_in = fn.Input((4,))
    inner = fn.Model(inner_in, layers.Dense(4)(inner_in), name="inner")
    h1, h2 = shared(a), shared(layers.Dense(4)(b))
    x = layers.Concatenate()([inner(h1), layers.Maximum()([h1, h2]), block(h2, training=False)])
    outputs = [layers.Dense(2, name="y")(x), layers.Dot(axes=1, normalize=True)([h1, h2])]
    return fn.Model({"a": a, "b": b}, outputs, name="coded")


def coded_inputs(rng, n=6):
    return {"a": rng.normal(size=(n, 4)).astype("float32"), "b": rng.normal(size=(n, 3)).astype("float32")}


def trained_coded(rng):
    model = coded_model()
    x = coded_inputs(rng, 16)
    model.compile(optimizer="adam", loss=["mse", "mse"])
    model.fit(x, [rng.normal(size=(16, 2)), rng.normal(size=(16, 1))], epochs=2, batch_size=4, verbose=0)
    return model, x


# ------------------------------------------------------------------ Keras-made files
@pytest.mark.parametrize("name,model_file,weights_file", GRAPHS)
def test_keras_made_functional_files_predict_the_same(name, model_file, weights_file):
    x, y = expected(name)
    model = fn.models.load_model(fixture(model_file))
    assert type(model).__name__ == "Functional"
    assert max_diff(predictions(model, x), y) <= 1e-6
    fresh = fn.models.clone_model(model)  # same graph, new weights
    assert max_diff(predictions(fresh, x), y) > 1e-3
    fresh.load_weights(fixture(weights_file))
    assert max_diff(predictions(fresh, x), y) <= 1e-6


@pytest.mark.parametrize("name,model_file", [(g[0], g[1]) for g in GRAPHS])
def test_keras_layer_order_is_reproduced(name, model_file):
    """Keras' order of a graph's layers (which numbers its weight paths) is what keras_layers computes."""
    config = file_config(fixture(model_file))
    model = fn.models.load_model(fixture(model_file))
    assert [layer.name for layer in graph.keras_layers(model)] == [e["name"] for e in config["config"]["layers"]]
    for entry in config["config"]["layers"]:
        if entry["class_name"] == "Functional":
            nested = [layer.name for layer in graph.keras_layers(model.get_layer(entry["name"]))]
            assert nested == [e["name"] for e in entry["config"]["layers"]]


def test_loaded_graph_keeps_its_structure():
    model = fn.models.load_model(fixture("k3_siamese.keras"))
    assert [t.name for t in model.inputs] == ["left", "right"]
    encoder, shared = model.get_layer("encoder"), model.get_layer("shared")
    assert type(encoder).__name__ == "Functional" and len(encoder._inbound_nodes) == 2
    assert len(shared._inbound_nodes) == 2 and len(shared.weights) == 2
    assert type(model.get_layer("head")).__name__ == "Sequential"
    merge = fn.models.load_model(fixture("k2_merge_zoo.h5"))
    assert merge.output_shape == [(None, 3), (None, 1)]
    assert {type(layer).__name__ for layer in merge.layers} >= {"Add", "Subtract", "Multiply", "Average", "Maximum",
                                                               "Minimum", "Concatenate", "Dot"}


def test_weights_of_a_keras_file_load_into_a_model_built_in_code():
    x, y = expected("k3_merge_zoo")
    L = layers
    a, b = fn.Input((6,), name="a"), fn.Input((6,), name="b")
    ha, hb = L.Dense(5, activation="tanh")(a), L.Dense(5, activation="relu")(b)
    merged = [L.Add()([ha, hb, ha]), L.Subtract()([ha, hb]), L.Multiply()([ha, hb]), L.Average()([ha, hb]),
              L.Maximum()([ha, hb]), L.Minimum()([ha, hb])]
    c = L.Concatenate()(merged)
    value = L.Dense(1)(L.Concatenate(axis=1)([L.Dot(axes=1, normalize=True)([ha, hb]), c]))
    model = fn.Model([a, b], [L.Dense(3, activation="softmax")(c), value])
    model.load_weights(fixture("k3_merge_zoo.keras"))
    assert max_diff(predictions(model, x), y) <= 1e-6


# ------------------------------------------------------------------ ferronet-written files
def _layout(source):
    out = {}
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, getattr(obj, "shape", None)))
    return {k: v for k, v in out.items() if v is not None}


def test_written_functional_weights_have_keras_paths(tmp_path):
    model = fn.models.load_model(fixture("k3_siamese.keras"))
    model.save_weights(tmp_path / "w.weights.h5")
    assert _layout(tmp_path / "w.weights.h5") == _layout(fixture("k3_siamese.weights.h5"))


def test_functional_round_trip_within_ferronet(tmp_path, rng):
    model, x = trained_coded(rng)
    ours = predictions(model, x)
    model.save(tmp_path / "c.keras")
    model.save_weights(tmp_path / "c.weights.h5")
    loaded = fn.models.load_model(tmp_path / "c.keras")
    assert max_diff(predictions(loaded, x), ours) == 0
    assert [t.name for t in loaded.inputs] == ["a", "b"] and isinstance(loaded._inputs_struct, dict)
    assert sorted(layer.name for layer in loaded.layers) == sorted(layer.name for layer in model.layers)
    assert loaded.get_layer("block").layers[1].moving_mean.numpy().tolist() == \
        model.get_layer("block").layers[1].moving_mean.numpy().tolist()
    written = file_config(str(tmp_path / "c.keras"))["config"]
    calls = [e for e in written["layers"] if e["name"] == "block"][0]["inbound_nodes"]
    assert calls[0]["kwargs"] == {"training": False}
    assert written["input_layers"] == {"a": ["a", 0, 0], "b": ["b", 0, 0]}
    fresh = fn.models.clone_model(model)
    fresh.load_weights(tmp_path / "c.weights.h5")
    assert max_diff(predictions(fresh, x), ours) == 0


@pytest.mark.parametrize("name", ["k3_siamese", "k2_merge_zoo", "k2_branches"])
def test_keras_made_graph_round_trips_within_ferronet(tmp_path, name):
    x, y = expected(name)
    model = fn.models.load_model(fixture(f"{name}.keras" if name.startswith("k3") else f"{name}.h5"))
    model.save(tmp_path / "m.keras")
    assert max_diff(predictions(fn.models.load_model(tmp_path / "m.keras"), x), y) <= 1e-6


def test_what_keras_cannot_hold_is_refused(tmp_path):
    inputs = fn.Input((3,))
    model = fn.Model(inputs, layers.Dense(2)(inputs * 2.0))  # a tensor expression becomes a Lambda layer
    with pytest.raises(FileFormatError, match="wraps Python code"):
        model.save(tmp_path / "l.keras")
    assert not (tmp_path / "l.keras").exists()


# ------------------------------------------------------------------ damaged graphs
def _edited(tmp_path, edit, source="k3_siamese.keras"):
    with zipfile.ZipFile(fixture(source)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    edit(config["config"])
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return path


def _layer(config, name):
    return next(e for e in config["layers"] if e["name"] == name)


def _history(config, name, call=0, arg=None):
    args = _layer(config, name)["inbound_nodes"][call]["args"][0]
    return (args if arg is None else args[arg])["config"]["keras_history"]


@pytest.mark.parametrize("edit,match", [
    (lambda c: _history(c, "shared", 1).__setitem__(1, 5), "refers to call 5 of layer 'encoder', which has 2"),
    (lambda c: _history(c, "shared", 0).__setitem__(0, "nowhere"), "does not list"),
    (lambda c: _history(c, "shared", 0).__setitem__(0, "dense_11"), "never exist"),
    (lambda c: _layer(c, "shared")["inbound_nodes"][0]["kwargs"].update(mask=[1]), "argument 'mask'"),
    (lambda c: _layer(c, "shared")["inbound_nodes"][0].update(args=[]), "one positional argument"),
    (lambda c: _layer(c, "subtract_3")["inbound_nodes"][0]["args"][0].append(3.0), "with a constant"),
    (lambda c: _layer(c, "dense_11").update(name="shared"), "unique names"),
    (lambda c: c.update(output_layers=["dense_11", 0]), "output_layers is malformed"),
    (lambda c: _layer(c, "shared")["config"].update(units=7), "shape"),
])
def test_damaged_graphs_name_the_problem(tmp_path, edit, match):
    with pytest.raises(FileFormatError, match=match):
        fn.models.load_model(_edited(tmp_path, edit))


def test_huge_layer_in_a_graph_is_refused_before_allocating(tmp_path):
    path = _edited(tmp_path, lambda c: _layer(c, "shared")["config"].update(units=10 ** 11))
    with pytest.raises(FileFormatError, match="more than ferronet (loads|builds a graph with)"):
        fn.models.load_model(path)


# ------------------------------------------------------------------ live Keras (optional)
def _keras_python():
    python = os.environ.get("FERRONET_KERAS_PYTHON")
    if not python:
        pytest.skip("set FERRONET_KERAS_PYTHON to a Python that has Keras 3")
    return python


@pytest.mark.parametrize("source", ["coded", "k3_siamese", "k2_merge_zoo", "k3_branches", "k2_dict_io"])
def test_live_keras_loads_ferronet_functional_files(tmp_path, rng, source):
    python = _keras_python()
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    if source == "k2_dict_io":  # an output straight from a nested model: Keras 3.0 misreads its own numbering
        version = subprocess.run([python, "-c", "import keras; print(keras.__version__)"], env=env, check=True,
                                 capture_output=True, text=True).stdout.strip()
        if version.startswith("3.0."):
            pytest.skip(f"Keras {version} cannot load a model whose output is a nested model's output")
    if source == "coded":
        model, x = trained_coded(rng)
        inputs = [x["a"], x["b"]]
    else:
        x, _ = expected(source)
        model = fn.models.load_model(fixture(f"{source}.keras" if source.startswith("k3") else f"{source}.h5"))
        inputs = x if isinstance(x, list) else [x]
    model.save(tmp_path / "ours.keras")
    model.save_weights(tmp_path / "ours.weights.h5")
    np.savez(tmp_path / "x.npz", *inputs)
    script = textwrap.dedent("""
        import sys, numpy as np, keras
        d = sys.argv[1]
        with np.load(d + "/x.npz") as npz:
            xs = [npz[f"arr_{i}"] for i in range(len(npz.files))]
        model = keras.saving.load_model(d + "/ours.keras")
        names = [t.name for t in model.inputs]
        feed = xs[0] if len(xs) == 1 else (dict(zip(names, xs)) if isinstance(model.input, dict) else xs)
        out = model.predict(feed, verbose=0)
        fresh = keras.models.clone_model(model)
        fresh.load_weights(d + "/ours.weights.h5")
        again = fresh.predict(feed, verbose=0)
        out, again = [out if isinstance(out, (list, tuple)) else [out] for out in (out, again)]
        np.savez(d + "/keras.npz", *out, *again)
    """)
    subprocess.run([python, "-c", script, str(tmp_path)], check=True, env=env, capture_output=True)
    ours = predictions(model, x)
    with np.load(tmp_path / "keras.npz") as npz:
        theirs = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    assert max_diff(theirs, ours + ours) <= 1e-6


def _json_paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from _json_paths(value, prefix + (key,))


def test_graph_config_values_of_any_type_give_a_file_format_error_or_a_working_model(tmp_path):
    """Every value of a functional config.json replaced by other JSON types: a clean error or a usable model."""
    import random
    import warnings

    with zipfile.ZipFile(fixture("k3_siamese.keras")) as zf:
        base = json.loads(zf.read("config.json"))
    paths = [p[1:] for p in _json_paths(base["config"], ("config",)) if len(p) > 1]
    values = [None, True, 0, 1, -1, 1 << 40, 3.5, "", "shared", [], [None], [1, 2], ["shared", 0, 0], {},
              {"class_name": "__keras_tensor__"}, {"config": 1}]
    rng = random.Random(1)
    outcomes = {"error": 0, "loaded": 0}
    for trial in range(300):
        path = rng.choice(paths)
        value = rng.choice(values)

        def edit(config, path=path, value=value):
            node = config
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fn.models.load_model(_edited(tmp_path, edit))
        except FileFormatError:
            outcomes["error"] += 1
            continue
        n = next((t.shape[0] for t in model.inputs if t.shape[0]), 2)  # a fixed batch size is a valid edit
        model.predict([np.zeros((n,) + tuple(t.shape[1:]), np.float32) for t in model.inputs], verbose=0)
        outcomes["loaded"] += 1
    assert outcomes["error"] > 50 and outcomes["loaded"] > 30, outcomes


def test_readme_functional_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "saving.md").read_text()
    code = re.findall(r"```python\n(.*?)```", page, re.S)[1]
    monkeypatch.chdir(tmp_path)
    scope = {"fn": fn, "np": np}
    exec(compile(code, "README functional saving example", "exec"), scope)
    x = {"a": np.ones((2, 4), np.float32), "b": np.ones((2, 3), np.float32)}
    loaded = fn.models.load_model("pair.keras")
    assert max_diff(predictions(loaded, x), predictions(scope["pair"], x)) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"pair.keras", "pair.onnx"}


def test_functional_model_inside_a_sequential_is_refused(tmp_path):
    """Keras allows Sequential([functional, ...]); ferronet's Sequential cannot run one yet, so the load says so."""
    def edit(config):
        # Put the siamese file's encoder (a functional model) into a Sequential replacing the head.
        head = _layer(config, "head")
        encoder = {k: v for k, v in _layer(config, "encoder").items() if k not in ("name", "inbound_nodes")}
        head["config"]["layers"].insert(1, encoder)

    with pytest.raises(FileFormatError, match="cannot hold a functional model yet"):
        fn.models.load_model(_edited(tmp_path, edit))
