"""Read the pickled parts of Keras' dataset files without running arbitrary code.

CIFAR batches are pickled dicts of NumPy arrays, and the IMDB ``.npz`` stores
its ragged reviews as object arrays, which NumPy can only save as a pickle.
Unpickling may call any importable function, so a tampered file could run
code: the unpickler here resolves only the globals needed to rebuild NumPy
arrays and refuses everything else.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..errors import FerronetError

__all__ = ["load_pickle", "load_npz"]

_ALLOWED = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # files written by NumPy < 2
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    }
)


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a dataset file holds only NumPy arrays, lists and dicts, "
            "so this one is corrupt or was tampered with"
        )


def load_pickle(stream, source, encoding: str = "bytes"):
    """Unpickle ``stream`` allowing only NumPy array reconstruction.

    Args:
        stream: A binary file object.
        source: The file's name for error messages.
        encoding: Passed to ``pickle.Unpickler`` (``"bytes"`` reads Python 2 pickles such as CIFAR's).

    Raises:
        FerronetError: The stream is not a pickle of plain data and arrays (the message names ``source``).
    """
    try:
        return _ArrayUnpickler(stream, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise FerronetError(f"{source} is not a readable dataset file: {e}. Received: a corrupt or foreign pickle") from None


def _read_npy(raw: bytes, source):
    buf = io.BytesIO(raw)
    try:
        return np.lib.format.read_array(buf, allow_pickle=False)
    except ValueError:
        pass  # an object array: its payload is a pickle after the header
    buf.seek(0)
    version = np.lib.format.read_magic(buf)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(buf)
    elif version in ((2, 0), (3, 0)):
        # 3.0 differs from 2.0 only in the header's text encoding, not its layout
        _, _, dtype = np.lib.format.read_array_header_2_0(buf)
    else:
        raise FerronetError(f"{source}: unsupported .npy version {version}. Received: version {version}")
    if dtype != np.dtype(object):
        raise FerronetError(f"{source} is truncated or corrupt. Received: a {dtype} array that cannot be read")
    return load_pickle(buf, source, encoding="latin1")


def load_npz(path) -> dict:
    """Read every array of an ``.npz`` archive, object arrays included, without arbitrary unpickling.

    Args:
        path: The ``.npz`` file.

    Returns:
        A dict from member name (without ``.npy``) to array.

    Raises:
        FerronetError: The file is not an npz archive or a member cannot be read.
    """
    path = Path(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member[:-4]] = _read_npy(archive.read(member), f"{path}:{member}")
    except zipfile.BadZipFile:
        raise FerronetError(f"{path} is not an .npz archive. Received: a file of {path.stat().st_size} bytes") from None
    return arrays
