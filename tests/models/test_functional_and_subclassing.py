"""Functional API, subclassed models, custom train steps and losses, layers on the tape.

Gradients of layers called on tensors are checked against float64 central
differences; the Keras guides' programs run with only the import changed.
"""

import numpy as np
import pytest

import ferronet as fn
import ferronet as tf  # the way ported TensorFlow programs import it
from ferronet import layers

RNG = np.random.default_rng(0)


def _central(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(3, activation="tanh", dtype="float64"),
    lambda: layers.Conv2D(2, 3, padding="same", activation="relu", dtype="float64"),
    lambda: layers.MaxPooling2D(2, dtype="float64"),
    lambda: layers.AveragePooling2D(2, padding="same", dtype="float64"),
    lambda: layers.BatchNormalization(dtype="float64"),
    lambda: layers.GlobalAveragePooling2D(dtype="float64"),
    lambda: layers.Softmax(dtype="float64"),
])
def test_layer_input_and_weight_gradients_match_central_differences(make):
    layer = make()
    shape = (2, 3) if isinstance(layer, (layers.Dense, layers.Softmax)) else (2, 4, 4, 2)
    x = RNG.standard_normal(shape)
    probe = RNG.standard_normal(np.shape(np.asarray(layer(x, training=True))))

    def loss_of(xv):
        return float(np.sum(np.asarray(layer(xv, training=True)) * probe))

    xt = fn.constant(x)
    with fn.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=True)
        loss = fn.reduce_sum(out * probe)
    gx, *gw = tape.gradient(loss, [xt] + layer.trainable_weights)
    np.testing.assert_allclose(gx.numpy(), _central(loss_of, x), rtol=1e-5, atol=1e-6)
    for v, g in zip(layer.trainable_weights, gw):
        base = v.numpy()

        def loss_w(wv, v=v):
            v.assign(wv)
            try:
                return loss_of(x)
            finally:
                v.assign(base)

        np.testing.assert_allclose(g.numpy(), _central(loss_w, base), rtol=1e-5, atol=1e-6)


def test_second_derivative_through_a_dense_tanh_stack():
    model = fn.Sequential([layers.Dense(8, activation="tanh", dtype="float64"), layers.Dense(1, dtype="float64")])
    x = fn.constant(RNG.standard_normal((5, 1)))
    model(x)

    def u_x(xv):
        xt = fn.constant(xv)
        with fn.GradientTape() as t:
            t.watch(xt)
            u = model(xt)
        return t.gradient(u, xt).numpy()

    with fn.GradientTape() as outer:
        outer.watch(x)
        with fn.GradientTape() as inner:
            inner.watch(x)
            u = model(x)
        ux = inner.gradient(u, x)
    uxx = outer.gradient(ux, x).numpy()
    eps = 1e-5
    ref = (u_x(x.numpy() + eps) - u_x(x.numpy() - eps)) / (2 * eps)
    np.testing.assert_allclose(uxx, ref, rtol=1e-5, atol=1e-7)


def test_functional_model_with_shared_layer_merge_and_nested_model():
    inputs = fn.Input((6,), name="features")
    shared = layers.Dense(6, activation="relu")
    a = shared(inputs)
    b = shared(a)  # one layer called twice
    encoder = fn.Model(inputs, layers.Concatenate()([a, b]), name="encoder")
    outer_in = fn.Input((6,))
    out = layers.Dense(1, activation="sigmoid")(layers.add([encoder(outer_in)[:, :6], outer_in]))
    model = fn.Model(outer_in, out)
    x = RNG.standard_normal((32, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    assert model.output_shape == (None, 1)
    assert len(shared._inbound_nodes) == 2
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x)), rtol=1e-6)


def test_functional_config_round_trip_rebuilds_the_same_function():
    i = fn.Input((4,))
    h = layers.Dense(5, activation="relu")(i)
    o = layers.Dense(2)(layers.Concatenate()([h, i]))
    model = fn.Model(i, o)
    clone = fn.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(clone(x)))


def test_graph_errors_name_the_problem():
    a, b = fn.Input((3,)), fn.Input((3,))
    out = layers.Dense(1)(b)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        fn.Model(a, out)
    with pytest.raises(fn.ShapeError, match="Concatenate"):
        layers.Concatenate(axis=1)([fn.Input((3, 2)), fn.Input((4, 5))])
    with pytest.raises(ValueError, match="listed twice"):
        fn.Model([a, a], out)


def test_unknown_sizes_stay_unknown_and_take_any_size(capsys):
    """Input((None, c)) sequences and (None, None, c) images: Keras' shapes, any size at run time."""
    seq = fn.Input((None, 3))
    conv = layers.Conv1D(4, 3)(seq)  # needs 3 steps: a stand-in of one step would fail
    assert conv.shape == (None, None, 4)
    assert layers.LSTM(2)(conv).shape == (None, 2)
    assert layers.GlobalMaxPooling1D()(conv).shape == (None, 4)
    model = fn.Model(seq, layers.Dense(1)(layers.GlobalAveragePooling1D()(conv)))
    for steps in (3, 7, 50):
        assert model.predict(np.ones((2, steps, 3)), verbose=0).shape == (2, 1)
    image = fn.Input((None, None, 1))
    x = layers.Conv2D(4, 3, padding="same")(image)
    up = layers.UpSampling2D()(layers.MaxPooling2D()(x))
    merged = layers.Concatenate()([x, up])  # a U-Net's skip connection: stand-ins must survive the round trip
    unet = fn.Model(image, layers.Conv2D(1, 1)(merged))
    assert unet.output_shape == (None, None, None, 1)
    assert unet.predict(np.zeros((1, 16, 24, 1)), verbose=0).shape == (1, 16, 24, 1)
    unet.summary()
    assert "(None, None, None, 8)" in capsys.readouterr().out  # the graph's shapes, not the last call's
    tokens = fn.Input((None,), dtype="int32")
    assert layers.Embedding(10, 4)(tokens).shape == (None, None, 4)
    assert layers.Dense(2)(fn.Input((5, 3))).shape == (None, 5, 2)  # known sizes stay known
    with pytest.raises(fn.ShapeError, match=r"cannot take its symbolic inputs of shapes \[\(None, None\)\]"):
        layers.Dense(2)(layers.Flatten()(fn.Input((None, 3))))


class _TwoLayer(fn.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


def test_subclassed_model_tracks_layers_and_trains():
    model = _TwoLayer()
    x = RNG.standard_normal((64, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model.compile(optimizer=fn.optimizers.Adam(learning_rate=0.02), loss="mse")
    h = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert len(model.layers) == 2 and len(model.trainable_weights) == 4
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    model.hidden.trainable = False
    assert len(model.trainable_weights) == 2


def test_customizing_what_happens_in_fit():
    # keras.io "Customizing what happens in fit()", first example, with only the import changed
    class CustomModel(tf.keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = tf.keras.Input(shape=(32,))
    outputs = tf.keras.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = RNG.random((256, 32)).astype(np.float32), RNG.random((256, 1)).astype(np.float32)
    h = model.fit(x, y, epochs=3, verbose=0)
    assert set(h.history) == {"loss", "mae"}
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_training_loop_from_scratch_with_custom_loss_and_metric():
    # keras.io "Writing a training loop from scratch" (TensorFlow), small synthetic data
    fn.utils.set_random_seed(0)  # before the weights exist: they must not depend on the tests run before
    inputs = tf.keras.Input(shape=(20,), name="digits")
    x1 = tf.keras.layers.Dense(16, activation="relu")(inputs)
    outputs = tf.keras.layers.Dense(4, name="predictions")(x1)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-2)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
    xs = np.random.default_rng(5).standard_normal((128, 20)).astype(np.float32)
    ys = np.argmax(xs[:, :4], axis=1)
    dataset = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(128).batch(32)
    losses = []
    for epoch in range(8):
        epoch_losses = []
        for x_batch, y_batch in dataset:
            with tf.GradientTape() as tape:
                logits = model(x_batch, training=True)
                loss_value = loss_fn(y_batch, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc.update_state(y_batch, logits)
            epoch_losses.append(float(loss_value))
        losses.append(np.mean(epoch_losses))
    assert losses[-1] < losses[0]
    assert float(train_acc.result()) > 0.5


def test_custom_loss_subclass_and_add_loss():
    class ScaledMSE(fn.losses.Loss):
        def call(self, y_true, y_pred):
            return fn.reduce_mean(fn.square(y_true - y_pred), axis=-1) * 2.0

    class ActivityPenalty(layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-3 * fn.reduce_sum(fn.square(inputs)))
            return inputs

    model = fn.Sequential([layers.Dense(4), layers.Dense(1)])
    x = RNG.standard_normal((32, 3)).astype(np.float32)
    y = x[:, :1]
    model.compile(optimizer="sgd", loss=ScaledMSE())
    h = model.fit(x, y, epochs=5, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    i = fn.Input((3,))
    m2 = fn.Model(i, layers.Dense(1)(ActivityPenalty()(i)))
    m2.compile(optimizer="sgd", loss="mse")
    m2(x)
    assert len(m2.losses) == 1


def test_custom_loss_matches_builtin_in_a_sequential_fit():
    x = RNG.standard_normal((40, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    weights = None
    results = []
    for loss in ("mse", lambda t, p: fn.reduce_mean(fn.square(t - p), axis=-1)):
        fn.utils.set_random_seed(1)
        model = fn.Sequential([fn.Input((3,)), layers.Dense(1)])
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss=loss)
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        results.append(model.get_weights()[0])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_model_call_returns_tensor_and_predict_returns_arrays():
    model = fn.Sequential([fn.Input((3,)), layers.Dense(2)])
    x = np.ones((2, 3), np.float32)
    assert isinstance(model(x), fn.Tensor)
    assert isinstance(model.predict(x, verbose=0), np.ndarray)
    assert isinstance(model.get_weights()[0], np.ndarray)
    assert model(x).numpy().shape == (2, 2)


def test_legacy_layer_with_handwritten_backward_works_on_the_tape():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight((input_shape[-1],), "ones", name="w")

        def call(self, inputs, training=False):
            self._x = inputs
            return inputs * self.w.value

        def backward(self, dy, need_dx=True):
            self.w.grad[...] = (dy * self._x).sum(axis=0)
            return dy * self.w.value

    layer = Scale(dtype="float64")
    x = fn.constant(RNG.standard_normal((4, 3)))
    with fn.GradientTape() as tape:
        tape.watch(x)
        loss = fn.reduce_sum(layer(x) ** 2)
    gx, gw = tape.gradient(loss, [x, layer.w])
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy() * layer.w.numpy() ** 2)
    np.testing.assert_allclose(gw.numpy(), (2 * x.numpy() ** 2).sum(axis=0))


def test_multi_input_multi_output_model_like_the_functional_api_guide(tmp_path):
    # keras.io "The Functional API": ticket priority (regression) and department (classification)
    num_tags, num_words, num_departments = 6, 20, 3
    title_input = tf.keras.Input(shape=(num_words,), name="title")
    body_input = tf.keras.Input(shape=(num_words,), name="body")
    tags_input = tf.keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.Dense(8, activation="relu")(title_input)
    body_features = layers.Dense(8, activation="relu")(body_input)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    model = tf.keras.Model(inputs=[title_input, body_input, tags_input], outputs=[priority_pred, department_pred])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-2),
        loss={"priority": tf.keras.losses.BinaryCrossentropy(from_logits=True),
              "department": tf.keras.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"department": ["accuracy"]},
    )
    n = 64
    title_data = RNG.integers(0, 2, (n, num_words)).astype(np.float32)
    body_data = RNG.integers(0, 2, (n, num_words)).astype(np.float32)
    tags_data = RNG.integers(0, 2, size=(n, num_tags)).astype("float32")
    priority_targets = (title_data[:, :1] > 0).astype(np.float32)
    dept_targets = np.eye(num_departments, dtype=np.float32)[tags_data[:, :3].argmax(1)]
    h = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                  {"priority": priority_targets, "department": dept_targets}, epochs=4, batch_size=16, verbose=0)
    assert {"loss", "priority_loss", "department_loss", "department_accuracy"} <= set(h.history)
    np.testing.assert_allclose(h.history["loss"][-1], h.history["priority_loss"][-1]
                               + 0.2 * h.history["department_loss"][-1], rtol=1e-4)
    assert h.history["loss"][-1] < h.history["loss"][0]
    prio, dept = model.predict([title_data, body_data, tags_data], verbose=0)
    assert prio.shape == (n, 1) and dept.shape == (n, num_departments)
    result = model.evaluate([title_data, body_data, tags_data], [priority_targets, dept_targets], verbose=0,
                            return_dict=True)
    assert "department_accuracy" in result
    path = str(tmp_path / "tickets.ferronet")
    model.save(path)
    again = fn.models.load_model(path)
    np.testing.assert_allclose(again.predict([title_data, body_data, tags_data], verbose=0)[1], dept, rtol=1e-6)


def test_sequential_with_a_call_only_layer_trains_through_the_tape():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, inputs):
            return inputs * self.w

    x = RNG.standard_normal((32, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = fn.Sequential([fn.Input((3,)), layers.Dense(4), Scale(), layers.Lambda(lambda t: t * 2.0),
                           layers.Dense(1)])
    assert model._plan() is None  # a user layer in tensor ops: the whole model goes through the tape
    model.compile(optimizer=fn.optimizers.Adam(0.02), loss="mse")
    h = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert np.abs(model.layers[1].w.numpy() - 1).max() > 0  # the call-only layer's weight was trained
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x)), rtol=1e-6)
    assert fn.Sequential([fn.Input((3,)), layers.Dense(2)])._plan() is not None


@pytest.mark.parametrize("act", [None, "relu", "sigmoid", "tanh"])
def test_fused_layer_primitives_fast_backward_agrees_with_the_twin(act):
    from ferronet.tensor import fused_layers

    x = fn.constant(RNG.standard_normal((3, 5, 5, 2)))
    k = fn.Variable(RNG.standard_normal((3, 3, 2, 4)))
    b = fn.Variable(RNG.standard_normal(4))
    w = fn.Variable(RNG.standard_normal((4, 3)))
    probe = RNG.standard_normal((3, 5, 5, 3))

    def loss():
        h = fused_layers.conv2d_act(x, k, b, padding="same", activation=act)
        return fn.reduce_sum(fused_layers.dense_act(h, w, None, activation=act) * probe)

    with fn.GradientTape() as tape:
        tape.watch(x)
        value = loss()
    fast = tape.gradient(value, [x, k, b, w])
    with fn.GradientTape() as outer:  # recording selects the differentiable twins
        with fn.GradientTape() as tape:
            tape.watch(x)
            value = loss()
        twin = tape.gradient(value, [x, k, b, w])
    for f, t in zip(fast, twin):
        np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-9, atol=1e-10)
    with fn.GradientTape() as tape:  # only the weights: the first layer's input gradient is skipped
        value = loss()
    assert tape.gradient(value, [k, w])[0].shape == k.shape
