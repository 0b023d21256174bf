"""Saving and loading: one zip file with a JSON config and ``.npz`` weights, no pickle.

Keras files (``.keras``, ``.weights.h5``, ``.h5``) are routed to :mod:`ferronet.formats`;
layout of a ``model.save("m.ferronet")`` archive (any other file name works too)::

    ferronet.json    {"format": "ferronet.model", "format_version": 1, "model": <class/config>,
                      "compile": <compile config or null>, "weights": [{"path", "shape", "dtype"}...],
                      "layer_states": {...}, "optimizer": {"iterations": ..., "slots": [...]} or null}
    weights.npz      one array per weight, keyed "<layer>/<weight>", in model.weights order
    optimizer.npz    optimizer slots keyed "<weight index>/<slot>" (when compiled and trained)

Arrays are read with ``allow_pickle=False``, so opening an untrusted file
cannot run code. Files are written to a temporary file in the same directory
and renamed over the target, so a crash never leaves half a file (a save
killed outright leaves its temporary, which the next save of the same target
removes); loading checks everything (format, members, names, shapes, dtypes)
before it returns a model, so a truncated, damaged, forged or foreign file
raises a :class:`~ferronet.errors.FileFormatError` (a ``ValueError``) and never yields a half-loaded model.

Sizes are checked before anything is read or allocated: a zip declares each
member's size, an ``.npy`` header its shape, and the config's layers may
create no more weight bytes than the file stores. ferronet stores its
members uncompressed, so a member may expand at most ``_EXPANSION_LIMIT``
times over the file's size, and ``ferronet.json`` is at most ``_JSON_LIMIT``.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import time
import zipfile
import zlib

import numpy as np

from . import formats as _formats
from .errors import FerronetError, FileFormatError
# Limits checked before reading (a config is kilobytes; a stored member is as large as its bytes in the file).
_JSON_LIMIT = 16 * 2**20
_EXPANSION_LIMIT = 64
_SLACK = 2**20


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
    # ".<target>.ferronet-<pid>-<random>.tmp": a later save of the same target can tell its stale temporaries.
    prefix = f".{os.path.basename(filepath)[:96]}.ferronet-"
    _remove_stale_temporaries(directory, prefix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=".tmp", dir=directory)
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


def _remove_stale_temporaries(directory, prefix, max_age=3600.0):
    """Delete temporaries of the same target left by saves that were killed (their process is gone; where
    processes cannot be probed, when older than ``max_age`` seconds)."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split("-", 1)[0]
        path = os.path.join(directory, name)
        try:
            if os.name == "posix" and pid.isdigit():
                if int(pid) == os.getpid() or _process_alive(int(pid)):
                    continue
            elif time.time() - os.path.getmtime(path) < max_age:
                continue
            os.unlink(path)
        except OSError:
            pass


def _process_alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


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

    Example:
        >>> _ = model.fit(x, y, epochs=1, verbose=0)
        >>> ferronet.saving.save_model(model, "run.ferronet")  # same as model.save("run.ferronet")
        >>> restored = ferronet.saving.load_model("run.ferronet")
        >>> int(restored.optimizer.iterations)  # the optimizer's state came along
        2
    """
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' has no weights yet: build it (call it on data, fit it or model.build(shape)) "
            "before saving. Received: an unbuilt model"
        )
    if other := _formats.route("save_model", filepath):
        return other(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    _atomic_write(filepath, _model_to_bytes(model, include_optimizer), overwrite)


def _zip(data: bytes, label, what="model file") -> zipfile.ZipFile:
    """A zip archive over ``data`` whose declared sizes and methods were checked, or a FileFormatError."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise FileFormatError(
            f"This is not a ferronet {what} (not a readable zip archive: {e}); it may be truncated or of another "
            f"format. Received: {label}"
        ) from None
    if infos and min(i.header_offset for i in infos) != 0:
        # zipfile accepts bytes before an archive; a truncated model file then reads as the last inner .npz
        raise FileFormatError(f"The {what} is truncated or damaged (its archive does not start at its first byte). "
                         f"Received: {label}")
    for i in infos:
        if i.flag_bits & 0x1:
            raise FileFormatError(f"The {what} has an encrypted member {i.filename!r}, which ferronet never writes. "
                             f"Received: {label}")
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileFormatError(f"The {what} uses an unsupported compression method ({i.compress_type}) for "
                             f"{i.filename!r}. Received: {label}")
    declared = sum(i.file_size for i in infos)
    if declared > _SLACK + _EXPANSION_LIMIT * len(data):
        raise FileFormatError(
            f"The {what} declares {declared} bytes of content in {len(data)} bytes of file, far more than ferronet "
            f"writes (it stores members uncompressed): a damaged or forged file. Received: {label}"
        )
    return zf


def _read(zf, name, label, limit=None) -> bytes:
    info = zf.getinfo(name)
    if limit is not None and info.file_size > limit:
        raise FileFormatError(f"{name} declares {info.file_size} bytes, more than the {limit} a ferronet file holds. "
                         f"Received: {label}")
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as e:
        raise FileFormatError(f"The file's member {name} is damaged ({e}). Received: {label}") from None


def _npz(data: bytes, label, member="weights") -> dict:
    """The arrays of an ``.npz`` held in ``data``: each header checked against the bytes it has, no pickles."""
    zf = _zip(data, label, f"{member} archive")
    arrays = {}
    for info in zf.infolist():
        raw = _read(zf, info.filename, label)
        f = io.BytesIO(raw)
        try:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(f)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise FileFormatError(f"arrays must hold numbers, not {dtype}")
            if math.prod(shape) * dtype.itemsize > len(raw):
                raise FileFormatError(f"{info.filename} declares shape {shape} but holds {len(raw)} bytes")
            f.seek(0)
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, TypeError, SyntaxError) as e:
            raise FileFormatError(f"The file has damaged arrays in {member} ({e}). Received: {label}") from None
    return arrays


class _Archive:
    """A validated view of a saved model archive."""

    def __init__(self, data: bytes, label):
        self.label = label
        self.zf = _zip(data, label)
        names = set(self.zf.namelist())
        if "ferronet.json" not in names:
            raise FileFormatError(f"A zip archive but not a ferronet model file (no ferronet.json inside). Received: {label}")
        try:
            self.meta = json.loads(_read(self.zf, "ferronet.json", label, _JSON_LIMIT).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise FileFormatError(f"The model file has a damaged ferronet.json ({e}). Received: {label}") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != _FORMAT:
            raise FileFormatError(f"This is not a ferronet model file (format tag missing). Received: {label}")
        version = self.meta.get("format_version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise FileFormatError(f"The model file has an invalid format_version. Received: format_version={version!r} in "
                             f"{label}")
        if version > _FORMAT_VERSION:
            raise FileFormatError(
                f"The model file was written by a newer ferronet (format version {version}, "
                f"this version reads up to {_FORMAT_VERSION}): upgrade ferronet. Received: {label}"
            )
        self.names = names

    def size(self, member) -> int:
        """Declared bytes of ``member`` (0 if absent)."""
        return self.zf.getinfo(member).file_size if member in self.names else 0

    def arrays(self, member) -> dict:
        if member not in self.names:
            raise FileFormatError(f"The model file is incomplete: {member} is missing. Received: {self.label}")
        return _npz(_read(self.zf, member, self.label), self.label, member)


def _match(label, weights, arrays) -> list:
    """The arrays in ``weights`` order: by path, or by position when the names differ (a model rebuilt in a
    session where its layers got other automatic names), as long as every shape matches."""
    if all(v.path in arrays for v in weights) and len(arrays) == len(weights):
        ordered = [arrays[v.path] for v in weights]
    elif len(arrays) == len(weights):
        ordered = list(arrays.values())
    else:
        missing = [v.path for v in weights if v.path not in arrays]
        raise FileFormatError(
            f"The file holds {len(arrays)} weight arrays but the model has {len(weights)} (missing by name: "
            f"{missing or 'none'}; in the file: {list(arrays)}). Received: {label}"
        )
    for v, a, key in zip(weights, ordered, arrays):
        if a.shape != v.shape:
            raise FileFormatError(f"Weight '{v.path}' has shape {v.shape} in the model. Received: shape {a.shape} for "
                             f"entry {key!r} of {label}")
        floats = v.dtype.kind == "f"  # integer variables are counters (Normalization's count)
        if a.dtype.kind not in ("f" if floats else "iu"):
            raise FileFormatError(f"Weight '{v.path}' must be {'floats' if floats else 'integers'}. Received: dtype "
                             f"{a.dtype} for entry {key!r} of {label}")
    return ordered


def _check_meta(meta, label):
    """Types of the top-level fields, so a forged file fails here and not in the middle of building."""
    if not isinstance(meta.get("model"), dict):
        raise FileFormatError(f"The model file has no model config. Received: model={meta.get('model')!r:.80} in {label}")
    for key, kind in (("compile", dict), ("optimizer", dict), ("layer_states", dict), ("weights", list)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise FileFormatError(f"The model file has an invalid {key!r} entry. Received: {key}={meta[key]!r:.80} in "
                             f"{label}")
    it = (meta.get("optimizer") or {}).get("iterations", 0)
    if isinstance(it, bool) or not isinstance(it, int) or not 0 <= it < 2**63:
        raise FileFormatError(f"The model file's optimizer iterations must be an int in [0, 2**63). Received: "
                         f"iterations={it!r} in {label}")


def _load_archive(data: bytes, label, custom_objects=None, compile=True):
    """The model in ``data``. Every failure caused by the file is a FileFormatError (the original as its cause)."""
    try:
        return _load_checked(data, label, custom_objects, compile)
    except (FerronetError, MemoryError):
        raise
    except ValueError as e:  # raised while rebuilding the file's config (an unknown layer, a bad argument)
        raise FileFormatError(str(e)) from e
    except Exception as e:
        raise FileFormatError(f"The model file could not be loaded ({type(e).__name__}: {e}). Received: {label}") from e


def _load_checked(data: bytes, label, custom_objects, compile):
    from . import layers as layers_module
    from .layers.variable import weight_budget

    ar = _Archive(data, label)
    meta = ar.meta
    _check_meta(meta, label)
    try:
        # the layers may create no more weight bytes than weights.npz holds
        with weight_budget(ar.size("weights.npz") + _SLACK, label):
            model = layers_module.deserialize(meta["model"], custom_objects=custom_objects)
    except (KeyError, TypeError) as e:
        raise FileFormatError(f"The model file has an invalid model config ({e!r}). Received: {label}") from None
    if not model.built and meta.get("weights"):
        raise FileFormatError(f"The file holds weights for a model whose config has no input shape. Received: {label}")
    ordered = _match(label, model.weights, ar.arrays("weights.npz"))
    opt_state = None
    if compile and meta.get("compile") and meta.get("optimizer"):
        opt_state = ar.arrays("optimizer.npz")
        n = len(model.weights)
        for k, a in opt_state.items():
            idx = k.split("/", 1)[0]
            if not idx.isdigit() or int(idx) >= n or a.shape != model.weights[int(idx)].shape:
                raise FileFormatError(f"Optimizer state {k!r} does not match the model's weights. Received: {label}")
    # Everything is checked: only now touch the new model.
    for v, a in zip(model.weights, ordered):
        v.assign(a)
    _set_layer_states(model, meta.get("layer_states") or {})
    if compile and meta.get("compile"):
        model.compile_from_config(meta["compile"], custom_objects=custom_objects)
        if opt_state is not None:
            model.optimizer._load_state(model.weights, opt_state, meta["optimizer"].get("iterations", 0))
    return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model written by :func:`save_model`: same predictions bit for bit, ready to keep training.

    Args:
        filepath: path of the file.
        custom_objects: ``{name: class or function}`` for your own layers, activations or losses.
        compile: restore the compile settings and optimizer state (default True).
        safe_mode: accepted for Keras compatibility. ferronet never runs code stored in a file, whatever its
            value: a ``Lambda`` layer or another object made of Python code is rebuilt from ``custom_objects``
            or refused with an error naming it.

    Returns:
        The model.

    Raises:
        FileFormatError: (a ValueError) for a truncated, damaged, forged or foreign file, found before anything
            large is read or allocated (nothing half-loaded is returned).

    Example:
        >>> model.save("classifier.ferronet")
        >>> restored = ferronet.saving.load_model("classifier.ferronet")
        >>> bool(np.array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
        >>> _ = open("broken.ferronet", "wb").write(b"not a model")
        >>> ferronet.saving.load_model("broken.ferronet")
        Traceback (most recent call last):
        ...
        ferronet.errors.FileFormatError: This is not a ferronet model file (not a readable zip archive: ...
    """
    label = f"filepath={os.fspath(filepath)!r}"
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such model file. Received: filepath={os.fspath(filepath)!r}")
    if other := _formats.route("load_model", filepath):
        return other(filepath, custom_objects=custom_objects, compile=compile)
    with open(filepath, "rb") as f:
        payload = f.read()
    return _load_archive(payload, label, custom_objects, compile)


def _custom_classes(model) -> dict:
    """``{name: class}`` of the model's layer classes that the registry does not know (user subclasses), so a
    pickled or deep-copied model can be rebuilt without ``custom_objects``."""
    from . import layers as layers_module

    found = {}

    def walk(m):
        for layer in getattr(m, "layers", []):
            cls = type(layer)
            if layers_module.__dict__.get(cls.__name__) is not cls:
                found[cls.__name__] = cls
            walk(layer)

    walk(model)
    return found


def _reduce_model(model):
    """``__reduce__`` of a model: its saved bytes plus the user classes they name."""
    return _model_from_bytes, (_model_to_bytes(model), _custom_classes(model) or None)


def _model_from_bytes(payload: bytes, custom_objects=None):
    """Unpickling hook: rebuild a model from :func:`_model_to_bytes`'s output."""
    return _load_archive(payload, "a pickled model", custom_objects, True)


def save_weights(model, filepath, overwrite=True) -> None:
    """Write the weights to ``filepath`` as a plain ``.npz`` (keys ``"<layer>/<weight>"``), atomically.

    Example:
        >>> ferronet.saving.save_weights(model, "classifier.npz")
        >>> with np.load("classifier.npz") as arrays:  # one array per weight, keyed "<layer>/<weight>"
        ...     print([(key.split("/")[1], arrays[key].shape) for key in arrays])
        [('kernel', (4, 8)), ('bias', (8,)), ('kernel', (8, 3)), ('bias', (3,))]
    """
    if not model.built:
        raise ValueError(f"Model '{model.name}' has no weights yet: build it before save_weights(). Received: an unbuilt model")
    if other := _formats.route("save_weights", filepath):
        return other(model, filepath, overwrite=overwrite)
    _atomic_write(filepath, _npz_bytes({v.path: v.value for v in model.weights}), overwrite)


def load_weights(model, filepath) -> None:
    """Load weights from :func:`save_weights`'s ``.npz`` or a full model file; all-or-nothing.

    Raises:
        FileFormatError: (a ValueError) if the file is truncated, damaged or forged (sizes are checked before
            reading), or its names/shapes do not match the model; the model's weights are then unchanged.

    Example:
        >>> model.save_weights("classifier.npz")
        >>> twin = ferronet.models.clone_model(model)  # same layers, other weights
        >>> ferronet.saving.load_weights(twin, "classifier.npz")
        >>> bool(np.array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
    """
    label = f"filepath={os.fspath(filepath)!r}"
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such weights file. Received: filepath={os.fspath(filepath)!r}")
    if other := _formats.route("load_weights", filepath):
        return other(model, filepath)
    with open(filepath, "rb") as f:
        payload = f.read()
    names = _zip(payload, label, "weights file (.npz) or model file").namelist()
    if "ferronet.json" in names:
        arrays = _Archive(payload, label).arrays("weights.npz")
    else:
        arrays = _npz(payload, label)
    if not model.built:
        raise ValueError(f"Model '{model.name}' must be built before load_weights(). Received: an unbuilt model")
    ordered = _match(label, model.weights, arrays)
    for v, a in zip(model.weights, ordered):
        v.assign(a)
