"""Sequential models: building, fit/evaluate/predict semantics, label checks, classic problems, speed hygiene."""

import os
import signal
import tracemalloc
import warnings

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers


def mlp(n_in, n_out, hidden=16, act="softmax", **kw):
    return fn.Sequential([fn.Input((n_in,)), layers.Dense(hidden, activation="relu", **kw),
                          layers.Dense(n_out, activation=act, **kw)])


def blobs(rng, n=240, c=3, d=4):
    centers = rng.normal(size=(c, d)) * 3
    y = rng.integers(0, c, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


# ------------------------------------------------------------------ classic problems
def test_logistic_regression_learns_nand():
    fn.utils.set_random_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([1, 1, 1, 0], np.float32)
    model = fn.Sequential([fn.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fn.optimizers.SGD(learning_rate=1.0), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    np.testing.assert_array_equal((model.predict(x, verbose=0)[:, 0] > 0.5).astype(int), y)


def test_mlp_learns_xor():
    fn.utils.set_random_seed(1)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    model = fn.Sequential([fn.Input((2,)), layers.Dense(8, activation="tanh"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fn.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == 1.0 and loss < 0.1


@pytest.fixture(scope="module")
def digits():
    import sklearn.datasets  # in the test extra: a missing one must fail, not skip

    sklearn = sklearn.datasets
    d = sklearn.load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def test_mlp_digits_97(digits):
    (xtr, ytr), (xte, yte) = digits
    fn.utils.set_random_seed(2)
    model = fn.Sequential([layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.1),
                           layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=30, batch_size=32, verbose=0)
    assert model.evaluate(xte, yte, verbose=0)[1] >= 0.97


def test_cnn_digits_97(digits):
    (xtr, ytr), (xte, yte) = digits
    fn.utils.set_random_seed(3)
    model = fn.Sequential([
        fn.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=fn.optimizers.Adam(0.003), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr[..., None], fn.utils.to_categorical(ytr, 10), epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(xte[..., None], fn.utils.to_categorical(yte, 10), verbose=0)[1] >= 0.97


# ------------------------------------------------------------------ building and calling
def test_lazy_build_and_input_shape_legacy(rng):
    model = fn.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built
    out = model(rng.normal(size=(3, 5)))
    assert model.built and out.shape == (3, 2) and model.layers[0].kernel.shape == (5, 4)
    legacy = fn.Sequential([layers.Dense(4, input_shape=(7,)), layers.Dense(1)])
    assert legacy.built and legacy.output_shape == (None, 1)
    added = fn.Sequential()
    added.add(fn.Input(shape=(3,)))
    added.add(layers.Dense(2))
    assert added.layers[0].built


def test_model_errors(rng):
    model = mlp(4, 3)
    with pytest.raises(ValueError, match=r'expects inputs of shape \(None, 4\). Received: (x.shape=|input shape )\(2, 5\)'):
        model(rng.normal(size=(2, 5)))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(rng.normal(size=(4, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="unique names"):
        fn.Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")])
    with pytest.raises(TypeError, match=r"pass an instance"):
        fn.Sequential([layers.Dense])


def test_call_is_fresh_and_matches_predict(rng):
    model = mlp(4, 3)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    a = model(x)
    b = model(x * 2)
    assert not np.shares_memory(a, b)
    np.testing.assert_allclose(model.predict(x, verbose=0, batch_size=2), a, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), a, rtol=1e-6)
    assert model(x[:1]).shape == (1, 3)


# ------------------------------------------------------------------ label validation
@pytest.mark.parametrize("loss,y,match", [
    ("sparse_categorical_crossentropy", np.array([0, 1, 3, 2]), r"class ids in \[0, 3\).*Received: class id 3"),
    ("sparse_categorical_crossentropy", np.array([0, 1, -1, 2]), r"Received: class id -1"),
    ("sparse_categorical_crossentropy", np.array([0.5, 1, 1, 2]), r"integer class ids"),
    ("sparse_categorical_crossentropy", np.eye(3)[[0, 1, 2, 0]], r"looks one-hot"),
    ("categorical_crossentropy", np.eye(4)[[0, 1, 2, 0]], r"one-hot labels of width 3.*Received: y.shape=\(4, 4\)"),
    ("categorical_crossentropy", np.array([0, 1, 2, 0]), r"look like class ids.*sparse_categorical_crossentropy"),
    ("sparse_categorical_crossentropy", np.array([0, 1, np.nan, 2]), r"y contains NaN"),
    ("mse", np.ones((4, 2)), r"shaped like the model's outputs \(None, 3\). Received: y.shape=\(4, 2\)"),
])
def test_labels_checked_before_training(loss, y, match, rng):
    model = mlp(2, 3)
    model.compile(optimizer="sgd", loss=loss)
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(rng.normal(size=(4, 2)), y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_nan_inputs_and_lengths(rng):
    model = mlp(2, 3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(4, 2))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN.*Received: x\[2, 1\]=nan"):
        model.fit(x, np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="same number of samples.*x with 4.*y with 3"):
        model.fit(rng.normal(size=(4, 2)), np.zeros(3), verbose=0)
    with pytest.raises(ValueError, match="binary_crossentropy expects targets in \\[0, 1\\]"):
        m = mlp(2, 1, act="sigmoid")
        m.compile(optimizer="sgd", loss="binary_crossentropy")
        m.fit(rng.normal(size=(4, 2)), np.array([0, 1, 2, 1]), verbose=0)


def test_nan_loss_is_reported(rng):
    def diverging():
        model = mlp(2, 3)
        model.compile(optimizer=fn.optimizers.SGD(learning_rate=1e30), loss="sparse_categorical_crossentropy")
        return model

    x, y = rng.normal(size=(64, 2)) * 1e10, rng.integers(0, 3, 64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        diverging().fit(x, y, epochs=3, verbose=0)
    assert sum("The loss became nan" in str(w.message) for w in caught) == 1  # once per fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = diverging().fit(x, y, epochs=3, verbose=0, callbacks=[fn.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1


# ------------------------------------------------------------------ fit arguments
def test_fit_history_keys_and_validation(rng):
    x, y = blobs(rng)
    model = mlp(4, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 for v in h.history.values()) and h.epoch == [0, 1, 2]
    assert model.history is h
    h2 = model.fit(x, y, epochs=4, initial_epoch=2, validation_data=(x[:20], y[:20]), verbose=0)
    assert h2.epoch == [2, 3]
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(res) == {"loss", "accuracy"}


def test_validation_split_takes_tail_before_shuffle_and_warns(rng):
    x = rng.normal(size=(100, 4)).astype(np.float32)
    y = np.r_[rng.integers(0, 2, 80), np.ones(20, int) * 2]
    model = mlp(4, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seen = []

    class Spy(fn.callbacks.Callback):
        def on_test_begin(self, logs=None):
            seen.append(True)

    with pytest.warns(UserWarning, match="last 20 samples.*all belong to class 2"):
        h = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0, callbacks=[Spy()])
    assert seen
    # The tail holds only class 2, so validation accuracy equals the fraction predicted as 2.
    pred = model.predict(x[80:], verbose=0).argmax(-1)
    assert h.history["val_accuracy"][0] == pytest.approx(np.mean(pred == 2))


def test_class_weight_and_sample_weight_equivalent(rng):
    x, y = blobs(rng, n=64)
    fn.utils.set_random_seed(5)
    a = mlp(4, 3)
    b = fn.Sequential.from_config(a.get_config())
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=fn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    a.fit(x, y, epochs=2, batch_size=16, shuffle=False, class_weight=cw, verbose=0)
    b.fit(x, y, epochs=2, batch_size=16, shuffle=False, sample_weight=np.array([cw[i] for i in y]), verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_reproducible_with_seed_in_any_thread_count(rng):
    x, y = blobs(rng)
    results = []
    threads = fn.get_num_threads()
    try:
        for n_threads in (1, 2, 1):
            fn.set_num_threads(n_threads)
            fn.utils.set_random_seed(42)
            model = fn.Sequential([fn.Input((4,)), layers.Dense(32, activation="relu"), layers.Dropout(0.3),
                                   layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, epochs=2, batch_size=16, verbose=0)
            results.append(model.get_weights())
    finally:
        fn.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_train_and_test_on_batch(rng):
    x, y = blobs(rng, n=32)
    model = mlp(4, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    res = model.test_on_batch(x, y, return_dict=True)
    assert set(res) == {"loss", "accuracy"}


def test_ctrl_c_stops_cleanly_between_batches(rng):
    x, y = blobs(rng, n=320)
    model = mlp(4, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class CtrlC(fn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params and batch == 3 and len(self.model.history.history.get("loss", [])) == 1:
                os.kill(os.getpid(), signal.SIGINT)

    model.history = fn.callbacks.History()
    h = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[CtrlC()])
    assert len(h.history["loss"]) == 1  # the interrupted second epoch is not recorded
    assert model.stop_training
    assert np.all(np.isfinite(model.predict(x, verbose=0)))
    model.fit(x, y, epochs=1, verbose=0)  # still trainable
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_steady_state_training_allocates_nothing(rng):
    x = rng.normal(size=(1000, 64)).astype(np.float32)
    y = rng.integers(0, 10, 1000)
    model = fn.Sequential([fn.Input((64,)), layers.Dense(256, activation="relu"), layers.Dropout(0.2),
                           layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=96, verbose=0)  # warm: buffers for 96 and the last 40
    c = model._step_cache()
    fx = fn.models.data.Feeder(x, np.float32)
    fy = fn.models.data.Feeder(y, np.int64)
    idx = np.arange(96)
    model._train_step(c, fx.batch(0, 96, idx), fy.batch(0, 96, idx), None, fy.batch(0, 96, idx))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            xb, yb = fx.batch(0, 96, idx), fy.batch(0, 96, idx)
            model._train_step(c, xb, yb, None, yb)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # One activation buffer is 96 * 256 * 4 = 98 KB: steady state must stay far below that.
    assert peak < 20_000, peak


def test_last_partial_batch_reuses_its_buffers(rng):
    x = rng.normal(size=(1000, 16)).astype(np.float32)
    y = rng.integers(0, 4, 1000)
    model = fn.Sequential([fn.Input((16,)), layers.Dense(32, activation="relu"), layers.Dropout(0.1),
                           layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=96, verbose=0)  # 10 full batches and a partial one of 40

    def buffers():
        return {(nd.layer.name, key): id(buf) for nd in model._plan().nodes if nd.state is not None
                for key, buf in nd.state.buffers().items()}

    before = buffers()
    assert any(key[1][1][0] == 40 for key in before) and any(key[1][1][0] == 96 for key in before)
    model.fit(x, y, epochs=2, batch_size=96, verbose=0)
    assert buffers() == before
    for state in model._plan().states():
        names = [k[0] for k in state.buffers()]
        assert all(names.count(n) <= 2 for n in names)


def test_full_batch_buffers_survive_other_partial_batches(rng):
    x = rng.normal(size=(1000, 16)).astype(np.float32)
    y = rng.integers(0, 4, 1000)
    model = fn.Sequential([fn.Input((16,)), layers.Dense(32, activation="relu"), layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # 900 training rows (partial batch 36), 100 validation rows (partial batch 4).
    model.fit(x, y, epochs=1, batch_size=96, validation_split=0.1, verbose=0)
    def held():
        return [(key, buf) for st in model._plan().states() for key, buf in st.buffers().items()]

    full = {id(buf) for (name, shape), buf in held() if shape[0] == 96}
    model.fit(x, y, epochs=2, batch_size=96, validation_split=0.1, verbose=0)
    model.predict(x[:7], verbose=0)
    assert full and full <= {id(buf) for key, buf in held()}


def test_big_direct_call_does_not_evict_training_buffers_for_good(rng):
    x = rng.normal(size=(1000, 16)).astype(np.float32)
    y = rng.integers(0, 4, 1000)
    model = fn.Sequential([fn.Input((16,)), layers.Dense(32, activation="relu"), layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=96, verbose=0)
    held = lambda: [(key, buf) for st in model._plan().states() for key, buf in st.buffers().items()]  # noqa: E731
    full = {id(buf) for (name, shape), buf in held() if shape[0] == 96}
    model(x)  # 1000 rows at once: its buffers are not kept
    assert not any(shape[0] == 1000 for (name, shape), _ in held())
    model.fit(x, y, epochs=1, batch_size=96, verbose=0)
    assert full <= {id(buf) for _, buf in held()}


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_linear_regression_recovers_weights(loss, rng):
    x = rng.normal(size=(512, 3)).astype(np.float32)
    y = x @ np.array([2.0, -1.0, 0.5]) + 1.0
    model = fn.Sequential([fn.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=fn.optimizers.Adam(0.05), loss=loss)
    model.fit(x, y, epochs=40, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    np.testing.assert_allclose(kernel.ravel(), [2.0, -1.0, 0.5], atol=0.05)
    np.testing.assert_allclose(bias, [1.0], atol=0.05)


@pytest.mark.parametrize("loss,labels", [("hinge", "binary"), ("multiclass_hinge", "ids"),
                                         ("categorical_hinge", "onehot")])
def test_svm_losses_train(loss, labels, rng):
    x, ids = blobs(rng, n=300)
    y = {"binary": (ids == 0).astype(int), "ids": ids, "onehot": np.eye(3)[ids]}[labels]
    units = 1 if labels == "binary" else 3
    fn.utils.set_random_seed(0)
    model = fn.Sequential([fn.Input((4,)), layers.Dense(units)])
    model.compile(optimizer=fn.optimizers.Adam(0.05), loss=loss, metrics=["accuracy"])
    h = model.fit(x, y, epochs=20, verbose=0)
    assert h.history["accuracy"][-1] > 0.9


def test_threads_sharing_one_model_get_their_own_answers(rng):
    """Layers keep their activations in buffers of the model: concurrent calls must take turns."""
    from concurrent.futures import ThreadPoolExecutor

    model = fn.Sequential([fn.Input((20,)), fn.layers.Dense(64, activation="relu"), fn.layers.Dense(5)])
    inputs = [rng.standard_normal((200, 20)).astype(np.float32) for _ in range(8)]
    want_predict = [model.predict(x, batch_size=16, verbose=0) for x in inputs]
    want_call = [model(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda x: model.predict(x, batch_size=16, verbose=0), inputs))
            for g, w in zip(got, want_predict):
                np.testing.assert_array_equal(g, w)
            got = list(pool.map(model, inputs))
            for g, w in zip(got, want_call):
                np.testing.assert_array_equal(g, w)


def _mlp(seed=0):
    fn.utils.set_random_seed(seed)
    model = fn.Sequential([fn.Input((6,)), fn.layers.Dense(8, activation="relu"), fn.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _Batches(fn.keras.utils.PyDataset):
    """A dataset as Keras programs write one: len() batches, batch i by index."""

    def __init__(self, x, y, batch):
        super().__init__()
        self.x, self.y, self.batch, self.epochs_ended = x, y, batch, 0

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        s = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_evaluate_predict_on_batch_sources_equal_the_array_path(rng):
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    ref = _mlp()
    hist_ref = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(x[:32], y[:32]))

    def forever():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    gen_model = _mlp()
    hist_gen = gen_model.fit(forever(), steps_per_epoch=4, epochs=2, verbose=0,
                             validation_data=_Batches(x[:32], y[:32], 16))
    data = _Batches(x, y, 16)
    ds_model = _mlp()
    ds_model.fit(data, epochs=2, verbose=0)
    assert data.epochs_ended == 2
    for m in (gen_model, ds_model):
        for a, b in zip(ref.get_weights(), m.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert hist_gen.history["val_loss"] == pytest.approx(hist_ref.history["val_loss"], rel=1e-6)
    assert ref.evaluate(data, verbose=0) == pytest.approx(ref.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    np.testing.assert_array_equal(ref.predict(data, verbose=0), ref.predict(x, batch_size=16, verbose=0))


def test_batch_source_errors_are_clear(rng):
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = _mlp()
    gen = ((x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8))
    with pytest.raises(ValueError, match="steps_per_epoch is required when the data is a generator"):
        model.fit(gen, verbose=0)
    with pytest.raises(ValueError, match="y, sample_weight and validation_split must not be given"):
        model.fit(_Batches(x, y, 8), y, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        model.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.warns(UserWarning, match="ran out after 4 of 6 batches"):
        model.fit(((x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)), steps_per_epoch=6, verbose=0)
    with pytest.raises(ValueError, match=r"must yield \(x, y\) or \(x, y, sample_weight\) batches"):
        model.fit(iter([x[:8]]), steps_per_epoch=1, verbose=0)
    with pytest.raises(NotImplementedError, match="must define __len__"):
        model.fit(fn.utils.PyDataset(), verbose=0)
    with pytest.warns(UserWarning, match="workers=4 and use_multiprocessing=False are not used"):
        fn.utils.PyDataset(workers=4)
    bad = iter([(x[:8], np.full(8, 5))])
    with pytest.raises(ValueError, match="class id"):
        model.fit(bad, steps_per_epoch=1, verbose=0)


def test_steps_per_epoch_with_arrays_continues_where_the_last_epoch_stopped():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.zeros((20, 1), np.float32)
    model = fn.Sequential([fn.Input((2,)), fn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []

    class Record(fn.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    history = model.fit(x, y, batch_size=8, epochs=3, steps_per_epoch=2, shuffle=False, verbose=0,
                        callbacks=[Record()])
    assert len(history.history["loss"]) == 3 and seen == [0, 1] * 3


def test_one_dimensional_x_for_a_one_feature_model_and_dense_on_images_hint():
    model = fn.Sequential([fn.Input((1,)), fn.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.linspace(0, 1, 8, dtype=np.float32), np.zeros(8, np.float32), verbose=0)
    images = fn.Sequential([fn.Input((6, 6)), fn.layers.Dense(3, activation="softmax")])
    images.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(fn.ShapeError, match="Add a Flatten"):
        images.fit(np.zeros((4, 6, 6), np.float32), np.zeros(4), verbose=0)
    one = fn.Sequential([fn.Input((2,)), fn.layers.Dense(1, activation="sigmoid")])
    one.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.warns(UserWarning, match="always zero"):
        one.fit(np.zeros((4, 2), np.float32), np.ones((4, 1), np.float32), verbose=0)
    assert fn.Sequential(name="").name.startswith("sequential")  # an automatic name, as in Keras 3
def test_a_missing_kernel_fails_the_test_instead_of_skipping():
    from .kernels import require_kernels

    require_kernels("relu", "linear")
    with pytest.raises(pytest.fail.Exception, match="core kernels missing from this build: no_such_kernel"):
        require_kernels("relu", "no_such_kernel")
