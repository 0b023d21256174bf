"""Layers: shapes, configs, weights in Keras layouts, parameter counts, argument and shape errors."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers


def test_dense_shapes_and_weights(rng):
    layer = layers.Dense(3, activation="relu")
    y = layer(rng.normal(size=(4, 5)))
    assert y.shape == (4, 3) and y.dtype == np.float32
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 3) and bias.shape == (3,)
    assert layer.count_params() == 18
    x = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(layer(x), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)


def test_layer_call_returns_fresh_arrays(rng):
    layer = layers.Dense(2)
    a = layer(np.ones((3, 4)))
    b = layer(np.zeros((3, 4)))
    assert not np.shares_memory(a, b)
    assert np.all(b == 0) and np.any(a != 0)


def test_conv2d_shapes():
    x = np.zeros((2, 28, 28, 1), np.float32)
    assert layers.Conv2D(8, 3)(x).shape == (2, 26, 26, 8)
    assert layers.Conv2D(8, 3, padding="same", strides=2)(x).shape == (2, 14, 14, 8)
    assert layers.Conv2D(8, 5, dilation_rate=2)(x).shape == (2, 20, 20, 8)
    assert layers.MaxPooling2D()(x).shape == (2, 14, 14, 1)
    assert layers.AveragePooling2D(3, strides=2, padding="same")(x).shape == (2, 14, 14, 1)
    assert layers.GlobalAveragePooling2D()(x).shape == (2, 1)
    assert layers.GlobalMaxPooling2D(keepdims=True)(x).shape == (2, 1, 1, 1)
    assert layers.Flatten()(x).shape == (2, 784)
    assert layers.Reshape((7, -1))(x).shape == (2, 7, 112)


def test_keras_parameter_counts():
    model = fn.Sequential([
        fn.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.BatchNormalization(),
        layers.Dense(10, activation="softmax"),
    ])
    assert [layer.count_params() for layer in model.layers] == [320, 0, 18496, 0, 0, 204928, 512, 1290]
    assert sum(v.size for v in model.trainable_weights) == 225290
    assert sum(v.size for v in model.non_trainable_weights) == 256
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 225,546" in text and "Trainable params: 225,290" in text
    assert "Non-trainable params: 256" in text and "(None, 13, 13, 32)" in text


def test_batchnorm_weight_order_and_trainable_split():
    layer = layers.BatchNormalization()
    layer(np.ones((2, 3)))
    assert [v.name for v in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2


@pytest.mark.parametrize("layer", [
    layers.Dense(4, activation="tanh", use_bias=False, kernel_initializer="he_normal",
                 kernel_regularizer=fn.regularizers.l2(1e-3)),
    layers.Conv2D(4, (3, 2), strides=(1, 2), padding="same", activation="relu"),
    layers.MaxPooling2D(3, strides=1, padding="same"), layers.AveragePooling2D(),
    layers.GlobalAveragePooling2D(keepdims=True), layers.GlobalMaxPooling2D(), layers.Flatten(), layers.Reshape((-1,)),
    layers.Dropout(0.3, seed=1), layers.Activation("softmax"), layers.LeakyReLU(0.1),
    layers.BatchNormalization(momentum=0.9, epsilon=1e-4), layers.Softmax(),
])
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = layers.deserialize(layers.serialize(layer))
    assert type(again) is type(layer)


def test_set_weights_checks_everything_before_assigning(rng):
    layer = layers.Dense(3)
    layer(np.ones((1, 2)))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"dense.*/bias.*\(3,\).*Received: shape \(4,\)"):
        layer.set_weights([np.ones((2, 3)), np.ones(4)])
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="expects 2 weight arrays.*Received: 1"):
        layer.set_weights([np.ones((2, 3))])
    layer.set_weights([np.ones((2, 3)), np.arange(3)])
    np.testing.assert_array_equal(layer(np.ones((1, 2))), [[2, 3, 4]])


@pytest.mark.parametrize("make,match", [
    (lambda: layers.Dense(0), r"units must be a positive integer. Received: units=0"),
    (lambda: layers.Dense(2.5), r"Received: units=2.5"),
    (lambda: layers.Dense(3, activation="relux"), r"Unknown activation.*Received: activation='relux'"),
    (lambda: layers.Conv2D(4, 0), r"kernel_size.*Received: kernel_size=0"),
    (lambda: layers.Conv2D(4, 3, padding="full"), r"Received: padding='full'"),
    (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), r"Received: strides=\(2, 2\) and dilation_rate"),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), r"Received: data_format='channels_first'"),
    (lambda: layers.Conv1D(4, 3, data_format="channels_first"), r"x.transpose\(0, 2, 1\).*'channels_first'"),
    (lambda: layers.MaxPooling1D(2, data_format="channels_first"), r"Received: data_format='channels_first'"),
    (lambda: layers.SpatialDropout2D(0.5, data_format="channels_first"), r"Received: data_format='channels_first'"),
    (lambda: layers.GlobalAveragePooling1D(data_format="NCW"), r"'channels_last' or 'channels_first'"),
    (lambda: layers.Dropout(1.0), r"Received: rate=1.0"),
    (lambda: layers.Dense(3, kernel_initializer="nope"), r"Received: initializer='nope'"),
    (lambda: layers.Dense(3, bogus=1), r"Unrecognized keyword arguments"),
])
def test_argument_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_shape_errors_name_layer_and_shapes():
    model = fn.Sequential([fn.Input((784,))])
    with pytest.raises(ValueError, match=r'layer "conv2d.*expected ndim=4, found ndim=2. Received: input shape \(None, 784\)'):
        model.add(layers.Conv2D(4, 3))
    assert model.layers == []
    layer = layers.Dense(3)
    layer(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r'"dense.*" \(Dense\) expects inputs whose last dimension is 5.*Received: input shape \(2, 4\)'):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"needs images of at least 3x3. Received: input shape \(None, 2, 2, 1\)"):
        layers.Conv2D(2, 3)(np.ones((1, 2, 2, 1)))
    with pytest.raises(ValueError, match=r"Reshape.*target_shape=\(5,\).*Received: input shape \(None, 2, 3\)"):
        layers.Reshape((5,))(np.ones((1, 2, 3)))


def test_initializers_follow_keras_fans():
    from ferronet import initializers

    fn.utils.set_random_seed(0)
    w = initializers.GlorotUniform()((400, 600))
    lim = np.sqrt(6 / 1000)
    assert w.dtype == np.float32 and np.abs(w).max() <= lim and np.abs(w).max() > 0.95 * lim
    he = initializers.get("he_normal")((3, 3, 64, 128), "float64")
    assert he.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.05)
    np.testing.assert_array_equal(initializers.RandomNormal(seed=3)((4,)), initializers.RandomNormal(seed=3)((4,)))
    q = initializers.Orthogonal()((6, 6), "float64")
    np.testing.assert_allclose(q @ q.T, np.eye(6), atol=1e-12)


def test_custom_activation_callable_inference_only(rng):
    layer = layers.Dense(2, activation=lambda z: z * 2)
    x = rng.normal(size=(3, 4)).astype(np.float32)
    k, b = layer.get_weights() if layer.built else (None, None)
    y = layer(x)
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, 2 * (x @ k + b), rtol=1e-5)
    model = fn.Sequential([fn.Input((4,)), layer])
    model.compile(optimizer="sgd", loss=fn.losses.CategoricalCrossentropy(from_logits=True))
    with pytest.raises(NotImplementedError, match="Cannot train through the custom activation"):
        model.train_on_batch(x, np.eye(2)[[0, 1, 0]])


class Scale(layers.Layer):
    """A user layer: y = x * s with one learned factor per feature."""

    def build(self, input_shape):
        self.s = self.add_weight((input_shape[-1],), "ones", name="s")

    def call(self, inputs, training=False):
        self._x = inputs
        return inputs * self.s.value

    def backward(self, dy, need_dx=True):
        if self.trainable:
            np.sum(dy * self._x, axis=0, out=self.s.grad)
        return dy * self.s.value if need_dx else None


def test_custom_layer_trains_saves_and_loads(tmp_path, rng):
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) > 0).astype(int)
    model = fn.Sequential([fn.Input((3,)), Scale(name="scale"), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=fn.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    before = model.layers[0].s.numpy()
    model.fit(x, y, epochs=3, verbose=0)
    assert not np.array_equal(before, model.layers[0].s.value)
    model.save(tmp_path / "m.ferronet")
    with pytest.raises(ValueError, match="Unknown layer class 'Scale'"):
        fn.models.load_model(tmp_path / "m.ferronet")
    loaded = fn.models.load_model(tmp_path / "m.ferronet", custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_object_arrays_of_numbers_become_the_layer_dtype():
    """np.asarray of a pandas frame with bool and float columns has dtype object: every layer converts it."""
    data = np.array([[1.5, True], [-2.0, False]], dtype=object)
    expected = np.array([[1.5, 1.0], [-2.0, 0.0]])
    for dtype in ("float32", "float64"):
        norm = layers.Normalization(mean=[0.0, 0.0], variance=[1.0, 1.0], dtype=dtype)
        out = norm(data)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), expected.astype(dtype))
        assert layers.Dense(2, dtype=dtype)(data).dtype == dtype
        assert layers.Activation("relu", dtype=dtype)(data).dtype == dtype
    for bad in (np.array([[1.0, "x"]], dtype=object), np.array([[1.0, None]], dtype=object)):
        with pytest.raises(fn.errors.DTypeError, match=r"object array holding a (str|NoneType) value.*Received"):
            layers.Normalization(mean=[0.0, 0.0], variance=[1.0, 1.0])(bad)


def test_a_layer_built_by_hand_keeps_its_weights_at_its_first_call():
    # Keras' idiom: build, set the weights, then call (the call must not build again with fresh weights).
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    dense = fn.layers.Dense(2)
    dense.build((None, 4))
    assert dense.built and dense.input_shape == (None, 4)
    dense.set_weights([np.ones((4, 2), np.float32), np.array([1.0, -1.0], np.float32)])
    np.testing.assert_array_equal(np.asarray(dense(x)), x.sum(1, keepdims=True) + [[1.0, -1.0]])

    class Scale(fn.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, inputs):
            return inputs * self.w

    layer = Scale()
    layer.build((None, 4))
    layer.w.assign(np.full(4, 2.0, np.float32))
    np.testing.assert_array_equal(np.asarray(layer(x)), 2 * x)
    assert len(layer.weights) == 1
