"""BackupAndRestore and ModelCheckpoint on a real model and fit."""

import json
import os
import signal

import numpy as np
import pytest

import ferronet
from ferronet import layers
from ferronet.callbacks import BackupAndRestore, Callback, ModelCheckpoint, ReduceLROnPlateau


def make_data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32") + 0.3 * np.sin(x[:, :1])).astype("float32")
    return x, y


def make_model(seed):
    ferronet.utils.set_random_seed(seed)
    model = ferronet.Sequential([ferronet.Input((4,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=ferronet.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


class Crash(Callback):
    """Raises in the given epoch, after the given batch, as a killed job would stop."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("simulated crash")


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def test_backup_and_restore_resumes_model_and_optimizer_state(tmp_path):
    x, y = make_data()
    reference = make_model(seed=1)
    ref_history = reference.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0)

    backup_dir = tmp_path / "backup"
    first = make_model(seed=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0,
                  callbacks=[BackupAndRestore(backup_dir), Crash(epoch=3, batch=1)])
    meta = json.loads((backup_dir / "training_metadata.json").read_text())
    assert meta["epoch"] == 3 and meta["optimizer"]["iterations"] == 12

    # a new process would build a new model with other initial weights: the backup overrides them
    second = make_model(seed=99)
    history = second.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0,
                         callbacks=[BackupAndRestore(backup_dir)])
    assert history.epoch == [3, 4, 5]
    assert second.optimizer.iterations == reference.optimizer.iterations == 24
    for got, want in zip(weights_of(second), weights_of(reference)):
        np.testing.assert_array_equal(got, want)  # the same arithmetic in the same order
    np.testing.assert_array_equal(history.history["loss"], ref_history.history["loss"][3:])
    assert not backup_dir.exists()  # delete_checkpoint=True after a normal end


def test_restoring_weights_without_the_optimizer_state_would_differ(tmp_path):
    # the resume test above can fail: Adam's moments matter for the continued run
    x, y = make_data()
    reference = make_model(seed=1)
    reference.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
    half = make_model(seed=1)
    half.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    fresh = make_model(seed=5)
    fresh.set_weights(half.get_weights())
    fresh.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert not np.allclose(weights_of(fresh)[0], weights_of(reference)[0], rtol=1e-5, atol=1e-6)


def test_backup_by_batches_restarts_the_epoch_with_mid_epoch_state(tmp_path):
    x, y = make_data()
    backup_dir = tmp_path / "b"
    model = make_model(seed=2)
    snapshots = []

    class Snapshot(Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append(weights_of(self.model))

    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                  callbacks=[BackupAndRestore(backup_dir, save_freq=3), Snapshot(), Crash(epoch=1, batch=3)])
    meta = json.loads((backup_dir / "training_metadata.json").read_text())
    # 4 batches per epoch, a backup every 3 batches: after batch 3 of epoch 1 and batch 2 of epoch 2 (1-based)
    assert (meta["epoch"], meta["batch"], meta["optimizer"]["iterations"]) == (1, 2, 6)
    assert len(os.listdir(backup_dir)) == 2  # the metadata and the one current backup

    restored = make_model(seed=3)
    seen = []

    class FirstEpoch(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if not seen:
                seen.append((epoch, weights_of(self.model), self.model.optimizer.iterations))

    restored.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                 callbacks=[BackupAndRestore(backup_dir, save_freq=3, delete_checkpoint=False), FirstEpoch()])
    epoch, start_weights, iterations = seen[0]
    assert epoch == 1 and iterations == 6
    for got, want in zip(start_weights, snapshots[5]):
        np.testing.assert_array_equal(got, want)
    assert (backup_dir / "training_metadata.json").exists()  # delete_checkpoint=False keeps it


def test_backup_restores_a_changed_learning_rate(tmp_path):
    x, y = make_data()
    model = make_model(seed=4)

    class Lower(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate = 0.001

    with pytest.raises(RuntimeError):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0,
                  callbacks=[Lower(), BackupAndRestore(tmp_path / "b"), Crash(epoch=1, batch=0)])
    again = make_model(seed=4)
    again.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b")])
    assert again.optimizer.learning_rate == pytest.approx(0.001)


def test_ctrl_c_keeps_the_backup_and_the_next_fit_resumes(tmp_path):
    x, y = make_data()
    model = make_model(seed=10)

    class CtrlC(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (2, 1):
                signal.raise_signal(signal.SIGINT)  # fit turns it into a stop before the next batch

    history = model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
                        callbacks=[BackupAndRestore(tmp_path / "b"), CtrlC()])
    assert history.epoch == [0, 1]
    assert json.loads((tmp_path / "b" / "training_metadata.json").read_text())["epoch"] == 2
    history = make_model(seed=11).fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0,
                                      callbacks=[BackupAndRestore(tmp_path / "b")])
    assert history.epoch == [2, 3, 4] and not (tmp_path / "b").exists()


def test_backup_and_restore_arguments():
    with pytest.raises(ValueError, match="needs a backup_dir. Received: backup_dir=''"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer. Received: save_freq=0"):
        BackupAndRestore("b", save_freq=0)
    assert "BackupAndRestore" in ferronet.callbacks.__all__


# ----------------------------------------------------------------------------- ModelCheckpoint, real fit


def test_model_checkpoint_formats_epoch_and_metrics_and_saves_what_the_model_was(tmp_path):
    x, y = make_data()
    model = make_model(seed=5)
    at_epoch_end = {}

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            at_epoch_end[epoch + 1] = (weights_of(self.model), dict(logs))

    path = str(tmp_path / "ck" / "m-{epoch:02d}-{loss:.3f}-{val_mae:.3f}.ferronet")
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[Record(), ModelCheckpoint(path, monitor="val_mae")])
    files = sorted(os.listdir(tmp_path / "ck"))
    want = [f"m-{e:02d}-{at_epoch_end[e][1]['loss']:.3f}-{at_epoch_end[e][1]['val_mae']:.3f}.ferronet" for e in (1, 2)]
    assert files == want
    loaded = ferronet.models.load_model(str(tmp_path / "ck" / files[0]))
    for got, w in zip(weights_of(loaded), at_epoch_end[1][0]):
        np.testing.assert_array_equal(got, w)


def test_model_checkpoint_best_only_mode_and_threshold(tmp_path, capsys):
    x, y = make_data()
    model = make_model(seed=6)
    saved = []

    class Spy(ModelCheckpoint):
        def _save(self, epoch, batch, logs):
            before = os.path.exists(self.filepath) and os.path.getmtime(self.filepath)
            super()._save(epoch, batch, logs)
            if os.path.exists(self.filepath) and os.path.getmtime(self.filepath) != before:
                saved.append(epoch + 1)

    # loss falls every epoch: mode="max" never improves on the first value; a threshold above any loss
    # with mode="min" saves from epoch 1 on, one below every loss never saves
    for mode, threshold, expect in (("min", None, [1, 2, 3]), ("max", None, [1]), ("min", 1e-9, [])):
        saved.clear()
        path = tmp_path / f"best-{mode}-{threshold}.weights.npz"
        ckpt = Spy(str(path), monitor="loss", save_best_only=True, save_weights_only=True, mode=mode,
                   initial_value_threshold=threshold, verbose=1)
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[ckpt])
        assert saved == expect, (mode, threshold)
        assert path.exists() == bool(expect)
    out = capsys.readouterr().out
    assert "Epoch 1: loss improved from inf to " in out and "Epoch 2: loss did not improve from" in out
    assert "Epoch 1: loss did not improve from 0.00000" in out


def test_model_checkpoint_batch_frequency_counts_across_epochs(tmp_path):
    x, y = make_data()  # 64 samples, batch 16: 4 batches per epoch
    model = make_model(seed=7)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "e{epoch}b{batch}.weights.npz"), save_freq=3,
                                         save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["e1b3.weights.npz", "e2b2.weights.npz"]
    other = make_model(seed=8)
    other.load_weights(str(tmp_path / "e2b2.weights.npz"))
    assert not np.array_equal(weights_of(other)[0], weights_of(make_model(seed=8))[0])


def test_model_checkpoint_with_reduce_lr_logs(tmp_path):
    # a callback's additions to the logs (ReduceLROnPlateau's learning_rate) can be used in the path
    x, y = make_data()
    model = make_model(seed=9)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[ReduceLROnPlateau(monitor="loss"),
                         ModelCheckpoint(str(tmp_path / "lr{learning_rate:.3f}.ferronet"))])
    assert os.listdir(tmp_path) == ["lr0.010.ferronet"]
