"""Layers written with tensor ops: NumPy references, gradients against central differences, config round trips,
and training inside Sequential models (through the tape)."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers

RNG = np.random.default_rng(11)

CASES = [
    (lambda: layers.UpSampling2D((2, 3)), (2, 3, 4, 2)),
    (lambda: layers.UpSampling1D(3), (2, 4, 3)),
    (lambda: layers.ZeroPadding2D(((1, 2), (0, 1))), (2, 3, 3, 2)),
    (lambda: layers.ZeroPadding1D((2, 1)), (2, 4, 3)),
    (lambda: layers.Cropping2D(((1, 0), (1, 1))), (2, 4, 5, 2)),
    (lambda: layers.Cropping1D((1, 2)), (2, 6, 3)),
    (lambda: layers.Permute((2, 1)), (2, 3, 4)),
    (lambda: layers.RepeatVector(3), (2, 4)),
    (lambda: layers.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2), (3, 5)),
    (lambda: layers.ELU(alpha=0.7), (3, 5)),
    (lambda: layers.PReLU(alpha_initializer="random_uniform", shared_axes=[1]), (2, 3, 4)),
    (lambda: layers.LayerNormalization(), (3, 6)),
    (lambda: layers.LayerNormalization(axis=[1, 2]), (2, 3, 4)),
    (lambda: layers.UnitNormalization(), (3, 4)),
    (lambda: layers.Rescaling(0.5, offset=-1.0), (2, 3)),
    (lambda: layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]), (2, 3)),
    (lambda: layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True), (2, 3)),
    (lambda: layers.Conv1D(3, 3, padding="causal", dilation_rate=2, activation="tanh"), (2, 7, 2)),
    (lambda: layers.Conv1D(2, 2, strides=2, padding="same"), (2, 7, 3)),
    (lambda: layers.MaxPooling1D(2), (2, 6, 3)),
    (lambda: layers.TimeDistributed(layers.Dense(3, activation="tanh", dtype="float64")), (2, 4, 5)),
    (lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"), (2, 3, 4, 2)),
    (lambda: layers.Conv2DTranspose(2, (2, 3), strides=(2, 1), padding="valid"), (2, 3, 3, 2)),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1), (1, 3, 3, 2)),
    (lambda: layers.Conv2DTranspose(2, 3, dilation_rate=2, padding="same"), (1, 4, 4, 1)),
    (lambda: layers.AveragePooling1D(3, strides=2, padding="same"), (2, 7, 3)),
    (lambda: layers.Conv1DTranspose(3, 3, strides=2, padding="same", activation="tanh"), (2, 5, 2)),
    (lambda: layers.Conv1DTranspose(2, 3, strides=3, output_padding=1, use_bias=False), (2, 4, 3)),
    (lambda: layers.Conv1DTranspose(2, 2, dilation_rate=2, padding="same"), (1, 5, 2)),
    (lambda: layers.GlobalAveragePooling1D(), (2, 5, 3)),
    (lambda: layers.GlobalMaxPooling1D(keepdims=True), (2, 5, 3)),
    (lambda: layers.GlobalAveragePooling1D(data_format="channels_first"), (2, 5, 3)),
    (lambda: layers.GlobalMaxPooling1D(data_format="channels_first", keepdims=True), (2, 5, 3)),
]


def _float64(make):
    layer = make()
    cfg = layer.get_config()
    cfg["dtype"] = "float64"
    return type(layer).from_config(cfg)


@pytest.mark.parametrize("make,shape", CASES)
def test_gradients_match_central_differences_and_config_round_trips(make, shape):
    layer = _float64(make)
    x = RNG.standard_normal(shape)
    out = np.asarray(layer(x, training=True))
    assert out.shape[1:] == tuple(layer.compute_output_shape((None,) + shape[1:]))[1:]
    probe = RNG.standard_normal(out.shape)
    xt = fn.constant(x)
    with fn.GradientTape() as tape:
        tape.watch(xt)
        loss = fn.reduce_sum(layer(xt, training=True) * probe)
    grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    eps = 1e-6

    def value():
        return float(np.sum(np.asarray(layer(x, training=True)) * probe))

    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            xp = x.copy()
            xp[i] += sign * eps
            num[i] += sign * float(np.sum(np.asarray(layer(xp, training=True)) * probe)) / (2 * eps)
    np.testing.assert_allclose(grads[0].numpy(), num, rtol=1e-5, atol=1e-7)
    for v, g in zip(layer.trainable_weights, grads[1:]):
        base = v.numpy()
        ref = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                w = base.copy()
                w[i] += sign * eps
                v.assign(w)
                ref[i] += sign * value() / (2 * eps)
        v.assign(base)
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-5, atol=1e-7)
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(layer(x)), rtol=1e-12)


def test_numpy_references():
    x = RNG.standard_normal((2, 3, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(layers.UpSampling2D(2)(x)), x.repeat(2, 1).repeat(2, 2))
    np.testing.assert_array_equal(np.asarray(layers.ZeroPadding2D(1)(x)), np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))))
    np.testing.assert_array_equal(np.asarray(layers.Cropping2D(((1, 1), (0, 2)))(x)), x[:, 1:2, 0:2])
    np.testing.assert_array_equal(np.asarray(layers.Permute((3, 1, 2))(x)), x.transpose(0, 3, 1, 2))
    s = RNG.standard_normal((2, 9, 3)).astype(np.float32)
    conv = layers.Conv1D(4, 3, padding="causal")
    y = np.asarray(conv(s))
    k, b = conv.get_weights()
    padded = np.pad(s, ((0, 0), (2, 0), (0, 0)))
    ref = sum(padded[:, i:i + 9] @ k[i] for i in range(3)) + b
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layers.MaxPooling1D(3)(s)), s.reshape(2, 3, 3, 3).max(axis=2))
    ln = np.asarray(layers.LayerNormalization(epsilon=0.0)(s))
    np.testing.assert_allclose(ln, (s - s.mean(-1, keepdims=True)) / s.std(-1, keepdims=True), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layers.ReLU(max_value=0.5)(s)), np.clip(s, 0, 0.5))
    # channels_first: (batch, channels, steps), reduced over the last axis
    first = layers.GlobalAveragePooling1D(data_format="channels_first")
    np.testing.assert_allclose(np.asarray(first(s)), s.mean(axis=2), rtol=1e-6)
    assert first.compute_output_shape((None, 9, 3)) == (None, 9)
    kept = layers.GlobalMaxPooling1D(data_format="channels_first", keepdims=True)
    np.testing.assert_array_equal(np.asarray(kept(s)), s.max(axis=2, keepdims=True))
    assert kept.compute_output_shape((None, 9, 3)) == (None, 9, 1)


def test_noise_layers_act_only_in_training():
    x = np.ones((200, 50), np.float32)
    for layer in (layers.GaussianNoise(0.5, seed=1), layers.GaussianDropout(0.3, seed=1)):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)
        noisy = np.asarray(layer(x, training=True))
        assert noisy.std() > 0.1 and abs(noisy.mean() - 1.0) < 0.05
    reg = layers.ActivityRegularization(l1=0.1)
    model = fn.Sequential([fn.Input((50,)), reg])
    model(x)
    assert len(reg.losses) == 1 and abs(float(reg.losses[0]) - 0.1 * 50) < 1e-4


def test_convolutional_autoencoder_and_timeseries_models_train_and_save(tmp_path):
    images = RNG.random((32, 8, 8, 1)).astype(np.float32)
    autoencoder = fn.Sequential([
        fn.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.UpSampling2D(), layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ])
    autoencoder.compile(optimizer=fn.optimizers.Adam(1e-2), loss="binary_crossentropy")
    h = autoencoder.fit(images, images, epochs=5, batch_size=8, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    series = RNG.standard_normal((48, 20, 1)).astype(np.float32)
    labels = (series[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    inputs = fn.Input((20, 1))
    x = layers.Conv1D(8, 3, padding="same")(inputs)
    x = layers.LayerNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = fn.Model(inputs, layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer=fn.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(series, labels, epochs=6, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    for m, x_in in ((autoencoder, images), (model, series)):
        path = str(tmp_path / f"{m.name}.ferronet")
        m.save(path)
        np.testing.assert_allclose(fn.models.load_model(path).predict(x_in, verbose=0), m.predict(x_in, verbose=0),
                                   rtol=1e-6)


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    # <T x, y> = <x, C y> for the convolution C whose input gradient T is
    layer = layers.Conv2DTranspose(3, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    x = RNG.standard_normal((2, 4, 5, 2))
    y = np.asarray(layer(x))
    assert y.shape == (2, 8, 10, 3)
    probe = RNG.standard_normal(y.shape)
    c = fn.ops.conv2d(probe, layer.kernel.numpy(), strides=2, padding="same")
    np.testing.assert_allclose(np.sum(y * probe), np.sum(x * c), rtol=1e-10)
    assert layers.Conv2DTranspose(4, 3).compute_output_shape((None, 7, 7, 2)) == (None, 9, 9, 4)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        layers.Conv2DTranspose(1, 3, strides=2, output_padding=2)


def test_embedding_looks_up_rows_and_trains_them():
    emb = layers.Embedding(7, 3, dtype="float64")
    ids = np.array([[1, 2, 1], [6, 0, 2]])
    out = np.asarray(emb(ids))
    np.testing.assert_array_equal(out, emb.embeddings.numpy()[ids])
    probe = RNG.standard_normal(out.shape)
    with fn.GradientTape() as tape:
        loss = fn.reduce_sum(emb(ids) * probe)
    g = tape.gradient(loss, emb.embeddings).numpy()
    ref = np.zeros((7, 3))
    np.add.at(ref, ids, probe)  # repeated ids add up
    np.testing.assert_allclose(g, ref)
    with pytest.raises(ValueError, match="ids 0..6"):
        emb(np.array([[7, 0, 0]]))
    np.testing.assert_array_equal(layers.Embedding(3, 2, mask_zero=True)(np.array([[1, 0]]))._keras_mask.numpy(),
                                  [[True, False]])
    model = fn.Sequential([fn.Input((3,)), layers.Embedding(7, 4), layers.GlobalAveragePooling1D(),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer=fn.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    x = RNG.integers(0, 7, (64, 3))
    y = (x.sum(axis=1) > 9).astype(np.int64)  # what an average of the rows can tell (not the first id alone)
    h = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.3 * h.history["loss"][0]


def test_spatial_dropout_drops_whole_channels_and_round_trips():
    x = np.ones((3, 5, 5, 8), np.float32)
    layer = layers.SpatialDropout2D(0.5, seed=2)
    y = np.asarray(layer(x, training=True))
    per_map = y.reshape(3, 25, 8)
    assert np.all(per_map.std(axis=1) == 0) and {0.0, 2.0} >= set(np.unique(y))
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    clone = layers.SpatialDropout2D.from_config(layer.get_config())
    assert clone.rate == 0.5 and "noise_shape" not in layer.get_config()
    s = np.asarray(layers.SpatialDropout1D(0.5, seed=1)(np.ones((2, 6, 4), np.float32), training=True))
    assert np.all(s.std(axis=1) == 0)


def test_a_convolutional_autoencoder_over_time_series_learns_to_reconstruct():
    """Conv1D down, Conv1DTranspose up: the anomaly-detection autoencoder of time-series windows."""
    fn.utils.set_random_seed(0)
    t = np.arange(288 + 600)
    series = np.sin(2 * np.pi * t / 48)[:, None].astype(np.float32)
    windows = np.stack([series[i:i + 288] for i in range(0, 600, 4)])
    model = fn.Sequential([
        fn.Input((288, 1)),
        layers.Conv1D(16, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1D(8, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(8, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(16, 7, padding="same", strides=2, activation="relu"),
        layers.Conv1DTranspose(1, 7, padding="same"),
    ])
    assert model.output_shape == (None, 288, 1)
    model.compile(optimizer=fn.optimizers.Adam(0.003), loss="mse")
    history = model.fit(windows, windows, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
