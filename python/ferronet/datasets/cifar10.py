"""CIFAR-10 small colour images in 10 classes, as ``keras.datasets.cifar10``."""

from __future__ import annotations

from . import _cifar

__all__ = ["load_data", "CLASS_NAMES"]

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_data():
    """Load CIFAR-10: 50,000 training and 10,000 test 32x32 colour images of 10 classes.

    Reads Keras' cache: the extracted ``cifar-10-batches-py/`` folder or the
    ``cifar-10-python.tar.gz`` archive (read in place), under ``$FERRONET_DATA``,
    ``~/.ferronet/datasets`` and ``~/.keras/datasets``; otherwise downloads the
    archive (163 MB, checksum verified). Offline, the error says what to put where.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(50000, 32, 32, 3)``
        and ``(10000, 32, 32, 3)`` with values 0-255, and uint8 labels 0-9 of shape
        ``(n, 1)``; ``CLASS_NAMES[label]`` names a class.

    Example:
        The first call downloads the archive (not run here, as these examples run offline); the
        images are ``(50000, 32, 32, 3)``, the labels ``(50000, 1)``:

        >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP

        A label names its class through ``CLASS_NAMES``:

        >>> from ferronet.datasets import cifar10
        >>> labels = np.array([[3], [8]], np.uint8)  # as y_train holds them
        >>> [cifar10.CLASS_NAMES[int(label)] for label in labels[:, 0]]
        ['cat', 'ship']
    """
    train = [f"data_batch_{i}" for i in range(1, 6)]
    return _cifar.load("CIFAR-10", "cifar-10-batches-py", URL, SHA256, train, "test_batch", "labels")
