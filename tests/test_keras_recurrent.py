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
from ferronet.formats import calls, keras_config, keras_v3, plan

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")
MERGE_MODES = ["concat", "sum", "mul", "ave", None]


# ------------------------------------------------------------------ the models (one definition for both libraries)
MODELS_FILE = os.path.join(os.path.dirname(__file__), "keras_recurrent_models.py")
MODELS = runpy.run_path(MODELS_FILE)["MODELS"]


def inputs_for(model, rng, n=8):
    """A batch for ``model``: token ids for an Embedding, zeros and ones for an input named mask, else normals."""
    embed = any(type(layer).__name__ == "Embedding" for layer in model.layers)
    masking = any(type(layer).__name__ == "Masking" for layer in model.layers)
    inputs = [(model.input_shape, "")] if type(model).__name__ == "Sequential" else [
        (t.shape, t.name) for t in model.inputs]
    out = []
    for shape, name in inputs:
        size = (n,) + tuple(7 if d is None else d for d in shape[1:])  # sequences of any length: 7 steps
        if name.startswith("mask"):
            out.append((rng.random(size) < 0.7).astype("float32"))
            continue
        x = rng.integers(0, 10, size) if embed else rng.normal(size=size)
        if embed or masking:  # trailing padding, so masks matter
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
    """The model's outputs as a list, stateful layers started from zeros (as in a fresh Keras model)."""
    for layer in model.layers:
        if getattr(getattr(layer, "forward_layer", layer), "stateful", False):
            layer.reset_states()
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


# ------------------------------------------------------------------ against what Keras 3.15 writes (recorded)
with open(os.path.join(DATA, "k3_recurrent.json")) as _f:
    RECORDED = json.load(_f)["models"]
# Keras arguments ferronet leaves out of its files, with the values it reads them at (the others must match).
NOT_WRITTEN = {"activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
               "bias_constraint": None, "use_gate": False, "sliding_window": None, "quantization_config": None,
               "embeddings_constraint": None, "rms_scaling": False, "beta_regularizer": None,
               "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}
# Merge layers build when the graph calls them: ferronet writes no build_config (Keras 3.0 cannot build Dot from one);
# nor does it for stateful recurrent layers (Keras builds them for the model's fixed batch size, see _stateful).
MERGES = ("Add", "Concatenate")
# ferronet writes the initializer names every Keras 3 reads (3.0 knows only these); 3.15 writes the short ones.
LONG_NAMES = {"OrthogonalInitializer": "Orthogonal"}
# Keras writes the attention axes it resolved; ferronet writes None (the same axes) unless given.
RESOLVED = {"attention_axes": [1]}


def _unnamed(value):
    """A config with layer names and tensor names taken out (they count per session), tensors kept by shape.

    Call arguments at their defaults are left out too: Keras writes the recurrent layers' ``mask=None`` and
    ``training=False`` it filled in itself; and so are masks, which ferronet leaves to Keras' own propagation
    from the Embedding (the live tests check Keras predicts the same).
    """
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return {"tensor": value["config"]["shape"], "index": value["config"]["keras_history"][1:]}
        if "args" in value and "kwargs" in value:
            value = {"args": value["args"], "kwargs": {k: v for k, v in value["kwargs"].items()
                                                       if v is not None and (k, v) != ("training", False)
                                                       and k != "mask"}}
        return {k: _unnamed(v) for k, v in value.items() if k not in ("name", "shared_object_id")}
    if isinstance(value, list):
        return [_unnamed(v) for v in value]
    return value


def _stateful(entry):
    """Stateful recurrent layers build on their first call, with the model's fixed batch size."""
    config = entry["config"]
    return bool(config.get("stateful") or (config.get("layer") or {}).get("config", {}).get("stateful"))


def assert_same_entry(ours, theirs, where):
    """Same class, module, build config and calls; the same value for every argument ferronet writes."""
    for key in ("module", "class_name", "registered_name", "build_config", "inbound_nodes"):
        if key == "build_config" and (ours["class_name"] in MERGES + ("Masking",) or _stateful(ours)):
            assert "build_config" not in ours, where
            continue
        assert _unnamed(ours.get(key)) == _unnamed(theirs.get(key)), (where, key)
    mine, keras = ours["config"], theirs["config"]
    for key, value in mine.items():
        assert key in keras, (where, key)
        if key == "name":
            continue
        if key == "dtype":
            assert value == keras[key]["config"]["name"], (where, key)
        elif key in ("layer", "backward_layer", "cell"):
            assert_same_entry(value, keras[key], f"{where}.{key}")
        elif isinstance(value, dict):  # initializers: Keras' wrapping, the same arguments
            assert (value["module"], LONG_NAMES.get(value["class_name"], value["class_name"])) == (
                keras[key]["module"], keras[key]["class_name"]), (where, key)
            assert value["config"].items() <= keras[key]["config"].items(), (where, key)
        elif key in RESOLVED and value is None:
            assert keras[key] == RESOLVED[key], (where, key)
        else:
            assert value == keras[key], (where, key)
    for key in set(keras) - set(mine):
        assert key in NOT_WRITTEN and keras[key] == NOT_WRITTEN[key], (where, key)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_files_are_written_like_keras(tmp_path, name):
    """ferronet's file has Keras' HDF5 groups and arrays and Keras' layer entries (configs, builds, calls)."""
    model, _ = ferronet_model(name)
    model.save(tmp_path / "m.keras")
    config, groups = saved(tmp_path / "m.keras")
    record = RECORDED[name]
    assert groups == record["groups"]
    ours = [e for e in config["config"]["layers"] if e["class_name"] != "InputLayer"]
    theirs = [e for e in record["layers"] if e["class_name"] not in ("InputLayer", "NotEqual", "Any")]
    assert len(ours) == len(theirs)
    for mine, keras in zip(ours, theirs):
        assert_same_entry(mine, keras, f"{name}: {keras['class_name']}")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_configs_read_into_the_same_model(tmp_path, name):
    """Keras' recorded config.json plans to the weight groups Keras wrote, and builds ferronet's model."""
    record = RECORDED[name]
    kind = "Sequential" if not any("inbound_nodes" in e for e in record["layers"]) else "Functional"
    config = {"class_name": kind, "config": {"name": "m", "layers": record["layers"]}}
    if kind == "Functional":
        model, _ = ferronet_model(name)
        written = keras_config.to_keras(model)["config"]
        config["config"].update(input_layers=_keras_io(record, written, "input_layers"),
                                output_layers=_keras_io(record, written, "output_layers"))
    fconfig = keras_config.from_keras(config, "recorded")
    plans, build = plan.plan_model(fconfig, "recorded")
    stored = {g for g, shape in record["groups"].items() if shape is not None}
    planned = {f"{group}/vars/{i}" for p in plans for group, n in p.groups for i in range(n)}
    assert planned == stored
    shapes = {f"{group}/vars/{i}": list(w) for p in plans for (group, n), ws in _split(p) for i, (_, w) in
              enumerate(ws)}
    assert shapes == {g: record["groups"][g] for g in stored}
    build()


def _split(p):
    weights = list(p.weights)
    for group, n in p.groups:
        yield (group, n), weights[:n]
        weights = weights[n:]


def _keras_io(record, written, key):
    """Keras' input/output layer references: ferronet's, with the recorded model's input and layer names."""
    ours = [e["name"] for e in written["layers"]]
    theirs = [e["name"] for e in record["layers"] if e["class_name"] not in ("NotEqual", "Any")]
    rename = dict(zip(ours, theirs, strict=True))

    def rec(v):
        if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str):
            return [rename[v[0]], v[1], v[2]]
        return [rec(x) for x in v]

    return rec(written[key])


@pytest.mark.parametrize("file_name", ["k3_rnn_masked", "k3_rnn_bidirectional", "k3_rnn_attention"])
def test_keras_made_files_predict_the_same(tmp_path, file_name):
    path = os.path.join(DATA, f"{file_name}.keras")
    with np.load(os.path.join(DATA, f"{file_name}.expected.npz")) as npz:
        xs = [npz[k] for k in sorted(npz.files) if k.startswith("x")]
        ys = [npz[k] for k in sorted(npz.files) if k.startswith("y")]
    x = xs if len(xs) > 1 else xs[0]
    model = fn.models.load_model(path)
    for mine, theirs in zip(predict(model, x), ys, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    model.save(tmp_path / "back.keras")  # written back: the same groups and arrays as Keras'
    _, groups = saved(tmp_path / "back.keras")
    with zipfile.ZipFile(path) as zf:
        assert groups == _h5_layout(zf.read("model.weights.h5"))


# ------------------------------------------------------------------ Keras 2's legacy dialect
def _keras2_rnn(units, cls, name, **extra):
    """A recurrent layer's entry as Keras 2.15 writes it (its ``implementation`` and ``time_major`` too)."""
    config = {"name": name, "trainable": True, "dtype": "float32", "return_sequences": True, "return_state": False,
              "go_backwards": False, "stateful": False, "unroll": False, "time_major": False, "units": units,
              "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
              "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
              "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
              "recurrent_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
              "recurrent_dropout": 0.0, "implementation": 2, **extra}
    return {"class_name": cls, "config": config}


def test_keras2_h5_with_recurrent_layers_loads(tmp_path):
    """Keras 2's layout: configs with its own keys, weights named ``bidirectional/forward_gru/gru_cell/kernel:0``."""
    rng = np.random.default_rng(4)
    model = randomized(fn.Sequential([fn.Input((6, 3)), layers.LSTM(4, return_sequences=True, name="lstm"),
                                      layers.Bidirectional(layers.GRU(2), merge_mode="sum", name="bidirectional")]),
                       rng)
    first = _keras2_rnn(4, "LSTM", "lstm", unit_forget_bias=True, batch_input_shape=[None, 6, 3])
    gru = _keras2_rnn(2, "GRU", "gru", reset_after=True, return_sequences=False)
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        first, {"class_name": "Bidirectional", "config": {"name": "bidirectional", "trainable": True,
                                                           "dtype": "float32", "layer": gru, "merge_mode": "sum"}}]}}
    cell = ("kernel", "recurrent_kernel", "bias")
    names = {"lstm": [f"lstm/lstm_cell/{w}:0" for w in cell],
             "bidirectional": [f"bidirectional/{d}_gru/gru_cell/{w}:0" for d in ("forward", "backward") for w in cell]}
    with h5py.File(tmp_path / "k2.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"], f.attrs["backend"] = "2.15.0", "tensorflow"
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"lstm", b"bidirectional"])
        for layer_name, layer in (("lstm", model.layers[0]), ("bidirectional", model.layers[1])):
            group = weights.create_group(layer_name)
            group.attrs["weight_names"] = np.array([n.encode() for n in names[layer_name]])
            for n, v in zip(names[layer_name], layer.weights, strict=True):
                group.create_dataset(n, data=v.numpy())
    x = rng.normal(size=(5, 6, 3)).astype("float32")
    loaded = fn.models.load_model(tmp_path / "k2.h5")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [w.name for w in loaded.layers[1].forward_layer.weights] == list(cell)
    fresh = randomized(fn.models.clone_model(model), rng)
    fresh.load_weights(tmp_path / "k2.h5")
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------------ files ferronet refuses, and why
def _recorded_graph(name):
    path = os.path.join(DATA, "k3_rnn_masked.keras" if name == "masked" else "k3_rnn_attention.keras")
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewritten(tmp_path, members, edit):
    config = json.loads(members["config.json"])
    edit({e["class_name"]: e for e in config["config"]["layers"]})
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for n, payload in members.items():
            zf.writestr(n, json.dumps(config) if n == "config.json" else payload)
    return path


def _mask_of_other_input(layers_by_class):
    """The LSTM's mask computed from the embedding's output instead of its input."""
    layers_by_class["NotEqual"]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "embedding"


@pytest.mark.parametrize("name, edit, match", [
    ("masked", _mask_of_other_input, "called with a mask ferronet cannot rebuild"),
    ("masked", lambda c: c["NotEqual"]["inbound_nodes"][0]["args"].__setitem__(1, 1),
     "called with a mask ferronet cannot rebuild"),
    ("masked", lambda c: c["NotEqual"]["inbound_nodes"][0]["args"].__setitem__(1, "zero"),
     r"only as the mask of an Embedding\(mask_zero=True\)"),
    ("masked", lambda c: c["Embedding"]["config"].update(mask_zero=False), "called with a mask ferronet cannot"),
    ("masked", lambda c: c["LSTM"]["config"].update(recurrent_constraint={"class_name": "NonNeg"}),
     "does not support recurrent_constraint"),
    ("masked", lambda c: c["LSTM"]["config"].update(recurrent_activation="softplus"), "recurrent_activation"),
    ("attention", lambda c: c["MultiHeadAttention"]["inbound_nodes"][0]["kwargs"].update(
        return_attention_scores="yes"), "argument 'return_attention_scores'"),
    ("attention", lambda c: c["MultiHeadAttention"]["config"].update(use_gate=True), "does not support use_gate"),
    ("attention", lambda c: c["MultiHeadAttention"]["config"].update(attention_axes=[2]), "attention_axes"),
])
def test_unsupported_files_name_the_problem(tmp_path, name, edit, match):
    path = _rewritten(tmp_path, _recorded_graph(name), edit)
    with pytest.raises(FileFormatError, match=match):
        fn.models.load_model(path)


def test_missing_or_misplaced_cell_weights_are_named(tmp_path):
    members = _recorded_graph("masked")
    with h5py.File(io.BytesIO(members["model.weights.h5"]), "r") as f:
        buf = io.BytesIO()
        with h5py.File(buf, "w") as g:
            for key in f:
                f.copy(f[key], g, name=key)
            del g["layers/lstm/vars"]
            g.move("layers/lstm/cell/vars", "layers/lstm/vars")  # under the layer (Keras 2.x style), not its cell
    path = tmp_path / "moved.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for n, payload in members.items():
            zf.writestr(n, buf.getvalue() if n == "model.weights.h5" else payload)
    with pytest.raises(FileFormatError, match=r"where Keras 3 does not keep them\): \['layers/lstm'\]"):
        fn.models.load_model(path)
    model = fn.models.load_model(os.path.join(DATA, "k3_rnn_masked.keras"))
    with pytest.raises(FileFormatError, match=r"no group layers/lstm/cell/vars for layer 'lstm"):
        keras_v3.read_weights(h5py.File(io.BytesIO(buf.getvalue()), "r"), plan.plan_built(model), "moved")


def test_call_arguments_a_keras_file_cannot_hold_are_refused_when_written():
    """A recorded call argument outside Keras' form stops the writing (it is never silently dropped)."""
    with pytest.raises(FileFormatError, match="call argument 'mask'.*model.ferronet"):
        calls.to_keras3(layers.LSTM(2, name="lstm"), "x", {"training": None, "mask": "m"}, lambda t: t)
    assert calls.to_keras3(layers.LSTM(2), "x", {"training": True}, lambda t: t) == {
        "args": ["x"], "kwargs": {"training": True}}
    assert calls.to_keras3(layers.LSTM(2), ["x", "h", "c"], {}, lambda t: t) == {
        "args": ["x"], "kwargs": {"initial_state": ["h", "c"]}}


def test_forged_sizes_and_shapes_are_refused_before_allocating():
    """Weights are derived from the config before anything is built: a huge LSTM is refused, not allocated."""
    huge = json.loads(json.dumps(RECORDED["lstm"]["layers"]))
    huge[-1]["config"]["units"] = 10**6
    with pytest.raises(FileFormatError, match="declares 4000016000000 weights"):
        plan.plan_model(keras_config.from_keras({"class_name": "Sequential", "config": {"layers": huge}}, "f"), "f")
    several = json.loads(json.dumps(RECORDED["lstm"]["layers"]))
    several[-1]["config"]["return_state"] = True
    several.append({k: v for k, v in RECORDED["masked_lstm_graph"]["layers"][-1].items()
                    if k not in ("name", "inbound_nodes")})
    with pytest.raises(FileFormatError, match="takes one tensor"):
        plan.plan_model(keras_config.from_keras({"class_name": "Sequential", "config": {"layers": several}}, "f"),
                        "f")


def test_gru_reset_before_round_trips(tmp_path):
    """GRU(reset_after=False) reads from Keras' config with its (3*units,) bias and saves back the same."""
    record = RECORDED["gru_reset_before"]
    assert record["groups"]["layers/gru/cell/vars/2"] == [9]
    fconfig = keras_config.from_keras({"class_name": "Sequential", "config": {"layers": record["layers"]}}, "f")
    plans, build = plan.plan_model(fconfig, "f")
    model = build()
    grus = [layer for layer in model.layers if isinstance(layer, layers.GRU)]
    assert [g.reset_after for g in grus] == [False, False]
    assert [g.bias.shape for g in grus] == [(9,), (6,)]
    randomized(model, np.random.default_rng(4))
    model.save(tmp_path / "m.keras")
    loaded = fn.models.load_model(tmp_path / "m.keras")
    assert [layer.get_config()["reset_after"] for layer in loaded.layers if isinstance(layer, layers.GRU)] == [
        False, False]
    x = inputs_for(model, np.random.default_rng(5))
    np.testing.assert_array_equal(predict(loaded, x)[0], predict(model, x)[0])


def test_bidirectional_names_its_layers_once():
    """A layer read back from a config is already the forward one: Keras' names, without a second prefix."""
    layer = layers.Bidirectional(layers.LSTM(2, name="enc"))
    assert (layer.forward_layer.name, layer.backward_layer.name) == ("forward_enc", "backward_enc")
    again = layers.Bidirectional.from_config(layer.get_config())
    assert (again.forward_layer.name, again.backward_layer.name) == ("forward_enc", "backward_enc")
    assert again.get_config() == layer.get_config()


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


@pytest.mark.parametrize("edit, match", [
    (lambda ops: ops["Any"]["config"].update(axis=1), r"only as the mask of a Masking layer"),
    (lambda ops: ops["NotEqual"]["inbound_nodes"][0]["args"].__setitem__(1, 0.25), "mask ferronet cannot rebuild"),
])
def test_masking_masks_keras_writes_as_operations_are_checked(edit, match):
    """Keras writes a Masking layer's mask as Any(NotEqual(x, mask_value), axis=-1): read only when it is that."""
    record = json.loads(json.dumps(RECORDED["masking_graph"]))
    edit({e["class_name"]: e for e in record["layers"]})
    model, _ = ferronet_model("masking_graph")
    written = keras_config.to_keras(model)["config"]
    config = {"class_name": "Functional", "config": {
        "name": "m", "layers": record["layers"], "input_layers": _keras_io(record, written, "input_layers"),
        "output_layers": _keras_io(record, written, "output_layers")}}
    with pytest.raises(FileFormatError, match=match):
        plan.plan_model(keras_config.from_keras(config, "edited"), "edited")
