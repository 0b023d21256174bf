"""``BackupAndRestore``: back up the training state so an interrupted ``fit`` resumes where it stopped."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from .base import Callback

__all__ = ["BackupAndRestore"]

_META = "training_metadata.json"


def _write_json_atomic(path: str, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".meta.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class BackupAndRestore(Callback):
    """Backs up the model and optimizer state so that a ``fit`` stopped by an error resumes.

    At the end of every epoch (or every ``save_freq`` batches) the weights,
    the optimizer's slots, iteration count and learning rate, and the epoch
    reached are written to ``backup_dir``. When ``fit`` starts with the same
    ``backup_dir`` and a backup is there, the state is restored and training
    continues from the saved epoch (a batch-level backup restarts the epoch it
    was taken in, with the weights it had then). After a ``fit`` that ends
    normally the backup is deleted (``delete_checkpoint=True``), so the next
    run starts afresh; after Ctrl-C (which ``fit`` turns into a clean stop in
    the middle of an epoch) it is kept.

    Each backup is written to a new sub-folder and only then made current, by
    an atomic rename of ``training_metadata.json``: a crash in the middle of a
    backup leaves the previous one usable. The data order of resumed epochs is
    the original one only without shuffling (or with a seeded batch source),
    as in Keras.

    Args:
        backup_dir: Folder for the backup, used by this callback alone.
        save_freq: ``"epoch"``, or an integer number of training batches between backups.
        delete_checkpoint: Delete the backup when training ends normally.

    Example:

    >>> backup = ferronet.callbacks.BackupAndRestore("backup")
    >>> history = model.fit(x, y, epochs=4, callbacks=[backup], verbose=0)  # if this run is killed,
    >>> history = model.fit(x, y, epochs=4, callbacks=[backup], verbose=0)  # this one resumes it
    >>> history.epoch  # it was not: a full run
    [0, 1, 2, 3]
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"BackupAndRestore needs a backup_dir. Received: backup_dir={backup_dir!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer))
                                     or save_freq < 1):
            raise ValueError(
                f"BackupAndRestore save_freq must be 'epoch' or a positive integer. Received: save_freq={save_freq!r}"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._current_epoch = 0
        self._batches_since_save = 0
        self._counter = 0
        self._in_epoch = False
        if save_freq != "epoch":
            self.on_train_batch_end = self._on_train_batch_end

    # -------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        self._batches_since_save = 0
        self._in_epoch = False
        meta_path = os.path.join(self.backup_dir, _META)
        if not os.path.isfile(meta_path):
            return
        with open(meta_path) as f:
            meta = json.load(f)
        model = self.model
        if not model.built:
            raise ValueError(
                "BackupAndRestore can restore only a built model: build it (give it an Input or call it on a "
                f"batch) before fit(). Received: an unbuilt model with a backup in {self.backup_dir}"
            )
        folder = os.path.join(self.backup_dir, meta["folder"])
        model.load_weights(os.path.join(folder, "weights.npz"))
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and meta.get("optimizer") is not None:
            with np.load(os.path.join(folder, "optimizer.npz"), allow_pickle=False) as f:
                state = {k: f[k] for k in f.files}
            optimizer._load_state(model.weights, state, meta["optimizer"]["iterations"])
            if meta["optimizer"].get("learning_rate") is not None:
                optimizer.learning_rate = meta["optimizer"]["learning_rate"]
        self._counter = int(meta.get("counter", 0))
        self._current_epoch = int(meta["epoch"])
        model._initial_epoch = self._current_epoch

    # ---------------------------------------------------------------- backup
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._in_epoch = True

    def _on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._backup(epoch=self._current_epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._in_epoch = False
        if self.save_freq == "epoch":
            self._backup(epoch=epoch + 1, batch=0)

    def _backup(self, epoch: int, batch: int) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        self._counter += 1
        name = f"backup-{self._counter}"
        folder = os.path.join(self.backup_dir, name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        model = self.model
        model.save_weights(os.path.join(folder, "weights.npz"))
        meta = {"epoch": epoch, "batch": batch, "folder": name, "counter": self._counter, "optimizer": None}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "_state_for"):
            np.savez(os.path.join(folder, "optimizer.npz"), **optimizer._state_for(model.weights))
            lr = optimizer._lr
            meta["optimizer"] = {
                "iterations": int(optimizer.iterations),
                "learning_rate": float(lr) if isinstance(lr, (int, float)) else None,
            }
        _write_json_atomic(os.path.join(self.backup_dir, _META), meta)
        # the new backup is current: earlier ones can go
        for entry in os.listdir(self.backup_dir):
            if entry.startswith("backup-") and entry != name:
                shutil.rmtree(os.path.join(self.backup_dir, entry), ignore_errors=True)

    def on_train_end(self, logs=None):
        # fit ends inside an epoch only when Ctrl-C stopped it: keep the backup to resume from
        if self._in_epoch:
            return
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)
