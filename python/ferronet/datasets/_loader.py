"""Shared loader for MNIST-style datasets: a Keras ``.npz`` or the four original IDX files."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np

from ..errors import FerronetError
from ._cache import _explicit
from ._files import DatasetNotFoundError, download, download_dir, offline, read_idx, search_dirs

KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# the four IDX files; Kaggle copies spell them with a dot (train-images.idx3-ubyte)
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _idx_candidates(folder: Path, stem: str) -> list:
    dotted = stem.replace("-idx", ".idx")
    return [folder / name for s in (stem, dotted) for name in (s + ".gz", s)]


def _find_idx(folder: Path):
    found = {}
    for key, stem in IDX_FILES.items():
        hit = next((p for p in _idx_candidates(folder, stem) if p.is_file()), None)
        if hit is None:
            return None
        found[key] = hit
    return found


def _check(arrays: dict, source) -> tuple:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise FerronetError(
                f"{source}: x_{split} must be (n, rows, cols) images with one label each. "
                f"Received: x_{split}.shape={x.shape}, y_{split}.shape={y.shape}"
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_npz(path: Path) -> tuple:
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in NPZ_KEYS if k not in f.files]
        if missing:
            raise FerronetError(f"{path} lacks the Keras keys {missing}. Received: keys {sorted(f.files)}")
        return _check({k: f[k] for k in NPZ_KEYS}, path)


def read_idx_set(files: dict) -> tuple:
    return _check({k: read_idx(p) for k, p in files.items()}, files["x_train"].parent)


def load(title: str, npz: str, idx_dir: str, download_npz: tuple | None, download_idx: str | None) -> tuple:
    """Find and read a dataset, downloading it if it is nowhere on disk.

    Args:
        title: Name for messages ("MNIST").
        npz: File name (or path) of the ``.npz`` form.
        idx_dir: Sub-directory holding the IDX form.
        download_npz: ``(url, sha256)`` to fetch the npz, or None.
        download_idx: Base URL of the four ``.gz`` IDX files, or None.
    """
    npz_path = _explicit(npz)
    if npz_path is not None and npz_path.is_file():
        return read_npz(npz_path)
    dirs = search_dirs()
    for d in dirs:
        if (d / npz).is_file():
            return read_npz(d / npz)
        files = _find_idx(d / idx_dir)
        if files:
            return read_idx_set(files)
    target = download_dir()
    error = "downloads are disabled (FERRONET_OFFLINE is set)"
    if not offline():
        try:
            if download_npz is not None:
                url, sha = download_npz
                return read_npz(download(url, target / npz, sha256=sha))
            for stem in IDX_FILES.values():
                if not (target / idx_dir / f"{stem}.gz").is_file():
                    download(download_idx + stem + ".gz", target / idx_dir / f"{stem}.gz")
            return read_idx_set(_find_idx(target / idx_dir))
        except (urllib.error.URLError, OSError, FerronetError) as e:
            error = f"download failed: {e}"
    where = f"{target / npz}" if download_npz else None
    idx_names = ", ".join(f"{s}.gz" for s in IDX_FILES.values())
    options = [f"the Keras file {npz} ({download_npz[0]}) at {where}"] if download_npz else []
    options.append(f"the four IDX files ({idx_names}, gzipped or not) in {target / idx_dir}/")
    raise DatasetNotFoundError(
        f"{title} is not on this machine and {error}. Put "
        + " or ".join(options)
        + " (FERRONET_DATA sets another folder). "
        + f"Received: nothing in {', '.join(str(d) for d in dirs)}"
    )
