"""CIFAR-100 small colour images in 100 classes (20 superclasses), as ``keras.datasets.cifar100``."""

from __future__ import annotations

from . import _cifar

__all__ = ["load_data"]

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode: str = "fine"):
    """Load CIFAR-100: 50,000 training and 10,000 test 32x32 colour images.

    Reads Keras' cache: the extracted ``cifar-100-python/`` folder (or
    ``cifar-100-python-target/cifar-100-python/``) or the ``cifar-100-python.tar.gz``
    archive, under ``$FERRONET_DATA``, ``~/.ferronet/datasets`` and
    ``~/.keras/datasets``; otherwise downloads the archive (161 MB, checksum verified).

    Args:
        label_mode: ``"fine"`` for the 100 classes, ``"coarse"`` for the 20 superclasses.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images ``(n, 32, 32, 3)`` and
        uint8 labels of shape ``(n, 1)`` (0-99 fine, 0-19 coarse).

    Raises:
        ValueError: ``label_mode`` is neither ``"fine"`` nor ``"coarse"``.

    Example:
        The first call downloads the archive (not run here, as these examples run offline):

        >>> from ferronet.datasets import cifar100
        >>> (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode="coarse")  # doctest: +SKIP

        The arguments are checked before anything is read or downloaded:

        >>> cifar100.load_data(label_mode="superclass")
        Traceback (most recent call last):
        ...
        ValueError: label_mode must be one of "fine", "coarse". Received: label_mode='superclass'
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f'label_mode must be one of "fine", "coarse". Received: label_mode={label_mode!r}')
    return _cifar.load("CIFAR-100", "cifar-100-python", URL, SHA256, ["train"], "test", f"{label_mode}_labels")
