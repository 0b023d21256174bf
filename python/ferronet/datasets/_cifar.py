"""Shared reader of the CIFAR-10 and CIFAR-100 "python version" files, as Keras caches them.

A dataset is found as its extracted folder (``cifar-10-batches-py/``, Keras 2's
cache; ``cifar-10-batches-py/cifar-10-batches-py/`` or
``cifar-100-python-target/cifar-100-python/``, Keras 3's) or as the archive
(``cifar-10-python.tar.gz``, Keras 2's ``cifar-10-batches-py.tar.gz``, Keras 3's
``..._archive``), which is read in place without extracting it. Each batch
is a pickled dict with ``data`` (n x 3072 bytes, channel-major 32x32 images)
and the labels; it is unpickled with only NumPy arrays allowed.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from ..errors import FerronetError
from ._cache import find_or_download
from ._files import search_dirs
from ._safe_pickle import load_pickle

__all__ = ["load"]


def _read_batch(stream, source, label_key: str) -> tuple:
    raw = load_pickle(stream, source)
    if not isinstance(raw, dict):
        raise FerronetError(f"{source} is not a CIFAR batch. Received: a pickled {type(raw).__name__}")
    batch = {(k.decode("utf8") if isinstance(k, bytes) else k): v for k, v in raw.items()}
    if "data" not in batch or label_key not in batch:
        raise FerronetError(
            f"{source} is not a CIFAR batch with 'data' and {label_key!r}. Received: keys {sorted(batch)}"
        )
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
        raise FerronetError(
            f"{source}: expected data (n, 3072) and n labels. Received: data.shape={data.shape}, "
            f"{label_key} shape={labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.uint8)


def _read_all(source: Path, folder: str, members, label_key: str) -> list:
    if source.is_dir():
        out = []
        for m in members:
            if not (source / m).is_file():
                raise FerronetError(f"{source} lacks {m}: the extraction is incomplete. Received: no file {source / m}")
            with open(source / m, "rb") as f:
                out.append(_read_batch(f, source / m, label_key))
        return out
    try:
        with tarfile.open(source, "r:*") as archive:
            out = []
            for m in members:
                name = f"{folder}/{m}"
                try:
                    stream = archive.extractfile(name)
                except KeyError:
                    stream = None
                if stream is None:
                    raise FerronetError(f"{source} lacks {name}. Received: an archive without that file")
                out.append(_read_batch(stream, f"{source}:{name}", label_key))
            return out
    except tarfile.TarError as e:
        raise FerronetError(f"{source} is not a readable tar archive ({e}). Received: a corrupt or partial file") from None


def load(title: str, folder: str, url: str, sha256: str, train: list, test: str, label_key: str) -> tuple:
    """Read a CIFAR dataset as Keras returns it.

    Args:
        title: Name for messages.
        folder: The folder inside the archive (``"cifar-10-batches-py"``).
        url: The archive's URL; downloads keep its file name.
        sha256: The archive's checksum.
        train: Training batch files in order; ``test`` is the test batch file.
        label_key: ``"labels"``, ``"fine_labels"`` or ``"coarse_labels"``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 32, 32, 3)`` and uint8 labels ``(n, 1)``.
    """
    source = _locate(title, folder, url, sha256, test)
    batches = _read_all(source, folder, [*train, test], label_key)
    x_train = np.concatenate([b[0] for b in batches[:-1]]).transpose(0, 2, 3, 1)
    y_train = np.concatenate([b[1] for b in batches[:-1]]).reshape(-1, 1)
    x_test, y_test = batches[-1][0].transpose(0, 2, 3, 1), batches[-1][1].reshape(-1, 1)
    return (np.ascontiguousarray(x_train), y_train), (np.ascontiguousarray(x_test), y_test)


def _locate(title: str, folder: str, url: str, sha256: str, test: str) -> Path:
    """The extracted folder or the archive, wherever a Keras version left it, else a download."""
    archive = url.rsplit("/", 1)[1]
    # Keras 2 extracts to <folder>/ and keeps <folder>.tar.gz; Keras 3 extracts to <name>/<folder>/ and keeps
    # <name>_archive, where <name> is <folder> (CIFAR-10) or <folder>-target (CIFAR-100)
    folders = [folder, f"{folder}/{folder}", f"{folder}-target/{folder}"]
    archives = [archive, f"{folder}.tar.gz", f"{folder}_archive", f"{folder}-target_archive"]
    for d in search_dirs():
        for name in folders:
            if (d / name / test).is_file():
                return d / name
        for name in archives:
            if (d / name).is_file():
                return d / name
    what = f"the folder {folder}/ (as extracted by Keras) or the archive {archive}"
    return find_or_download(title, [archive], url, sha256=sha256, what=what)
