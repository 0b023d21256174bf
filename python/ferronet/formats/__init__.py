"""Files shared with other tools: Keras 3 (``.keras``, ``.weights.h5``), Keras 2 (``.h5``), ONNX export.

:mod:`ferronet.saving` asks :func:`route` which function handles a file and
keeps its own format for everything else:

=====================  ============================================  =====================================
call                   file                                          format
=====================  ============================================  =====================================
``model.save``         ``*.keras``                                   Keras 3 zip (architecture + weights)
``model.save``         ``*.h5`` / ``*.hdf5``                         refused: write ``.keras`` instead
``model.save``         anything else (``*.ferronet``)                ferronet's own zip (+ optimizer state)
``save_weights``       ``*.weights.h5``                              Keras 3 weights file
``save_weights``       other ``*.h5`` / ``*.hdf5``                   refused: use ``.weights.h5``
``save_weights``       anything else                                 ``.npz``
``load_model``         a zip with Keras' ``config.json``             Keras 3 ``.keras``
``load_model``         an HDF5 file                                  Keras 2 ``.h5`` (or Keras 3's legacy ``.h5``)
``load_weights``       an HDF5 file                                  Keras 3 ``.weights.h5`` or Keras 2 ``.h5``
``load_weights``       a Keras 3 ``.keras`` zip                      its ``model.weights.h5``
=====================  ============================================  =====================================

Loading looks at the file's first bytes, not its name, so a ``.keras`` file
written by an earlier ferronet (its own format) still loads.
"""

from __future__ import annotations

import io
import os
import zipfile

from ..errors import FileFormatError
from .hdf5 import HDF5_SIGNATURE

__all__ = ["route"]

_H5 = (".h5", ".hdf5")


def _refuse(message):
    def refuse(*args, **kwargs):
        raise FileFormatError(message)

    return refuse


def _sniff(filepath):
    """``"hdf5"``, ``"keras"`` (a Keras 3 zip), or None (ferronet's own, or missing: its loader reports)."""
    try:
        with open(filepath, "rb") as f:
            head = f.read(8)
            if head == HDF5_SIGNATURE:
                return "hdf5"
            if head[:4] != b"PK\x03\x04":
                # A damaged HDF5 header: the HDF5 reader explains it for an .h5 name, ferronet's own otherwise.
                return "hdf5" if os.fspath(filepath).lower().endswith(_H5) else None
            f.seek(0)
            try:
                names = set(zipfile.ZipFile(f).namelist())
            except (zipfile.BadZipFile, EOFError, NotImplementedError):
                # A damaged zip: the Keras reader explains it for a .keras name, ferronet's own otherwise.
                return "keras" if os.fspath(filepath).lower().endswith(".keras") else None
    except OSError:
        return None
    keras = "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names)
    return "keras" if keras and "ferronet.json" not in names else None


def _read(filepath):
    with open(filepath, "rb") as f:
        return f.read()


def _load_keras_model(filepath, custom_objects=None, compile=True):
    from . import keras_v3

    label = f"filepath={os.fspath(filepath)!r}"
    return keras_v3.load_model(_read(filepath), label, custom_objects, compile)


def _load_h5_model(filepath, custom_objects=None, compile=True):
    from . import keras_legacy

    label = f"filepath={os.fspath(filepath)!r}"
    return keras_legacy.load_model(io.BytesIO(_read(filepath)), label, custom_objects, compile)


def _load_h5_weights(model, filepath):
    from . import hdf5, keras_legacy, keras_v3

    label = f"filepath={os.fspath(filepath)!r}"
    payload = io.BytesIO(_read(filepath))
    with hdf5.reading(label), hdf5.open_file(payload, label) as f:
        legacy = "layer_names" in f.attrs or "model_weights" in f
    payload.seek(0)
    (keras_legacy if legacy else keras_v3).load_weights(model, payload, label)


def _load_keras_weights(model, filepath):
    from . import keras_v3

    label = f"filepath={os.fspath(filepath)!r}"
    try:
        zf = zipfile.ZipFile(io.BytesIO(_read(filepath)))
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as e:
        raise FileFormatError(f"Not a readable .keras file ({e}); it may be truncated. Received: {label}") from None
    with zf:
        weights = keras_v3._member(zf, "model.weights.h5", label)
    keras_v3.load_weights(model, io.BytesIO(weights), label)


def route(action, filepath):
    """The function that reads or writes ``filepath`` in a foreign format, or None for ferronet's own.

    Args:
        action: ``"save_model"``, ``"save_weights"``, ``"load_model"`` or ``"load_weights"``.
        filepath: the file's path.

    Returns:
        A function taking the same arguments as the ferronet function it replaces, or None.

    Example:
        >>> from ferronet import formats
        >>> formats.route("save_model", "model.keras").__module__  # Keras 3's writer
        'ferronet.formats.keras_v3'
        >>> formats.route("save_model", "model.ferronet") is None  # ferronet's own format
        True
        >>> import shutil
        >>> model.save("model.ferronet")
        >>> _ = shutil.copy("model.ferronet", "renamed.keras")
        >>> formats.route("load_model", "renamed.keras") is None  # loading reads the bytes: ferronet's own
        True
    """
    from . import keras_v3

    path = os.fspath(filepath) if isinstance(filepath, (str, os.PathLike)) else ""
    name = path.lower()
    if action == "save_model":
        if name.endswith(".keras"):
            return keras_v3.save_model
        if name.endswith(_H5):
            return _refuse("ferronet writes Keras 3's .keras format, not the legacy .h5 one: save to "
                           f"'model.keras' (or 'model.ferronet' for ferronet's own format). Received: filepath={path!r}")
        return None
    if action == "save_weights":
        if name.endswith(".weights.h5"):
            return keras_v3.save_weights
        if name.endswith(_H5):
            return _refuse("Keras 3 weights files end in .weights.h5 (the legacy .h5 layout is read, not "
                           f"written). Received: filepath={path!r}")
        return None
    kind = _sniff(filepath) if name else None
    if action == "load_model":
        return {"keras": _load_keras_model, "hdf5": _load_h5_model}.get(kind)
    if action == "load_weights":
        return {"keras": _load_keras_weights, "hdf5": _load_h5_weights}.get(kind)
    raise ValueError(f"Unknown file action. Received: action={action!r}")
