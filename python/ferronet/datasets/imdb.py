"""IMDB movie reviews labelled by sentiment, as word-index sequences, as ``keras.datasets.imdb``."""

from __future__ import annotations

import json

import numpy as np

from ..errors import FerronetError
from ._cache import find_or_download
from ._safe_pickle import load_npz

__all__ = ["load_data", "get_word_index"]

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_MD5 = "bfafd718b763782e994055a2d397834f"


def _optional_int(name: str, value, minimum: int = 0):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be None or an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _shuffled(x, y, rng) -> tuple:
    indices = np.arange(len(x))
    rng.shuffle(indices)
    return [list(x[i]) for i in indices], y[indices]


def _object_array(seqs: list) -> np.ndarray:
    # always one list per review, even when every review has the same length
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def load_data(
    path: str = "imdb.npz",
    num_words=None,
    skip_top: int = 0,
    maxlen=None,
    seed: int = 113,
    start_char=1,
    oov_char=2,
    index_from: int = 3,
    **kwargs,
):
    """Load the IMDB reviews (25,000 train, 25,000 test) as lists of word indices, like Keras.

    Words are numbered by frequency (1 = most frequent) in the file; here each
    index is shifted up by ``index_from`` so that 0 (padding), ``start_char``
    and ``oov_char`` stay free. Training and test reviews are shuffled with
    ``np.random.RandomState(seed)``, so the order equals Keras' for the same
    arguments. Reads Keras' ``imdb.npz`` from the data folders or downloads it
    (17 MB, checksum verified); its object arrays are read without arbitrary unpickling.

    Args:
        path: File name inside the data folders, or a path to the file.
        num_words: Keep only indices below ``num_words`` (after the shift); others become
            ``oov_char`` (or are dropped if ``oov_char`` is None). None keeps every word.
        skip_top: Indices below ``skip_top`` (after the shift) are treated like rare words.
        maxlen: Drop reviews whose length (with ``start_char``) is ``maxlen`` or more.
        seed: Seed of the shuffle.
        start_char: Index put at the start of every review (None: no marker).
        oov_char: Index replacing dropped words (None: drop them).
        index_from: Shift added to every word index.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` a 1-D object array holding one
        list of int indices per review, ``y`` int labels (1 positive, 0 negative).

    Raises:
        ValueError: An argument is out of range, or ``maxlen`` leaves no review.

    Example:
        The first call downloads ``imdb.npz`` (not run here, as these examples run offline):

        >>> (x_train, y_train), _ = load_data(num_words=10000)  # doctest: +SKIP

        A file given by path is read as it is; here a tiny one with Keras' layout (one list of word
        indices per review, in object arrays) stands for the real one:

        >>> import os
        >>> os.makedirs("data")
        >>> def reviews(*lists):
        ...     out = np.empty(len(lists), dtype=object)
        ...     out[:] = lists
        ...     return out
        >>> np.savez("data/imdb.npz", x_train=reviews([1, 4, 2], [3, 1]), y_train=np.array([1, 0]),
        ...          x_test=reviews([2, 2, 5]), y_test=np.array([1]))
        >>> (x_train, y_train), (x_test, y_test) = load_data("data/imdb.npz", num_words=6)
        >>> x_test[0]  # start_char 1, then each index + 3; 8 is not below num_words: oov_char 2
        [1, 5, 5, 2]
    """
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}. Received: {kwargs}")
    num_words = _optional_int("num_words", num_words)
    skip_top = _optional_int("skip_top", skip_top)
    maxlen = _optional_int("maxlen", maxlen)
    index_from = _optional_int("index_from", index_from)
    file = find_or_download("IMDB", [path], URL, sha256=SHA256)
    arrays = load_npz(file)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise FerronetError(f"{file} lacks the Keras keys {missing}. Received: keys {sorted(arrays)}")
    rng = np.random.RandomState(seed)
    x_train, labels_train = _shuffled(arrays["x_train"], arrays["y_train"], rng)
    x_test, labels_test = _shuffled(arrays["x_test"], arrays["y_test"], rng)

    head = [start_char] if start_char is not None else []
    x_train = [head + [w + index_from for w in x] for x in x_train]
    x_test = [head + [w + index_from for w in x] for x in x_test]
    if maxlen:
        keep_train = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        keep_test = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        if not keep_train or not keep_test:
            raise ValueError(
                f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. Increase maxlen."
            )
        x_train, labels_train = [x_train[i] for i in keep_train], labels_train[keep_train]
        x_test, labels_test = [x_test[i] for i in keep_test], labels_test[keep_test]

    xs = x_train + x_test
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    n = len(x_train)
    return (_object_array(xs[:n]), labels_train), (_object_array(xs[n:]), labels_test)


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The dict from word to its index in the IMDB file (before the ``index_from`` shift).

    Reads Keras' ``imdb_word_index.json`` from the data folders or downloads it
    (1.6 MB, checksum verified).

    Args:
        path: File name inside the data folders, or a path to the file.

    Returns:
        ``{word: index}``; index 1 is the most frequent word.

    Example:
        The first call downloads the index (not run here, as these examples run offline):

        >>> index = get_word_index()  # doctest: +SKIP

        Here a small file given by path stands for it, to turn a review back into words:

        >>> import json
        >>> with open("word_index.json", "w") as f:
        ...     json.dump({"the": 1, "and": 2, "film": 3, "great": 4}, f)
        >>> index = get_word_index("./word_index.json")
        >>> words = {i + 3: w for w, i in index.items()}  # with load_data's index_from=3
        >>> " ".join(words.get(i, "?") for i in [1, 4, 7, 6])  # 1 is start_char
        '? the great film'
    """
    file = find_or_download("The IMDB word index", [path], WORD_INDEX_URL, md5=WORD_INDEX_MD5)
    with open(file, encoding="utf-8") as f:
        return json.load(f)
