"""Hostile, truncated and unsupported Keras files: a FileFormatError (a ValueError) naming the problem, never a
crash, an allocation the file does not back, or a half-loaded model."""

import json
import os
import struct
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import FileFormatError

h5py = pytest.importorskip("h5py")


def mlp():
    return fn.Sequential([fn.Input((4,)), layers.Dense(3, activation="relu", name="dense"),
                          layers.Dense(2, name="dense_1")])


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in entries.items():
            zf.writestr(name, payload)
    return path


def with_config(tmp_path, edit, name="edited.keras"):
    """A valid .keras file of mlp() whose config.json went through ``edit(config)``."""
    mlp().save(tmp_path / "base.keras")
    entries = members(tmp_path / "base.keras")
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config)
    return write_zip(tmp_path / name, entries)


def dense_config(config, index=1):
    return config["config"]["layers"][index]["config"]


def test_truncated_files(tmp_path):
    model = mlp()
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    for name in ("m.keras", "m.weights.h5"):
        payload = (tmp_path / name).read_bytes()
        (tmp_path / f"t_{name}").write_bytes(payload[: len(payload) // 2])
    with pytest.raises(FileFormatError, match="truncated"):
        fn.models.load_model(tmp_path / "t_m.keras")
    before = model.get_weights()
    with pytest.raises(FileFormatError, match="truncated"):
        model.load_weights(tmp_path / "t_m.weights.h5")
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_forged_member_size_is_refused(tmp_path):
    """A zip entry declaring far more bytes than it could inflate to (a zip bomb) is never read."""
    mlp().save(tmp_path / "m.keras")
    payload = bytearray((tmp_path / "m.keras").read_bytes())
    central = payload.index(b"PK\x01\x02")
    while True:  # patch the uncompressed size of config.json in the central directory
        name_len = struct.unpack_from("<H", payload, central + 28)[0]
        if payload[central + 46: central + 46 + name_len] == b"config.json":
            struct.pack_into("<I", payload, central + 24, 0xFFFF0000)
            break
        extra, comment = struct.unpack_from("<HH", payload, central + 30)
        central += 46 + name_len + extra + comment
    (tmp_path / "bomb.keras").write_bytes(bytes(payload))
    with pytest.raises(FileFormatError, match="declares .* bytes for config.json"):
        fn.models.load_model(tmp_path / "bomb.keras")


def test_config_declaring_huge_weights_is_refused_before_allocating(tmp_path):
    path = with_config(tmp_path, lambda c: dense_config(c).update(units=1 << 40))
    with pytest.raises(FileFormatError, match="declares .* weights, more than"):
        fn.models.load_model(path)


def test_dataset_without_storage_is_refused_before_reading(tmp_path):
    """An HDF5 dataset can declare a shape it never stores (reads return the fill value): refused."""
    model = fn.Sequential([fn.Input((512,)), layers.Dense(512)])
    path = tmp_path / "hollow.weights.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(512, 512), dtype="float32", chunks=(64, 64))  # nothing written
        group.create_dataset("1", data=np.zeros(512, np.float32))
        f.create_group("vars")
    with pytest.raises(FileFormatError, match="declares 1048576 bytes but the file stores 0"):
        model.load_weights(path)


@pytest.mark.parametrize("shape,dtype,match", [((3, 3), "float32", r"shape \(4, 3\) in the model"),
                                               ((4, 3), "int32", "must hold floats")])
def test_wrong_shape_or_dtype(tmp_path, shape, dtype, match):
    model = mlp()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=np.ones(shape, dtype))
    before = model.get_weights()
    with pytest.raises(FileFormatError, match=match):
        model.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(before, model.get_weights()):  # all-or-nothing
        np.testing.assert_array_equal(a, b)


def test_weights_for_layers_the_model_lacks(tmp_path):
    big = fn.Sequential([fn.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2), layers.Dense(2)])
    big.save_weights(tmp_path / "big.weights.h5")
    with pytest.raises(FileFormatError, match=r"layers the model does not have .*: \['layers/dense_2'\]"):
        mlp().load_weights(tmp_path / "big.weights.h5")


@pytest.mark.parametrize("edit,match", [
    (lambda c: c["config"]["layers"].insert(1, {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "ZZZZ"}}}}),
     r"Layer 'evil' is a Keras Lambda, which Keras stores as Python bytecode; ferronet never runs code"),
    (lambda c: dense_config(c).update(kernel_constraint={"class_name": "MaxNorm", "config": {"max_value": 2}}),
     r"does not support kernel_constraint \(layer 'dense' \(Dense\)\)"),
    (lambda c: dense_config(c).update(activation="selu"), r"no activation 'selu' \(layer 'dense' \(Dense\)\)"),
    (lambda c: dense_config(c).update(dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}),
     "float32 or float64"),
    (lambda c: dense_config(c).update(kernel_initializer={"class_name": "STFT", "config": {}}),
     "kernel_initializer of layer 'dense'"),
    (lambda c: dense_config(c).update(units=-3), r"cannot create layer 'dense' \(Dense\).*units"),
    (lambda c: c.update(class_name="MyModel"), "Sequential and functional"),
    (lambda c: c["config"]["layers"].__setitem__(0, {"class_name": "InputLayer", "config": {
        "batch_shape": [None, 5], "name": "input_layer"}}), "inconsistent: its InputLayer has shape"),
])
def test_unsupported_or_malformed_configs_name_the_problem(tmp_path, edit, match):
    path = with_config(tmp_path, edit)
    with pytest.raises(FileFormatError, match=match):
        fn.models.load_model(path)


def test_channels_first_names_the_layer(tmp_path):
    model = fn.Sequential([fn.Input((6, 6, 2)), layers.Conv2D(3, 3, name="conv2d")])
    model.save(tmp_path / "c.keras")
    entries = members(tmp_path / "c.keras")
    config = json.loads(entries["config.json"])
    config["config"]["layers"][1]["config"]["data_format"] = "channels_first"
    entries["config.json"] = json.dumps(config)
    with pytest.raises(FileFormatError, match=r"layer 'conv2d' \(Conv2D\).*channels_last"):
        fn.models.load_model(write_zip(tmp_path / "cf.keras", entries))


def test_damaged_json_and_foreign_versions(tmp_path):
    mlp().save(tmp_path / "m.keras")
    entries = members(tmp_path / "m.keras")
    for member, payload, match in [("config.json", b"{not json", "damaged config.json"),
                                   ("metadata.json", b'{"keras_version": "2.15.0"}', "Keras 3"),
                                   ("model.weights.h5", b"\x00" * 64, "Not a readable HDF5 file")]:
        broken = dict(entries, **{member: payload})
        with pytest.raises(FileFormatError, match=match):
            fn.models.load_model(write_zip(tmp_path / f"{member}.keras", broken))
    missing = {k: v for k, v in entries.items() if k != "model.weights.h5"}
    with pytest.raises(FileFormatError, match="model.weights.h5 is missing"):
        fn.models.load_model(write_zip(tmp_path / "missing.keras", missing))


def test_legacy_h5_without_model_or_weights(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.attrs["keras_version"] = "2.15.0"
    with pytest.raises(FileFormatError, match="weights only"):
        fn.models.load_model(tmp_path / "empty.h5")
    with pytest.raises(FileFormatError, match="holds no Keras weights|no group"):
        mlp().load_weights(tmp_path / "empty.h5")
    with h5py.File(tmp_path / "badjson.h5", "w") as f:
        f.attrs["model_config"] = "{oops"
    with pytest.raises(FileFormatError, match="not valid JSON"):
        fn.models.load_model(tmp_path / "badjson.h5")
    (tmp_path / "fake.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(FileFormatError, match="Not a readable HDF5 file"):
        fn.models.load_model(tmp_path / "fake.h5")


def test_errors_are_value_errors():
    assert issubclass(FileFormatError, ValueError) and issubclass(FileFormatError, fn.FerronetError)


def test_damaged_structure_is_a_file_format_error(tmp_path):
    """Whatever h5py or zipfile raise on a damaged file (KeyError, RuntimeError, NotImplementedError...) is reported
    as a FileFormatError."""
    model = mlp()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:  # a dataset where a group belongs
        del f["layers/dense/vars"]
        f["layers/dense"].create_dataset("vars", data=np.zeros(3))
    with pytest.raises(FileFormatError, match="damaged|no group"):
        model.load_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.keras")
    payload = bytearray((tmp_path / "m.keras").read_bytes())
    central = payload.index(b"PK\x01\x02")
    struct.pack_into("<H", payload, central + 6, 99)  # "version needed to extract": 9.9
    (tmp_path / "v.keras").write_bytes(bytes(payload))
    with pytest.raises(FileFormatError, match="Not a readable .keras file"):
        fn.models.load_model(tmp_path / "v.keras")
    (tmp_path / "bad.h5").write_bytes(b"\x89HDX" + (tmp_path / "w.weights.h5").read_bytes()[4:])
    with pytest.raises(FileFormatError, match="Not a readable HDF5 file"):
        fn.models.load_model(tmp_path / "bad.h5")


def _json_paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield from _json_paths(value, prefix + (key,))


def test_config_values_of_any_type_give_a_file_format_error_or_a_working_model(tmp_path):
    """Every value of a real config.json replaced by values of other JSON types: a clean error or a usable model."""
    import random
    import warnings

    source = os.path.join(os.path.dirname(__file__), "data", "keras", "k3_zoo.keras")
    entries = members(source)
    base = json.loads(entries["config.json"])
    paths = [p for p in _json_paths(base) if p]
    values = [None, True, 0, -1, 1 << 40, 3.5, "", "relu", [], [None], [1, 2], {}, {"class_name": "Dense"}, {"config": 1}]
    rng = random.Random(0)
    outcomes = {"error": 0, "loaded": 0}
    for trial in range(300):
        config = json.loads(json.dumps(base))
        path = rng.choice(paths)
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = rng.choice(values)
        entries["config.json"] = json.dumps(config)
        target = write_zip(tmp_path / f"{trial}.keras", entries)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fn.models.load_model(target)
        except FileFormatError:
            outcomes["error"] += 1
            continue
        model.predict(np.zeros((2,) + model.input_shape[1:], np.float32), verbose=0)
        outcomes["loaded"] += 1
    assert outcomes["error"] > 50 and outcomes["loaded"] > 50, outcomes


def test_weights_need_a_built_model():
    for name in ("k2_mlp_weights.h5", "k3_mlp.weights.h5", "k3_mlp.keras"):
        with pytest.raises(ValueError, match="build it"):
            fn.Sequential([layers.Dense(2)]).load_weights(os.path.join(os.path.dirname(__file__), "data", "keras", name))
