"""Hostile, damaged and killed-while-writing model files: every failure is a ValueError raised before any large
allocation, and nothing is left behind."""

import copy
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers


def _model():
    m = fn.Sequential([fn.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return m


@pytest.fixture
def saved(tmp_path, rng):
    m = _model()
    m.fit(rng.normal(size=(32, 4)), rng.integers(0, 3, 32), epochs=1, verbose=0)
    path = tmp_path / "m.ferronet"
    m.save(path)
    return m, path


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)


def _forge(path, saved_path, edit):
    members = _members(saved_path)
    meta = json.loads(members["ferronet.json"])
    edit(meta)
    members["ferronet.json"] = json.dumps(meta)
    _write(path, members)


# 4. size bombs -------------------------------------------------------------------------------------------------

def test_padded_config_is_refused_without_reading_it(tmp_path, saved):
    _, src = saved
    members = _members(src)
    members["ferronet.json"] = members["ferronet.json"] + b" " * (40 * 2**20)
    bomb = tmp_path / "padded.ferronet"
    _write(bomb, members, zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="declares .* bytes"):
            fn.models.load_model(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_compressed_member_bomb_is_refused(tmp_path, saved):
    _, src = saved
    members = _members(src)
    buf = io.BytesIO()
    np.savez(buf, **{"dense/kernel": np.zeros(40 * 2**20, np.uint8)})
    members["weights.npz"] = buf.getvalue()
    bomb = tmp_path / "bomb.ferronet"
    _write(bomb, members, zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="declares .* bytes of content"):
        fn.models.load_model(bomb)
    with pytest.raises(ValueError, match="declares .* bytes of content"):
        _model().load_weights(bomb)


def test_config_declaring_huge_layers_is_refused_before_allocating(tmp_path, saved):
    _, src = saved

    def edit(meta):
        meta["model"]["config"]["layers"][1]["config"]["units"] = 10**8

    forged = tmp_path / "huge.ferronet"
    _forge(forged, src, edit)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="declares weights larger than the data it holds"):
            fn.models.load_model(forged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_npy_header_declaring_more_than_its_bytes_is_refused(tmp_path, saved):
    model, src = saved
    members = _members(src)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
        zf.writestr("dense/kernel.npy", header.getvalue() + b"\0" * 64)
    members["weights.npz"] = raw.getvalue()
    forged = tmp_path / "header.ferronet"
    _write(forged, members)
    with pytest.raises(ValueError, match="declares shape"):
        fn.models.load_model(forged)
    npz = tmp_path / "w.npz"
    npz.write_bytes(raw.getvalue())
    with pytest.raises(ValueError, match="declares shape"):
        model.load_weights(npz)


# 5, 6. forged contents raise ValueError ---------------------------------------------------------------------------

def _set_flag(data: bytes, name: bytes, flag_or: int = 0, method: int = None) -> bytes:
    """Patch the local and central headers of member ``name``: OR ``flag_or`` into the flags, set ``method``."""
    out = bytearray(data)
    for sig, flag_at, method_at, name_len_at, name_at in ((b"PK\x03\x04", 6, 8, 26, 30), (b"PK\x01\x02", 8, 10, 28, 46)):
        i = out.find(sig)
        while i != -1:
            n = int.from_bytes(out[i + name_len_at:i + name_len_at + 2], "little")
            if bytes(out[i + name_at:i + name_at + n]) == name:
                flags = int.from_bytes(out[i + flag_at:i + flag_at + 2], "little") | flag_or
                out[i + flag_at:i + flag_at + 2] = flags.to_bytes(2, "little")
                if method is not None:
                    out[i + method_at:i + method_at + 2] = method.to_bytes(2, "little")
            i = out.find(sig, i + 4)
    return bytes(out)


@pytest.mark.parametrize("patch, match", [
    (dict(flag_or=0x1), "encrypted member"),
    (dict(method=99), "unsupported compression method"),
    (dict(method=zipfile.ZIP_LZMA), "unsupported compression method"),
])
def test_forged_zip_members_raise_value_error(tmp_path, saved, patch, match):
    _, src = saved
    forged = tmp_path / "forged.ferronet"
    forged.write_bytes(_set_flag(src.read_bytes(), b"weights.npz", **patch))
    with pytest.raises(fn.errors.FileFormatError, match=match):
        fn.models.load_model(forged)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(model=0), "no model config"),
    (lambda m: m.update(model={"class_name": "Sequential", "config": 7}), "could not be loaded|invalid model config"),
    (lambda m: m.update(weights="many"), "invalid 'weights'"),
    (lambda m: m.update(format_version="1"), "invalid format_version"),
    (lambda m: m["optimizer"].update(iterations=1e30), r"iterations must be an int .*1e\+30"),
    (lambda m: m["optimizer"].update(iterations=-1), "iterations must be an int"),
    (lambda m: m["optimizer"].update(iterations=2**64), "iterations must be an int"),
    (lambda m: m.update(compile=[1]), "invalid 'compile'"),
])
def test_forged_configs_raise_value_error(tmp_path, saved, edit, match):
    _, src = saved
    forged = tmp_path / "forged.ferronet"
    _forge(forged, src, edit)
    with pytest.raises(fn.errors.FileFormatError, match=match):
        fn.models.load_model(forged)


def test_deeply_nested_config_raises_value_error(tmp_path, saved):
    _, src = saved
    members = _members(src)
    members["ferronet.json"] = b"[" * 200000 + b"]" * 200000
    forged = tmp_path / "deep.ferronet"
    _write(forged, members)
    with pytest.raises(fn.errors.FileFormatError):
        fn.models.load_model(forged)


# 18. truncated files ----------------------------------------------------------------------------------------------

def test_truncated_model_files_are_reported_by_load_weights_and_load_model(tmp_path, saved):
    model, src = saved
    data = src.read_bytes()
    inner = data.find(b"PK\x05\x06")  # the first end record: weights.npz's own, inside the file
    cuts = sorted({len(data) - 1, len(data) - 30, len(data) - 200, inner + 22, inner + 100, len(data) // 2})
    for cut in cuts:
        bad = tmp_path / f"cut{cut}.ferronet"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated|damaged|not a ferronet|incomplete"):
            model.load_weights(bad)
        with pytest.raises(ValueError):
            fn.models.load_model(bad)


# 14. saves killed mid-write ---------------------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pid probing are POSIX")
def test_temporaries_of_killed_saves_are_removed_by_the_next_save(tmp_path, saved):
    model, _ = saved
    target = tmp_path / "target.ferronet"
    code = textwrap.dedent(f"""
        import os, sys, time, numpy as np, ferronet as fn
        from ferronet import layers
        m = fn.Sequential([fn.Input((4,)), layers.Dense(3)])
        def hang(fd):
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = hang
        m.save({str(target)!r})
    """)
    stale = []
    for _ in range(2):
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "writing"
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        stale.append([n for n in os.listdir(tmp_path) if n.endswith(".tmp")])
    assert len(stale[0]) == 1  # what a killed save leaves
    assert len(stale[1]) == 1 and stale[1] != stale[0]  # the second save removed the first one's
    other = tmp_path / ".other.ferronet.ferronet-1-x.tmp"
    other.write_bytes(b"")  # a temporary of another target is not ours to remove
    model.save(target)
    left = sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))
    assert left == [other.name]
    assert fn.models.load_model(target).get_weights()[0].shape == (4, 8)


def test_temporaries_of_a_live_save_are_kept(tmp_path, saved):
    model, _ = saved
    target = tmp_path / "t.ferronet"
    live = tmp_path / f".t.ferronet.ferronet-{os.getppid()}-abc.tmp"  # a save in progress in a live process
    live.write_bytes(b"partial")
    model.save(target)
    assert live.exists()


# 17. pickling and copying layers ---------------------------------------------------------------------------------

class Scale(layers.Layer):
    """A user layer that the registry does not know."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs, training=False):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_layers_pickle_and_deepcopy(saved, rng):
    model, _ = saved
    x = rng.normal(size=(5, 4)).astype(np.float32)
    h = x
    for layer in model.layers:
        for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
            np.testing.assert_array_equal(clone.call(h, False), layer.call(h, False))
        h = layer.call(h, False)
    act = layers.Activation("softmax")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(act)).call(x, False), act.call(x, False))
    leaky = layers.LeakyReLU(0.3)
    np.testing.assert_array_equal(copy.deepcopy(leaky).call(x, False), leaky.call(x, False))


def test_models_with_user_layers_deepcopy_and_pickle(rng):
    m = fn.Sequential([fn.Input((4,)), Scale(3.0), layers.Dense(2)])
    m.compile("sgd", "mse")
    x = rng.normal(size=(6, 4)).astype(np.float32)
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone.layers[0], Scale) and clone.layers[0].factor == 3.0
        np.testing.assert_array_equal(clone.predict(x, verbose=0), m.predict(x, verbose=0))
