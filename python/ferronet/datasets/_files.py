"""Where dataset files live, how to read IDX files, and a safe download.

Search order for a file: ``$FERRONET_DATA`` (if set), ``~/.ferronet/datasets``,
``~/.keras/datasets`` (so data Keras already downloaded is reused). Downloads go
to the first of ``$FERRONET_DATA`` or ``~/.ferronet/datasets``; set
``FERRONET_OFFLINE=1`` to never touch the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import FerronetError

__all__ = ["DatasetNotFoundError", "search_dirs", "download_dir", "read_idx", "download", "offline"]


class DatasetNotFoundError(FerronetError, FileNotFoundError):
    """A dataset file is missing locally and could not be downloaded (the message says where to put it).

    It is also a ``FileNotFoundError``, so code that handles missing files handles it too.

    Example:
        >>> from unittest import mock
        >>> from ferronet import datasets
        >>> with mock.patch.dict("os.environ", FERRONET_OFFLINE="1"):  # as FERRONET_OFFLINE=1 in the shell
        ...     try:
        ...         datasets.boston_housing.load_data(path="nowhere/boston_housing.npz")
        ...     except datasets.DatasetNotFoundError as error:
        ...         print(error)
        Boston housing is not on this machine and downloads are disabled (FERRONET_OFFLINE is set). Put the file
        boston_housing.npz (https://...boston_housing.npz) in nowhere/ (FERRONET_DATA sets another folder).
        Received: nothing in nowhere/boston_housing.npz
    """


def search_dirs() -> list:
    """Directories searched for dataset files, in order."""
    dirs = []
    if os.environ.get("FERRONET_DATA"):
        dirs.append(Path(os.environ["FERRONET_DATA"]).expanduser())
    dirs += [Path.home() / ".ferronet" / "datasets", Path.home() / ".keras" / "datasets"]
    return dirs


def download_dir() -> Path:
    """Directory that downloads are written to."""
    return search_dirs()[0]


def offline() -> bool:
    """True when ``FERRONET_OFFLINE`` forbids downloads."""
    return os.environ.get("FERRONET_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the original MNIST format), gzip-compressed or raw.

    Compression is detected from the content, not the file name.

    Raises:
        FerronetError: The file is not a valid IDX file (the message names it).

    Example:
        >>> import gzip
        >>> from ferronet.datasets import read_idx
        >>> header = bytes([0, 0, 0x08, 1]) + (3).to_bytes(4, "big")  # uint8, 1 dimension of 3
        >>> with gzip.open("labels-idx1-ubyte.gz", "wb") as f:
        ...     _ = f.write(header + bytes([7, 2, 1]))
        >>> read_idx("labels-idx1-ubyte.gz")
        array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise FerronetError(f"{path} is not an IDX file (bad magic number). Received: first bytes {raw[:4].hex()}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise FerronetError(
            f"{path} is truncated or corrupt: header says shape {shape}. Received: {len(raw) - header} data bytes, "
            f"expected {expected}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0, md5: str | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically: a temporary file in the same directory is
    checked (``sha256`` or ``md5`` if given) and renamed into place, so an interrupted
    download never leaves a partial file behind."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"ferronet: downloading {url} -> {dest}", file=sys.stderr, flush=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        expected, digest = (md5, hashlib.md5()) if md5 is not None else (sha256, hashlib.sha256())
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if expected is not None and digest.hexdigest() != expected:
            raise FerronetError(
                f"checksum mismatch for {url}; expected {digest.name} {expected}. Received: {digest.hexdigest()}"
            )
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
