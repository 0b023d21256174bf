"""Boston housing prices (13 features per suburb, price in k$), as ``keras.datasets.boston_housing``."""

from __future__ import annotations

import numpy as np

from ..errors import FerronetError
from ._cache import find_or_download
from ._safe_pickle import load_npz

__all__ = ["load_data"]

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Load the Boston housing regression data (506 samples), split like Keras.

    The samples are shuffled with ``np.random.RandomState(seed)`` and the last
    ``test_split`` fraction is the test set, so the split equals Keras' for the
    same arguments. Reads Keras' ``boston_housing.npz`` (keys ``x``, ``y``) from
    the data folders or downloads it (57 kB, checksum verified).

    Args:
        path: File name inside the data folders, or a path to the file.
        test_split: Fraction of the data reserved as test set, in ``[0, 1)``.
        seed: Seed of the shuffle before the split.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float64 features ``(n, 13)`` and
        float64 prices ``(n,)`` in k$.

    Raises:
        ValueError: ``test_split`` is outside ``[0, 1)``.

    Example:
        The first call downloads Keras' file (not run here, as these examples run offline):

        >>> from ferronet.datasets import boston_housing
        >>> (x_train, y_train), (x_test, y_test) = boston_housing.load_data()  # doctest: +SKIP

        A file with the same layout, given by path, shows the split: the last 20 % after a shuffle
        seeded like Keras'.

        >>> import os
        >>> os.makedirs("data")
        >>> np.savez("data/houses.npz", x=np.arange(130.0).reshape(10, 13), y=np.arange(10.0))
        >>> (x_train, y_train), (x_test, y_test) = boston_housing.load_data("data/houses.npz", test_split=0.2)
        >>> x_train.shape, x_test.shape, y_test
        ((8, 13), (2, 13), array([2., 5.]))
    """
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 <= test_split < 1:
        raise ValueError(f"test_split must be a number in [0, 1). Received: test_split={test_split!r}")
    file = find_or_download("Boston housing", [path], URL, sha256=SHA256)
    arrays = load_npz(file)
    if "x" not in arrays or "y" not in arrays or len(arrays["x"]) != len(arrays["y"]):
        raise FerronetError(
            f"{file} is not Keras' boston_housing.npz (keys x and y of equal length). Received: "
            + ", ".join(f"{k}.shape={v.shape}" for k, v in arrays.items())
        )
    x, y = arrays["x"], arrays["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut].copy(), y[:cut].copy()), (x[cut:].copy(), y[cut:].copy())
