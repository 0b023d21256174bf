"""MNIST handwritten digits, as ``keras.datasets.mnist``."""

from __future__ import annotations

from . import _loader

__all__ = ["load_data"]

URL = _loader.KERAS_URL + "mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz"):
    """Load MNIST: 60,000 training and 10,000 test images of digits 0-9, 28x28 grey levels.

    Looks for ``mnist.npz`` (Keras' file, keys ``x_train, y_train, x_test, y_test``)
    or the original IDX files in a ``mnist/`` folder, under ``$FERRONET_DATA``,
    ``~/.ferronet/datasets`` and ``~/.keras/datasets``; otherwise downloads Keras'
    ``mnist.npz`` (11 MB, checksum verified). Offline, the error says which file to put where.

    Args:
        path: File name of the npz inside the data folders, or a path to it.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 28, 28)`` with
        values 0-255 and uint8 labels ``(n,)``.

    Example:
        The first call downloads ``mnist.npz`` (not run here, as these examples run offline):

        >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP

        A file given by path is read as it is; here a tiny one with Keras' keys stands for the real one:

        >>> import os
        >>> os.makedirs("data")
        >>> digits = np.full((3, 28, 28), 255, np.uint8)
        >>> np.savez("data/mnist.npz", x_train=digits, y_train=np.array([5, 0, 4], np.uint8),
        ...          x_test=digits[:1], y_test=np.array([7], np.uint8))
        >>> (x_train, y_train), (x_test, y_test) = load_data("data/mnist.npz")
        >>> x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255  # ready for a Conv2D
        >>> x_train.shape, float(x_train.max()), y_train
        ((3, 28, 28, 1), 1.0, array([5, 0, 4], dtype=uint8))
    """
    return _loader.load("MNIST", path, "mnist", (URL, SHA256), None)
