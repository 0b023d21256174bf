"""``PyDataset``: the base class Keras programs subclass to feed ``fit`` batch by batch."""

from __future__ import annotations

import warnings

__all__ = ["PyDataset", "Sequence"]


class PyDataset:
    """A dataset of batches: subclass it and define ``__len__`` (batches per epoch) and ``__getitem__(i)``
    returning batch ``i`` as ``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end()`` runs after each
    epoch (reshuffle there). Pass an instance as ``x`` to ``fit``, ``evaluate`` or ``predict``.

    ferronet loads each batch on the training thread, just before its step. The Keras arguments
    ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are accepted so programs port unchanged;
    asking for parallel loading warns that it is not done.

    Example:

    >>> class Batches(ferronet.utils.PyDataset):
    ...     def __init__(self, x, y, batch_size):
    ...         super().__init__()
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
    ...         return self.x[s], self.y[s]
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size
        if (workers or 1) > 1 or use_multiprocessing:
            warnings.warn(
                "ferronet loads PyDataset batches on the training thread, one before each step; "
                f"workers={workers} and use_multiprocessing={use_multiprocessing} are not used.",
                UserWarning,
                stacklevel=2,
            )

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__: the number of batches per epoch.")

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(index): batch number index, as (x, y) or "
            "(x, y, sample_weight)."
        )

    def on_epoch_end(self):
        """Called after every epoch of ``fit`` (shuffle the order here if wanted)."""


# Keras 2's name for the same protocol.
Sequence = PyDataset
