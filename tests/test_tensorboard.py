"""TensorBoard callback: event files written during fit, read back with TensorBoard's own reader."""

import os
import sys

import numpy as np
import pytest

import ferronet
from ferronet import layers
from ferronet.callbacks import TensorBoard

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def make_model():
    ferronet.utils.set_random_seed(0)
    model = ferronet.Sequential([ferronet.Input((3,)), layers.Dense(4, activation="relu", name="hidden"),
                                 layers.Dense(1, name="out")])
    model.compile(optimizer=ferronet.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model


def data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) ** 2).astype("float32")


def test_epoch_scalars_go_to_train_and_validation_like_keras(tmp_path):
    x, y = data()
    model = make_model()
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[TensorBoard(log_dir=tmp_path)])
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_mae", "epoch_learning_rate"}
    for key in ("loss", "mae"):
        steps, values = zip(*scalars(train, f"epoch_{key}"))
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, history.history[key], rtol=1e-6)
        steps, values = zip(*scalars(val, f"epoch_{key}"))
        np.testing.assert_allclose(values, history.history[f"val_{key}"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in scalars(train, "epoch_learning_rate")], [0.05] * 3, rtol=1e-6)
    # validation inside fit is an evaluation at the optimizer's iteration count (3 batches per epoch)
    assert [s for s, _ in scalars(val, "evaluation_loss_vs_iterations")] == [4, 8, 12]
    np.testing.assert_allclose([v for _, v in scalars(val, "evaluation_loss_vs_iterations")],
                               history.history["val_loss"], rtol=1e-6)
    assert train.Tags()["histograms"] == [] and train.Tags()["graph"]
    assert [n.op for n in train.Graph().node] == ["Dense", "Dense"]
    assert list(train.Graph().node[1].input) == ["hidden"]


@pytest.mark.parametrize("update_freq, steps", [("batch", list(range(1, 11))), (3, [3, 6, 9])])
def test_batch_scalars(tmp_path, update_freq, steps):
    x, y = data()
    logged = []

    class Spy(ferronet.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            logged.append(logs["loss"])

    make_model().fit(x, y, batch_size=8, epochs=2, verbose=0,
                     callbacks=[Spy(), TensorBoard(log_dir=tmp_path, update_freq=update_freq)])
    train = read(tmp_path / "train")
    got = scalars(train, "batch_loss")
    assert [s for s, _ in got] == steps
    np.testing.assert_allclose([v for _, v in got], [logged[s - 1] for s in steps], rtol=1e-6)
    assert [s for s, _ in scalars(train, "epoch_loss")] == [0, 1]
    assert not os.path.exists(tmp_path / "validation")


def test_weight_histograms_and_images_every_histogram_freq_epochs(tmp_path):
    x, y = data()
    model = make_model()
    weights_at = {}

    class Record(ferronet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights_at[epoch] = np.array(self.model.get_layer("hidden").get_weights()[0])

    model.fit(x, y, batch_size=8, epochs=5, verbose=0,
              callbacks=[Record(), TensorBoard(log_dir=tmp_path, histogram_freq=2, write_images=True,
                                               write_graph=False)])
    train = read(tmp_path / "train")
    assert set(train.Tags()["histograms"]) == {"hidden/kernel/histogram", "hidden/bias/histogram",
                                               "out/kernel/histogram", "out/bias/histogram"}
    events = train.Histograms("hidden/kernel/histogram")
    assert [e.step for e in events] == [0, 2, 4]
    for e in events:
        h, w = e.histogram_value, weights_at[e.step]
        assert h.num == w.size
        np.testing.assert_allclose([h.min, h.max, h.sum], [w.min(), w.max(), w.sum()], rtol=1e-5, atol=1e-6)
    image = train.Images("hidden/kernel/image")[0]
    assert (image.height, image.width) == (3, 4)  # the (3, 4) kernel, wide side horizontal
    assert not train.Tags()["graph"]


def test_steps_per_second_and_functional_graph(tmp_path):
    inputs = ferronet.Input((3,))
    a = layers.Dense(2, name="a")(inputs)
    b = layers.Dense(2, name="b")(inputs)
    out = layers.Dense(1, name="head")(layers.Concatenate(name="join")([a, b]))
    model = ferronet.Model(inputs, out)
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, callbacks=[TensorBoard(tmp_path, write_steps_per_second=True)])
    train = read(tmp_path / "train")
    assert {"batch_steps_per_second", "epoch_steps_per_second"} <= set(train.Tags()["scalars"])
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))
    graph = {n.name: (n.op, list(n.input)) for n in train.Graph().node}
    assert graph["join"] == ("Concatenate", ["a", "b"]) and graph["head"] == ("Dense", ["join"])
    assert graph["a"][1] == graph["b"][1] and graph[graph["a"][1][0]][0] == "InputLayer"


def test_evaluate_alone_writes_evaluation_scalars(tmp_path):
    x, y = data()
    model = make_model()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    result = model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[TensorBoard(tmp_path)])
    val = read(tmp_path / "validation")
    np.testing.assert_allclose(scalars(val, "evaluation_mae_vs_iterations"), [(5, result["mae"])], rtol=1e-6)


def test_arguments_and_missing_extra(monkeypatch):
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch' or a positive integer. Received: "
                                         "update_freq='step'"):
        TensorBoard(update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq must be an integer >= 0. Received: histogram_freq=-1"):
        TensorBoard(histogram_freq=-1)
    with pytest.raises(ValueError, match="profile_batch=0.*Received: profile_batch=5"):
        TensorBoard(profile_batch=5)
    with pytest.raises(ValueError, match="embeddings_freq=0. Received: embeddings_freq=1"):
        TensorBoard(embeddings_freq=1)
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'ferronet\[tensorboard\]'"):
        TensorBoard()


def test_subclassed_model_writes_scalars_but_no_graph(tmp_path):
    class TwoLayers(ferronet.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(4, activation="relu")
            self.b = layers.Dense(1)

        def call(self, x):
            return self.b(self.a(x))

    model = TwoLayers()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    model.fit(x, y, batch_size=20, epochs=2, verbose=0, callbacks=[TensorBoard(tmp_path, histogram_freq=1)])
    train = read(tmp_path / "train")
    assert not train.Tags()["graph"] and [s for s, _ in scalars(train, "epoch_loss")] == [0, 1]
    assert len(train.Tags()["histograms"]) == 4
