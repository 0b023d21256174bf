"""Find a Keras dataset file in the local data folders, or download it once with its checksum checked.

The folders are those of :mod:`._files` (``$FERRONET_DATA``, ``~/.ferronet/datasets``,
``~/.keras/datasets``), so files that Keras already downloaded are used as they are.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path

from ..errors import FerronetError
from ._files import DatasetNotFoundError, download, download_dir, offline, search_dirs

__all__ = ["find_or_download"]


def _explicit(name) -> Path | None:
    """``name`` as a path when it names a folder too (``"data/imdb.npz"``, ``"./imdb.npz"``, ``"/x/imdb.npz"``),
    else None (a bare file name is looked for in the data folders)."""
    text = os.fspath(name)
    path = Path(text).expanduser()
    # Path("./imdb.npz") drops the "./": look at the text for a folder part
    return path if path.is_absolute() or os.path.dirname(text) else None


def find_or_download(
    title: str,
    names,
    url: str,
    sha256: str | None = None,
    md5: str | None = None,
    what: str | None = None,
) -> Path:
    """The path of the first of ``names`` found in the data folders, downloading ``url`` if none is.

    Args:
        title: Dataset name for messages (``"IMDB"``).
        names: Names to look for, in order; the first is also the name a download is saved
            under. A name with a folder part (or absolute) is used as that exact path.
        url: Where to download from.
        sha256: Expected SHA-256 of the download (or give ``md5``).
        md5: Expected MD5 of the download.
        what: How the offline error describes what to put where (default: "the file <names[0]>").

    Raises:
        DatasetNotFoundError: Nothing was found and the download is disabled or failed; the
            message names the file, the folder to put it in and the URL.
    """
    names = [str(n) for n in names]
    explicit = _explicit(names[0])
    dirs = search_dirs()
    if explicit is not None:
        candidates = [explicit]
        target = explicit
    else:
        candidates = [d / n for d in dirs for n in names]
        target = download_dir() / names[0]
    hit = next((p for p in candidates if p.is_file()), None)
    if hit is not None:
        return hit
    error = "downloads are disabled (FERRONET_OFFLINE is set)"
    if not offline():
        try:
            return download(url, target, sha256=sha256, md5=md5)
        except (urllib.error.URLError, OSError, FerronetError) as e:
            error = f"download failed: {e}"
    what = what or f"the file {target.name}"
    searched = str(explicit) if explicit is not None else ", ".join(str(d) for d in dirs)
    raise DatasetNotFoundError(
        f"{title} is not on this machine and {error}. Put {what} ({url}) in {target.parent}/ "
        f"(FERRONET_DATA sets another folder). Received: nothing in {searched}"
    )
