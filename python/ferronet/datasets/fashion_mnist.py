"""Fashion-MNIST clothing images, as ``keras.datasets.fashion_mnist``."""

from __future__ import annotations

from . import _loader

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data():
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 images of 10 clothing classes.

    Reads the four IDX files (``train-images-idx3-ubyte.gz`` etc., gzipped or not)
    from a ``fashion-mnist/`` folder (Keras' layout) or ``fashion-mnist.npz`` with
    Keras' keys, under ``$FERRONET_DATA``, ``~/.ferronet/datasets`` and
    ``~/.keras/datasets``; otherwise downloads the IDX files (30 MB) from Keras' mirror.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 28, 28)`` and
        uint8 labels ``(n,)``; ``CLASS_NAMES[label]`` names a class.

    Example:
        The first call downloads the files (not run here, as these examples run offline):

        >>> from ferronet.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP

        Files already on disk are read from ``$FERRONET_DATA``; here a tiny ``fashion-mnist.npz`` with
        Keras' keys stands for the real one:

        >>> import os
        >>> from unittest import mock
        >>> os.makedirs("data")
        >>> images = np.zeros((2, 28, 28), np.uint8)
        >>> np.savez("data/fashion-mnist.npz", x_train=images, y_train=np.array([0, 9], np.uint8),
        ...          x_test=images, y_test=np.array([7, 1], np.uint8))
        >>> with mock.patch.dict("os.environ", FERRONET_DATA="data"):
        ...     (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
        >>> x_train.shape, [fashion_mnist.CLASS_NAMES[label] for label in y_test]
        ((2, 28, 28), ['Sneaker', 'Trouser'])
    """
    return _loader.load("Fashion-MNIST", "fashion-mnist.npz", "fashion-mnist", None, _loader.KERAS_URL)
