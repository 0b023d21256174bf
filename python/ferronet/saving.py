"""Saving and loading: one zip file with a JSON config and ``.npz`` weights, no pickle.

Keras files (``.keras``, ``.weights.h5``, ``.h5``) are routed to :mod:`ferronet.formats`;
layout of a ``model.save("m.ferronet")`` archive (any other file name works too)::

    ferronet.json    {"format": "ferronet.model", "format_version": 1, "model": <class/config>,
                      "compile": <compile config or null>, "weights": [{"path", "shape", "dtype"}...],
                      "layer_states": {...}, "optimizer": {"iterations": ..., "slots": [...]} or null}
    weights.npz      one array per weight, keyed "<layer>/<weight>", in model.weights order
    optimizer.npz    optimizer slots keyed "<weight index>/<slot>" (when compiled and trained)

``np.load(..., allow_pickle=False)`` reads the arrays, so opening an
untrusted file cannot run code. Files are written to a temporary file in the
same directory and renamed over the target, so a crash never leaves half a
file; loading checks everything (format, members, names, shapes, dtypes)
before it returns a model, so a truncated or foreign file raises a
``ValueError`` and never yields a half-loaded model.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from . import formats as _formats

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

_FORMAT = "ferronet.model"
_FORMAT_VERSION = 1


def _ferronet_version() -> str:
    from . import __version__

    return __version__


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _atomic_write(filepath, payload: bytes, overwrite: bool):
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"Refusing to overwrite an existing file (overwrite=False). Received: filepath={filepath!r}")
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix=".ferronet-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, filepath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _layer_states(model) -> dict:
    states = {}

    def walk(m, prefix):
        for layer in m.layers:
            if hasattr(layer, "layers"):
                walk(layer, prefix + layer.name + "/")
            else:
                s = layer._get_state()
                if s:
                    states[prefix + layer.name] = s

    walk(model, "")
    return states


def _set_layer_states(model, states) -> None:
    def walk(m, prefix):
        for layer in m.layers:
            if hasattr(layer, "layers"):
                walk(layer, prefix + layer.name + "/")
            elif prefix + layer.name in states:
                layer._set_state(states[prefix + layer.name])

    walk(model, "")


def _model_to_bytes(model, include_optimizer=True) -> bytes:
    from . import layers as layers_module

    weights = model.weights
    paths = [v.path for v in weights]
    if len(set(paths)) != len(paths):
        raise ValueError(f"Weight paths must be unique to save a model. Received: {paths}")
    meta = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "ferronet_version": _ferronet_version(),
        "model": layers_module.serialize(model),
        "compile": model.get_compile_config() if getattr(model, "compiled", False) else None,
        "weights": [{"path": v.path, "shape": list(v.shape), "dtype": v.dtype.name} for v in weights],
        "layer_states": _layer_states(model),
        "optimizer": None,
    }
    members = {"weights.npz": _npz_bytes({v.path: v.value for v in weights})}
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and getattr(model, "compiled", False):
        state = opt._state_for(weights)
        meta["optimizer"] = {"iterations": int(opt.iterations),
                             "slots": [{"key": k, "shape": list(a.shape)} for k, a in state.items()]}
        members["optimizer.npz"] = _npz_bytes(state)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("ferronet.json", json.dumps(meta, indent=1))
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def save_model(model, filepath, overwrite=True, include_optimizer=True) -> None:
    """Write ``model`` to ``filepath`` atomically (see the module docstring for the format).

    Args:
        model: a built model.
        filepath: destination path (any extension).
        overwrite: replace an existing file (default True).
        include_optimizer: also store the optimizer state so training resumes exactly.
    """
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' has no weights yet: build it (call it on data, fit it or model.build(shape)) "
            "before saving. Received: an unbuilt model"
        )
    if other := _formats.route("save_model", filepath):
        return other(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    _atomic_write(filepath, _model_to_bytes(model, include_optimizer), overwrite)


class _Archive:
    """A validated view of a saved model archive."""

    def __init__(self, source, label):
        self.label = label
        try:
            self.zf = zipfile.ZipFile(source)
            names = set(self.zf.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(
                f"This is not a ferronet model file (not a readable zip archive: {e}); it may be truncated or of "
                f"another format. Received: {label}"
            ) from None
        if "ferronet.json" not in names:
            raise ValueError(f"A zip archive but not a ferronet model file (no ferronet.json inside). Received: {label}")
        try:
            self.meta = json.loads(self.zf.read("ferronet.json").decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(f"The model file has a damaged ferronet.json ({e}). Received: {label}") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != _FORMAT:
            raise ValueError(f"This is not a ferronet model file (format tag missing). Received: {label}")
        if int(self.meta.get("format_version", 0)) > _FORMAT_VERSION:
            raise ValueError(
                f"The model file was written by a newer ferronet (format version {self.meta.get('format_version')}, "
                f"this version reads up to {_FORMAT_VERSION}): upgrade ferronet. Received: {label}"
            )
        self.names = names

    def arrays(self, member) -> dict:
        if member not in self.names:
            raise ValueError(f"The model file is incomplete: {member} is missing. Received: {self.label}")
        try:
            with np.load(io.BytesIO(self.zf.read(member)), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise ValueError(f"The model file has damaged arrays in {member} ({e}). Received: {self.label}") from None


def _match(label, weights, arrays) -> list:
    """The arrays in ``weights`` order: by path, or by position when the names differ (a model rebuilt in a
    session where its layers got other automatic names), as long as every shape matches."""
    if all(v.path in arrays for v in weights) and len(arrays) == len(weights):
        ordered = [arrays[v.path] for v in weights]
    elif len(arrays) == len(weights):
        ordered = list(arrays.values())
    else:
        missing = [v.path for v in weights if v.path not in arrays]
        raise ValueError(
            f"The file holds {len(arrays)} weight arrays but the model has {len(weights)} (missing by name: "
            f"{missing or 'none'}; in the file: {list(arrays)}). Received: {label}"
        )
    for v, a, key in zip(weights, ordered, arrays):
        if a.shape != v.shape:
            raise ValueError(f"Weight '{v.path}' has shape {v.shape} in the model. Received: shape {a.shape} for "
                             f"entry {key!r} of {label}")
        if a.dtype.kind != "f":
            raise ValueError(f"Weight '{v.path}' must be floats. Received: dtype {a.dtype} for entry {key!r} of {label}")
    return ordered


def _load_archive(source, label, custom_objects=None, compile=True):
    from . import layers as layers_module

    ar = _Archive(source, label)
    meta = ar.meta
    try:
        model = layers_module.deserialize(meta["model"], custom_objects=custom_objects)
    except (KeyError, TypeError) as e:
        raise ValueError(f"The model file has an invalid model config ({e!r}). Received: {label}") from None
    if not model.built and meta.get("weights"):
        raise ValueError(f"The file holds weights for a model whose config has no input shape. Received: {label}")
    ordered = _match(label, model.weights, ar.arrays("weights.npz"))
    opt_state = None
    if compile and meta.get("compile") and meta.get("optimizer"):
        opt_state = ar.arrays("optimizer.npz")
        n = len(model.weights)
        for k, a in opt_state.items():
            idx = k.split("/", 1)[0]
            if not idx.isdigit() or int(idx) >= n or a.shape != model.weights[int(idx)].shape:
                raise ValueError(f"Optimizer state {k!r} does not match the model's weights. Received: {label}")
    # Everything is checked: only now touch the new model.
    for v, a in zip(model.weights, ordered):
        v.assign(a)
    _set_layer_states(model, meta.get("layer_states") or {})
    if compile and meta.get("compile"):
        model.compile_from_config(meta["compile"], custom_objects=custom_objects)
        if opt_state is not None:
            model.optimizer._load_state(model.weights, opt_state, meta["optimizer"].get("iterations", 0))
    return model


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model written by :func:`save_model`: same predictions bit for bit, ready to keep training.

    Args:
        filepath: path of the file.
        custom_objects: ``{name: class or function}`` for your own layers, activations or losses.
        compile: restore the compile settings and optimizer state (default True).

    Returns:
        The model.

    Raises:
        ValueError: for a truncated, damaged or foreign file (nothing half-loaded is returned).
    """
    label = f"filepath={os.fspath(filepath)!r}"
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such model file. Received: filepath={os.fspath(filepath)!r}")
    if other := _formats.route("load_model", filepath):
        return other(filepath, custom_objects=custom_objects, compile=compile)
    with open(filepath, "rb") as f:
        payload = f.read()
    return _load_archive(io.BytesIO(payload), label, custom_objects, compile)


def _model_from_bytes(payload: bytes):
    """Unpickling hook: rebuild a model from :func:`_model_to_bytes`'s output."""
    return _load_archive(io.BytesIO(payload), "a pickled model", None, True)


def save_weights(model, filepath, overwrite=True) -> None:
    """Write the weights to ``filepath`` as a plain ``.npz`` (keys ``"<layer>/<weight>"``), atomically."""
    if not model.built:
        raise ValueError(f"Model '{model.name}' has no weights yet: build it before save_weights(). Received: an unbuilt model")
    if other := _formats.route("save_weights", filepath):
        return other(model, filepath, overwrite=overwrite)
    _atomic_write(filepath, _npz_bytes({v.path: v.value for v in model.weights}), overwrite)


def load_weights(model, filepath) -> None:
    """Load weights from :func:`save_weights`'s ``.npz`` or a full model file; all-or-nothing.

    Raises:
        ValueError: if the file is not readable or its names/shapes do not match the model.
    """
    label = f"filepath={os.fspath(filepath)!r}"
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such weights file. Received: filepath={os.fspath(filepath)!r}")
    if other := _formats.route("load_weights", filepath):
        return other(model, filepath)
    with open(filepath, "rb") as f:
        payload = f.read()
    source = io.BytesIO(payload)
    try:
        names = zipfile.ZipFile(source).namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"Not a weights file (.npz) or model file ({e}); it may be truncated. Received: {label}") from None
    if "ferronet.json" in names:
        arrays = _Archive(io.BytesIO(payload), label).arrays("weights.npz")
    else:
        try:
            with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"The weights file is damaged ({e}). Received: {label}") from None
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built before load_weights(). Received: an unbuilt model")
    ordered = _match(label, model.weights, arrays)
    for v, a in zip(model.weights, ordered):
        v.assign(a)
