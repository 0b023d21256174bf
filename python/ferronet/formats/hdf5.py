"""HDF5 access for Keras files through h5py (the ``keras`` extra), with the checks an untrusted file needs.

A dataset is read only after its declared shape and dtype are compared with
what the model expects, and after HDF5 confirms the file really stores that
many bytes (a dataset can declare a huge shape while storing nothing, to be
filled with a fill value on read). Parsing the file's structure is libhdf5's
work: ferronet turns its errors into FileFormatError but cannot bound its
time (fuzzing found a damaged global heap on which libhdf5 2.0 spins).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..errors import FileFormatError

__all__ = ["h5py", "open_file", "reading", "read_dataset", "text_attr", "names_attr", "HDF5_SIGNATURE"]

# The first 8 bytes of every HDF5 file (a file with a user block has it at 512, 1024, ...: not used by Keras).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# Deflate never expands data by more than about 1032x, the most a compressed chunk can decode to.
_MAX_EXPANSION = 1100


def h5py():
    """The h5py module, or an ImportError naming the extra that installs it."""
    try:
        import h5py as module
    except ImportError:
        raise ImportError(
            "Reading and writing Keras files (.keras, .h5, .weights.h5) needs h5py: "
            "pip install 'ferronet[keras]' (or pip install h5py). Received: no module named 'h5py'"
        ) from None
    return module


def open_file(source, label, mode="r"):
    """``h5py.File`` for a path or file object; FileFormatError if it is not a readable HDF5 file."""
    h5 = h5py()
    try:
        return h5.File(source, mode)
    except OSError as e:
        raise FileFormatError(f"Not a readable HDF5 file ({e}); it may be truncated or of another format. "
                              f"Received: {label}") from None


@contextlib.contextmanager
def reading(label):
    """Turn whatever h5py raises on a damaged file (KeyError, RuntimeError, OSError, ...) into FileFormatError."""
    try:
        yield
    except FileFormatError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise FileFormatError(f"The HDF5 file is damaged ({type(e).__name__}: {e}). Received: {label}") from None


def text_attr(obj, key, label, default=None):
    """A string attribute (HDF5 stores Keras' JSON as bytes or str)."""
    if key not in obj.attrs:
        return default
    value = obj.attrs[key]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise FileFormatError(f"The HDF5 attribute {key!r} is not UTF-8 text. Received: {label}") from None
    if not isinstance(value, str):
        raise FileFormatError(f"The HDF5 attribute {key!r} should be text. Received: {type(value).__name__} in {label}")
    return value


def names_attr(obj, key, label) -> list:
    """A list-of-names attribute (``layer_names``, ``weight_names``); [] when absent or empty."""
    if key not in obj.attrs:
        return []
    value = np.asarray(obj.attrs[key])
    if value.size == 0:
        return []
    if value.ndim != 1:
        raise FileFormatError(f"The HDF5 attribute {key!r} should be a list of names. Received: shape "
                              f"{value.shape} in {label}")
    out = []
    for v in value:
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if not isinstance(v, str):
            raise FileFormatError(f"The HDF5 attribute {key!r} should hold names. Received: {v!r} in {label}")
        out.append(v)
    return out


def read_dataset(group, key, shape, label, what, integer=False):
    """The array stored at ``group[key]``, after checking it has ``shape``, a float dtype, and real storage.

    Args:
        group: an h5py group.
        key: dataset name inside ``group``.
        shape: the shape the model expects.
        label: ``filepath=...`` text for messages.
        what: the weight's name for messages (``"dense/kernel"``).
        integer: the weight is a counter (Normalization's ``count``): integers are accepted too.

    Raises:
        FileFormatError: if the entry is missing, not a dataset, of another shape or dtype, or not stored.
    """
    h5 = h5py()
    obj = group.get(key) if key in group else None
    if not isinstance(obj, h5.Dataset):
        raise FileFormatError(f"The file has no weight array {group.name}/{key} for {what}. Received: {label}")
    if tuple(obj.shape) != tuple(shape):
        raise FileFormatError(f"Weight {what} has shape {tuple(shape)} in the model. Received: shape "
                              f"{tuple(obj.shape)} at {obj.name} in {label}")
    if not (obj.dtype.kind == "f" and obj.dtype.itemsize in (2, 4, 8)) and not (
            integer and obj.dtype.kind in "iu" and obj.dtype.itemsize in (1, 2, 4, 8)):
        raise FileFormatError(f"Weight {what} must hold {'numbers' if integer else 'floats'}. Received: dtype {obj.dtype} at {obj.name} in {label}")
    nbytes = math.prod(obj.shape) * obj.dtype.itemsize
    stored = obj.id.get_storage_size()
    limit = stored * (_MAX_EXPANSION if obj.compression is not None else 1)
    if nbytes and limit < nbytes:
        raise FileFormatError(f"Weight {what} declares {nbytes} bytes but the file stores {stored} for it "
                              f"(truncated or forged). Received: {obj.name} in {label}")
    try:
        return np.asarray(obj[()])
    except (OSError, ValueError) as e:
        raise FileFormatError(f"Weight {what} could not be read ({e}). Received: {obj.name} in {label}") from None
