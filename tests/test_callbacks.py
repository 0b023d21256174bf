"""Callbacks, driven by a fake model that implements the part of Keras' model interface they use.

``run_fit`` calls the hooks exactly as Keras' ``fit`` does, so these tests do not
depend on ferronet's real model.
"""

import csv
import io
import math
import os

import numpy as np
import pytest

from ferronet import callbacks, metrics
from ferronet.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """Keras' model interface as the callbacks see it; weights change every epoch."""

    def __init__(self, learning_rate=0.1, metric_objects=()):
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.metrics = list(metric_objects)
        self.saved = []

    def get_weights(self):
        return self.weights  # live arrays, as a careless model might return

    def set_weights(self, weights):
        for w, new in zip(self.weights, weights):
            w[...] = new

    def train_one_epoch(self, epoch):
        for w in self.weights:
            w[...] = epoch  # updated in place, like ferronet's optimizers

    def save(self, path):
        with open(path, "w") as f:
            f.write("model")
        self.saved.append(("save", path))

    def save_weights(self, path):
        with open(path, "w") as f:
            f.write("weights")
        self.saved.append(("save_weights", path))


def run_fit(model, cbs, epoch_logs, steps=3, verbose=0, batch_logs=None):
    """Keras' fit loop: per-epoch logs come from ``epoch_logs`` (a list of dicts)."""
    cbl = CallbackList(cbs, add_history=True, add_progbar=verbose != 0, model=model, verbose=verbose, epochs=len(epoch_logs), steps=steps)
    model.stop_training = False
    cbl.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbl.on_epoch_begin(epoch)
        for step in range(steps):
            cbl.on_train_batch_begin(step)
            model.train_one_epoch(epoch)
            blogs = batch_logs(epoch, step) if batch_logs else {k: v for k, v in logs.items() if not k.startswith("val_")}
            cbl.on_train_batch_end(step, blogs)
            if model.stop_training:
                break
        logs = dict(logs)
        cbl.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbl.on_train_end()
    return cbl.history


def losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


# ----------------------------------------------------------------------------- base, list, history


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):  # the Keras 2 alias
        self.calls.append(f"batch_end {batch} {logs['loss']}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_hooks_are_called_in_keras_order_with_keras_logs():
    rec = Recorder()
    model = FakeModel()
    history = run_fit(model, [rec], losses(0.5, 0.4), steps=2)
    assert rec.calls == [
        "train_begin",
        "epoch_begin 0",
        "batch_end 0 1.0",
        "batch_end 1 1.0",
        "epoch_end 0 ['loss', 'val_loss']",
        "epoch_begin 1",
        "batch_end 0 1.0",
        "batch_end 1 1.0",
        "epoch_end 1 ['loss', 'val_loss']",
        "train_end",
    ]
    assert rec.model is model and rec.params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert history.history == {"loss": [1.0, 1.0], "val_loss": [0.5, 0.4]}
    assert history.epoch == [0, 1]
    assert model.history is history


def test_batch_hooks_reach_only_the_callbacks_that_use_them():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    lam = LambdaCallback(on_test_batch_end=lambda batch, logs: None)
    cbl = CallbackList([EpochOnly(), Recorder(), lam], add_history=True)
    assert [type(c).__name__ for c in cbl._listeners["on_train_batch_end"]] == ["Recorder"]
    assert cbl._listeners["on_test_batch_end"] == [lam]
    assert cbl._dispatch["on_train_batch_begin"] == []


def test_callback_list_defaults_and_errors():
    hist = History()
    cbl = CallbackList([hist], add_history=True, add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=1)
    assert cbl.history is hist and [type(c) for c in cbl.callbacks] == [History, ProgbarLogger]
    with pytest.raises(TypeError, match="pass an instance, not the class.*Received"):
        CallbackList([EarlyStopping])
    with pytest.raises(TypeError, match="Received: callbacks=3"):
        CallbackList(3)


def test_batch_logs_needed():
    model = FakeModel()
    quiet = CallbackList([], add_progbar=True, model=model, verbose=2, epochs=1, steps=10)
    quiet.on_train_begin()
    quiet.on_epoch_begin(0)
    assert not quiet.batch_logs_needed("train")
    # A checkpoint saved every epoch needs no batch logs; one saved every N batches does.
    assert not CallbackList([ModelCheckpoint("m.ferronet")], model=model).batch_logs_needed("train")
    assert CallbackList([ModelCheckpoint("m.ferronet", save_freq=5)], model=model).batch_logs_needed("train")
    listening = CallbackList([TerminateOnNaN()], model=model)
    assert listening.batch_logs_needed("train") and not listening.batch_logs_needed("test")
    with pytest.raises(ValueError, match="Received: mode='fit'"):
        listening.batch_logs_needed("fit")


def test_lambda_callback():
    seen = []
    cb = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch, logs["val_loss"])),
        on_train_end=lambda logs: seen.append(("end",)),
        on_batch_begin=lambda batch, logs: seen.append(("batch", batch)),
    )
    run_fit(FakeModel(), [cb], losses(0.3), steps=2)
    assert seen == [("batch", 0), ("batch", 1), ("epoch", 0, 0.3), ("end",)]
    with pytest.raises(TypeError, match="not hook names.*Received: on_epoch"):
        LambdaCallback(on_epoch=print)
    with pytest.raises(TypeError, match="must be callable. Received: on_epoch_end=3"):
        LambdaCallback(on_epoch_end=3)


# ----------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_patience_like_keras():
    stop = EarlyStopping(patience=2)
    history = run_fit(FakeModel(), [stop], losses(1.0, 0.9, 0.95, 0.96, 0.5, 0.4))
    assert len(history.history["loss"]) == 4 and stop.stopped_epoch == 3
    stop = EarlyStopping(patience=0)
    assert len(run_fit(FakeModel(), [stop], losses(1.0, 1.1, 0.5)).history["loss"]) == 2


def test_early_stopping_min_delta_mode_and_baseline():
    # Improvements smaller than min_delta do not count.
    stop = EarlyStopping(patience=1, min_delta=0.1)
    assert len(run_fit(FakeModel(), [stop], losses(1.0, 0.95, 0.92, 0.5)).history["loss"]) == 2
    # Accuracy goes up (mode='auto' from the name).
    stop = EarlyStopping(monitor="val_accuracy", patience=1)
    h = run_fit(FakeModel(), [stop], losses(0.5, 0.6, 0.7, 0.65, 0.64, 0.9, key="val_accuracy"))
    assert len(h.history["loss"]) == 4
    # Until the baseline is beaten the patience counter keeps running (Keras):
    # 2 epochs with a baseline, 3 without.
    assert len(run_fit(FakeModel(), [EarlyStopping(patience=2, baseline=0.1)], losses(0.5, 0.6, 0.7, 0.8)).history["loss"]) == 2
    assert len(run_fit(FakeModel(), [EarlyStopping(patience=2)], losses(0.5, 0.6, 0.7, 0.8)).history["loss"]) == 3
    # An improving epoch never stops training, baseline or not.
    assert len(run_fit(FakeModel(), [EarlyStopping(patience=2, baseline=0.1)], losses(0.5, 0.4, 0.3, 0.2)).history["loss"]) == 4


def test_early_stopping_direction_from_model_metrics():
    m = metrics.F1Score(average="macro", name="my_score")
    stop = EarlyStopping(monitor="val_my_score", patience=0)
    h = run_fit(FakeModel(metric_objects=[m]), [stop], losses(0.5, 0.6, 0.55, 0.7, key="val_my_score"))
    assert len(h.history["loss"]) == 3
    with pytest.raises(ValueError, match="cannot tell whether 'val_thing'.*mode='max'.*Received: monitor='val_thing'"):
        run_fit(FakeModel(), [EarlyStopping(monitor="val_thing")], losses(0.5, key="val_thing"))


def test_early_stopping_restores_best_weights_and_copies_them():
    model = FakeModel()
    stop = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    run_fit(model, [stop], losses(1.0, 0.5, 0.7, 0.8, 0.9))
    assert stop.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], np.full((2, 2), 1.0))  # epoch 1's weights


def test_early_stopping_start_from_epoch_and_missing_monitor():
    stop = EarlyStopping(monitor="loss", patience=0, start_from_epoch=3)
    h = run_fit(FakeModel(), [stop], [{"loss": v} for v in (1.0, 2.0, 3.0, 1.0, 2.0, 0.5)])
    assert len(h.history["loss"]) == 5
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs. Available keys: loss"):
        run_fit(FakeModel(), [EarlyStopping()], [{"loss": 1.0}])


def test_early_stopping_arguments():
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'. Received: mode='up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience must be a non-negative integer. Received: patience=-1"):
        EarlyStopping(patience=-1)


def test_early_stopping_messages(capsys):
    run_fit(FakeModel(), [EarlyStopping(patience=0, verbose=1, restore_best_weights=True)], losses(1.0, 2.0))
    assert capsys.readouterr().out == (
        "Epoch 2: early stopping\nRestoring model weights from the end of the best epoch: 1.\n"
    )


# ----------------------------------------------------------------------------- ModelCheckpoint


def test_model_checkpoint_formats_paths_and_saves_every_epoch(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.ferronet"))
    run_fit(model, [ckpt], losses(0.5, 0.25))
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["m-01-0.50.ferronet", "m-02-0.25.ferronet"]
    assert [kind for kind, _ in model.saved] == ["save", "save"]


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    path = tmp_path / "best-{epoch}.weights"
    ckpt = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True, save_weights_only=True, verbose=1)
    run_fit(model, [ckpt], losses(0.5, 0.7, 0.6, 0.8, key="val_accuracy"))
    assert [os.path.basename(p) for _, p in model.saved] == ["best-1.weights", "best-2.weights", "best-4.weights"]
    assert {kind for kind, _ in model.saved} == {"save_weights"}
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Epoch 1: val_accuracy improved from -inf to 0.50000, saving model to {tmp_path}/best-1.weights"
    assert out[1] == f"Epoch 1: finished saving model to {tmp_path}/best-1.weights"
    assert out[4] == "Epoch 3: val_accuracy did not improve from 0.70000"


def test_model_checkpoint_batch_frequency_and_errors(tmp_path):
    model = FakeModel()
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.ferronet"), save_freq=2)
    run_fit(model, [ckpt], losses(0.5, 0.4), steps=3)
    assert [os.path.basename(p) for _, p in model.saved] == ["e1-b2.ferronet", "e2-b1.ferronet", "e2-b3.ferronet"]
    with pytest.raises(KeyError, match="uses 'val_acc' but the logs have no such key"):
        run_fit(FakeModel(), [ModelCheckpoint(str(tmp_path / "{val_acc}.ferronet"))], losses(0.5))
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer. Received: save_freq='batch'"):
        ModelCheckpoint("m.ferronet", save_freq="batch")


# ----------------------------------------------------------------------------- learning rate


def test_learning_rate_scheduler_two_and_one_argument_forms():
    model = FakeModel(learning_rate=0.1)
    sched = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
    h = run_fit(model, [sched], losses(1, 1, 1, 1))
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    model = FakeModel()
    run_fit(model, [LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))], losses(1, 1, 1))
    assert model.optimizer.learning_rate == pytest.approx(0.03)


def test_learning_rate_scheduler_errors(capsys):
    with pytest.raises(ValueError, match="must return a float. Received: 'fast' at epoch=0"):
        run_fit(FakeModel(), [LearningRateScheduler(lambda e, lr: "fast")], losses(1))
    with pytest.raises(ValueError, match="finite number >= 0. Received: learning_rate=-0.1"):
        run_fit(FakeModel(), [LearningRateScheduler(lambda e, lr: -0.1)], losses(1))

    class Schedule:
        def __call__(self, step):
            return 0.1

    model = FakeModel()
    model.optimizer.learning_rate = Schedule()
    with pytest.raises(TypeError, match="uses a schedule object.*Received: learning_rate=<"):
        run_fit(model, [LearningRateScheduler(lambda e, lr: lr)], losses(1))
    run_fit(FakeModel(), [LearningRateScheduler(lambda e, lr: 0.5, verbose=1)], losses(1))
    assert capsys.readouterr().out == "Epoch 1: LearningRateScheduler setting learning rate to 0.5.\n"


def test_reduce_lr_on_plateau():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.2)
    h = run_fit(model, [cb], losses(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0))
    # Reductions after epochs 2, 4 and 6 (0-based), floored at min_lr.
    assert h.history["learning_rate"] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2])
    assert model.optimizer.learning_rate == pytest.approx(0.2)


def test_reduce_lr_on_plateau_cooldown_and_min_delta():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_delta=0.01)
    h = run_fit(model, [cb], losses(1.0, 0.995, 0.99, 0.99, 0.99, 0.99))
    assert h.history["learning_rate"] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\). Received: factor=1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(TypeError, match="Received: patients"):
        ReduceLROnPlateau(patients=3)


# ----------------------------------------------------------------------------- CSVLogger, TerminateOnNaN


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    run_fit(FakeModel(), [CSVLogger(path)], [{"loss": 0.5, "val_loss": 0.6}, {"loss": 0.25, "val_loss": 0.3}])
    run_fit(FakeModel(), [CSVLogger(path, append=True)], [{"val_loss": 0.2, "loss": 0.125, "extra": 1}])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "loss", "val_loss"], ["0", "0.5", "0.6"], ["1", "0.25", "0.3"], ["0", "0.125", "0.2"]]
    run_fit(FakeModel(), [CSVLogger(path, separator=";")], [{"loss": 1.0, "f1": np.array([0.5, 1.0])}, {"loss": 2.0}])
    assert path.read_text().splitlines() == ["epoch;f1;loss", "0;[0.5, 1.0];1.0", "1;NA;2.0"]


def test_terminate_on_nan(capsys):
    model = FakeModel()
    h = run_fit(
        model,
        [TerminateOnNaN()],
        losses(1.0, 1.0, 1.0),
        steps=5,
        batch_logs=lambda epoch, step: {"loss": math.nan if (epoch, step) == (1, 2) else 1.0},
    )
    assert model.stop_training and len(h.history["loss"]) == 2
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"


# ----------------------------------------------------------------------------- ProgbarLogger


def running_logs(epoch, step):
    return {"loss": 1.0 / (epoch + step + 1), "accuracy": 0.5}


def test_progbar_logger_one_line_per_epoch_when_redirected(capsys):
    epochs = [{"loss": 0.5, "accuracy": 0.75, "val_loss": 0.6, "val_accuracy": 0.7}] * 3
    run_fit(FakeModel(), [], epochs, steps=20, verbose=1, batch_logs=running_logs)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {i}/3 - 20/20 - 0s - ")
        assert line.endswith("- loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.6000 - val_accuracy: 0.7000")
        assert "\r" not in line and "\b" not in line


@pytest.mark.parametrize("verbose", [2, "auto"])
def test_progbar_logger_verbose_2_and_auto(capsys, verbose):
    cbl = CallbackList([], add_progbar=True, model=FakeModel(), verbose=verbose, epochs=1, steps=4)
    cbl.on_train_begin()
    cbl.on_epoch_begin(0)
    for step in range(4):
        cbl.on_train_batch_end(step, {"loss": 0.1})
    cbl.on_epoch_end(0, {"loss": 0.1})
    cbl.on_train_end()
    assert capsys.readouterr().out.splitlines()[0].startswith("4/4 - 0s - ")


def test_progbar_logger_live_in_a_terminal(monkeypatch):
    class FakeTTY(io.StringIO):
        def isatty(self):
            return True

    out = FakeTTY()
    monkeypatch.setattr("sys.stdout", out)
    epochs = [{"loss": 0.5, "val_loss": 0.6}] * 2
    run_fit(FakeModel(), [], epochs, steps=50, verbose=1, batch_logs=lambda e, s: {"loss": 0.5})
    shown = [line.split("\r")[-1].rstrip() for line in out.getvalue().split("\n")]
    assert shown[0] == "Epoch 1/2"
    assert shown[1].startswith("50/50 [==============================] - 0s ")
    assert shown[1].endswith("- loss: 0.5000 - val_loss: 0.6000")
    assert shown[2] == "Epoch 2/2"
    assert "\r 1/50 [" in out.getvalue()  # the first step is drawn live


def test_progbar_logger_evaluate_and_predict(capsys):
    cbl = CallbackList([], add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=3)
    cbl.on_test_begin()
    for step in range(3):
        cbl.on_test_batch_end(step, {"loss": 0.2, "accuracy": 0.9})
    cbl.on_test_end({"loss": 0.2, "accuracy": 0.9})
    cbl.on_predict_begin()
    for step in range(3):
        cbl.on_predict_batch_end(step, {"outputs": np.zeros(3)})
    cbl.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3/3 - 0s - ") and lines[0].endswith("- loss: 0.2000 - accuracy: 0.9000")
    assert lines[1].startswith("3/3 - 0s - ") and lines[1].endswith("/step")


def test_validation_inside_fit_is_not_printed_separately(capsys):
    model = FakeModel()
    cbl = CallbackList([], add_history=True, add_progbar=True, model=model, verbose=1, epochs=1, steps=2)
    cbl.on_train_begin()
    cbl.on_epoch_begin(0)
    for step in range(2):
        cbl.on_train_batch_end(step, {"loss": 0.3})
    cbl.on_test_begin()
    cbl.on_test_batch_end(0, {"loss": 0.4})
    cbl.on_test_end({"loss": 0.4})
    cbl.on_epoch_end(0, {"loss": 0.3, "val_loss": 0.4})
    cbl.on_train_end()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].endswith("- loss: 0.3000 - val_loss: 0.4000")


def test_exports():
    assert set(callbacks.__all__) >= {
        "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
        "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN",
        "BackupAndRestore", "TensorBoard",
    }
