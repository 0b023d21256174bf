"""``CSVLogger``: write every epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os

import numpy as np

from .base import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return "[" + ", ".join(str(v) for v in value.ravel().tolist()) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item()
    return value


class CSVLogger(Callback):
    """Streams epoch results to a CSV file: one row per epoch, a header with the logs keys.

    The columns are ``epoch`` (counting from 0, as in Keras) and the logs keys
    of the first epoch in sorted order; a key missing in a later epoch is
    written as ``NA``. The file is flushed after every row, so it can be read
    while training runs.

    Args:
        filename: Path of the CSV file.
        separator: Field separator.
        append: Append to an existing file (keeping its columns) instead of overwriting it.

    Example:

    >>> history = model.fit(x, y, epochs=10, callbacks=[CSVLogger("training.log")], verbose=0)
    >>> open("training.log").readline().strip()
    'epoch,accuracy,loss'
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger separator must be a single character. Received: separator={separator!r}")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        self.keys = None
        self.writer = None
        self._write_header = True
        mode = "w"
        if self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0:
            mode = "a"
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            if header:
                # Continue the existing table with its own columns.
                self.keys = [k for k in header if k != "epoch"]
                self._write_header = False
        self.csv_file = open(self.filename, mode, newline="")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if self.writer is None:
            self.writer = csv.writer(self.csv_file, delimiter=self.sep)
            if self._write_header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_cell(logs[k]) if k in logs else "NA" for k in self.keys)])
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None
