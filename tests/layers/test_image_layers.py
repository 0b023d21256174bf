"""DepthwiseConv2D, SeparableConv2D, Resizing, CenterCrop, bilinear UpSampling2D and the augmentation layers:
references, gradients, training-only behaviour, seeds, thread counts, saving and errors."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers, ops

from .test_tape_layers import test_gradients_match_central_differences_and_config_round_trips as check_layer

RNG = np.random.default_rng(17)

DETERMINISTIC = [
    (lambda: layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="tanh",
                                    bias_initializer="random_normal"), (2, 5, 4, 3)),
    (lambda: layers.DepthwiseConv2D((2, 3), strides=2), (1, 5, 6, 2)),
    (lambda: layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", use_bias=False), (1, 6, 5, 2)),
    (lambda: layers.SeparableConv2D(3, 3, padding="same", depth_multiplier=2, activation="sigmoid",
                                    bias_initializer="random_normal"), (2, 4, 5, 2)),
    (lambda: layers.SeparableConv2D(2, 2, strides=2, activation="elu"), (1, 5, 5, 3)),
    (lambda: layers.UpSampling2D((2, 3), interpolation="bilinear"), (2, 3, 2, 2)),
    (lambda: layers.Resizing(5, 3), (2, 4, 6, 2)),
    (lambda: layers.Resizing(3, 3, interpolation="nearest", crop_to_aspect_ratio=True), (1, 4, 6, 2)),
    (lambda: layers.CenterCrop(2, 3), (2, 5, 6, 1)),
    (lambda: layers.CenterCrop(6, 3), (1, 4, 4, 2)),
]


@pytest.mark.parametrize("make,shape", DETERMINISTIC)
def test_layer_gradients_and_config_round_trip(make, shape):
    check_layer(make, shape)


def test_depthwise_and_separable_match_the_ops_in_keras_layouts():
    x = RNG.standard_normal((2, 7, 7, 3)).astype(np.float32)
    dw = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, bias_initializer="ones")
    y = dw(x).numpy()
    kernel, bias = dw.get_weights()
    assert [v.name for v in dw.weights] == ["kernel", "bias"] and kernel.shape == (3, 3, 3, 2) and bias.shape == (6,)
    np.testing.assert_allclose(y, ops.depthwise_conv2d(x, kernel, 2, "same") + 1, rtol=1e-6, atol=1e-6)
    sep = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu")
    z = sep(x).numpy()
    d, p, b = sep.get_weights()
    assert [v.name for v in sep.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert d.shape == (3, 3, 3, 2) and p.shape == (1, 1, 6, 4) and b.shape == (4,)
    ref = np.maximum(ops.depthwise_conv2d(x, d, padding="same") @ p[0, 0] + b, 0)
    np.testing.assert_allclose(z, ref, rtol=1e-5, atol=1e-6)
    assert sep.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4


def test_second_derivatives_through_depthwise_and_transforms():
    from tests.tensor.gradcheck import check_second
    from ferronet.tensor import image_ops

    k = RNG.standard_normal((3, 3, 2, 2))
    t = [0.9, -0.3, 1.2, 0.2, 1.1, -0.7, 0.01, 0.0]
    check_second(lambda x: fn.tanh(image_ops.depthwise_conv2d(x, k, None, (1, 1), "same", (1, 1))),
                 RNG.standard_normal((1, 4, 4, 2)))
    check_second(lambda x: fn.tanh(image_ops.affine_transform(x, t, "bilinear", "reflect")),
                 RNG.standard_normal((1, 4, 5, 2)))
    check_second(lambda x: fn.tanh(image_ops.adjust_images(x, [0.7, 1.4], [0.1, 0.0], True, (-10, 10))),
                 RNG.standard_normal((2, 3, 4, 2)))


def test_contrast_gradient_on_the_tape_matches_central_differences():
    from tests.tensor.gradcheck import check_grad
    from ferronet.tensor import image_ops

    x = RNG.random((2, 3, 4, 2))
    check_grad(lambda x: image_ops.adjust_images(x, [0.6, 1.5], [0.05, -0.1], True, (0.0, 1.0)), x)
    check_grad(lambda x: image_ops.adjust_images(x, 1.0, [0.2, -0.3], False, (0.0, 1.0)), x)


AUGMENTERS = [
    lambda seed: layers.RandomFlip("horizontal_and_vertical", seed=seed),
    lambda seed: layers.RandomRotation((-0.2, 0.3), fill_mode="constant", fill_value=3.0, seed=seed),
    lambda seed: layers.RandomTranslation(0.2, (-0.1, 0.3), fill_mode="wrap", seed=seed),
    lambda seed: layers.RandomZoom(0.3, (-0.2, 0.1), interpolation="nearest", fill_mode="nearest", seed=seed),
    lambda seed: layers.RandomContrast((0.3, 0.6), value_range=(0, 1), seed=seed),
    lambda seed: layers.RandomBrightness(0.3, value_range=(0, 1), seed=seed),
]


@pytest.mark.parametrize("make", AUGMENTERS)
def test_augmentation_is_training_only_seeded_and_thread_count_free(make):
    x = RNG.random((6, 9, 8, 3)).astype(np.float32)
    layer = make(7)
    assert layer(x).numpy() is not None and np.array_equal(layer(x).numpy(), x)
    first = layer(x, training=True).numpy()
    second = layer(x, training=True).numpy()
    assert first.shape == x.shape and first.dtype == np.float32
    assert not np.array_equal(first, x) and not np.array_equal(first, second)
    n0 = fn.get_num_threads()
    try:
        outs = []
        for n in (1, 3):
            fn.set_num_threads(n)
            twin = make(7)
            outs.append((twin(x, training=True).numpy(), twin(x, training=True).numpy()))
    finally:
        fn.set_num_threads(n0)
    for a, b in outs:
        np.testing.assert_array_equal(a, first)
        np.testing.assert_array_equal(b, second)
    clone = type(layer).from_config(layer.get_config())
    np.testing.assert_array_equal(clone(x, training=True).numpy(), first)
    assert not np.array_equal(make(8)(x, training=True).numpy(), first)


def _draws(seed, call, *sizes):
    rng = np.random.default_rng([seed, call])
    return [rng.uniform(*lohi, size=n) for lohi, n in sizes]


def test_augmentations_match_their_numpy_definitions():
    x = RNG.random((4, 6, 6, 2))
    flip = layers.RandomFlip("horizontal_and_vertical", seed=3, dtype="float64")
    y = flip(x, training=True).numpy()
    fx, fy = _draws(3, 1, ((0, 1), 4), ((0, 1), 4))
    for b in range(4):
        ref = x[b][:, ::-1] if fx[b] < 0.5 else x[b]
        np.testing.assert_array_equal(y[b], ref[::-1] if fy[b] < 0.5 else ref)
    rot = layers.RandomRotation((0.25, 0.25), seed=1, dtype="float64")  # a quarter turn, counter-clockwise
    np.testing.assert_allclose(rot(x, training=True).numpy(), np.rot90(x, axes=(1, 2)), atol=1e-12)
    shift = layers.RandomTranslation((1 / 3, 1 / 3), (-0.5, -0.5), fill_mode="constant", seed=2, dtype="float64")
    s = shift(x, training=True).numpy()  # down 2 rows, left 3 columns
    np.testing.assert_allclose(s[:, 2:, :3], x[:, :4, 3:], atol=1e-12)
    assert np.all(s[:, :2] == 0) and np.all(s[:, :, 3:] == 0)
    zoom = layers.RandomZoom((1.0, 1.0), seed=4, dtype="float64", interpolation="nearest", fill_mode="constant")
    z = zoom(np.ones((1, 7, 7, 1)), training=True).numpy()[0, :, :, 0]  # zoomed out twice
    assert z[2:5, 2:5].all() and z.sum() == 9  # output pixel o reads 2 o - 3: inside for o = 2, 3, 4
    con = layers.RandomContrast(0.5, value_range=(0, 1), seed=5, dtype="float64")
    c = con(x, training=True).numpy()
    (f,) = _draws(5, 1, ((0.5, 1.5), (4, 1, 1, 1)))
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(c, np.clip((x - mean) * f + mean, 0, 1), atol=1e-12)
    bri = layers.RandomBrightness((-0.2, 0.4), value_range=(0, 255), seed=6, dtype="float64")
    (d,) = _draws(6, 1, ((-0.2, 0.4), (4, 1, 1, 1)))
    np.testing.assert_allclose(bri(x * 255, training=True).numpy(), np.clip(x * 255 + d * 255, 0, 255), atol=1e-9)


def test_augmented_models_train_save_and_reload(tmp_path):
    x = RNG.random((48, 10, 10, 1)).astype(np.float32)
    y = (x[:, :5].mean(axis=(1, 2, 3)) > x[:, 5:].mean(axis=(1, 2, 3))).astype(np.int64)
    augment = [layers.RandomFlip("horizontal", seed=1), layers.RandomTranslation(0.1, 0.1, seed=2),
               layers.RandomRotation(0.02, seed=3), layers.RandomZoom(0.1, seed=4),
               layers.RandomContrast(0.1, value_range=(0, 1), seed=5),
               layers.RandomBrightness(0.05, value_range=(0, 1), seed=6)]
    model = fn.Sequential([fn.Input((10, 10, 1)), *augment, layers.SeparableConv2D(4, 3, activation="relu"),
                           layers.DepthwiseConv2D(3, depth_multiplier=2), layers.GlobalAveragePooling2D(),
                           layers.Dense(2, activation="softmax")])
    model.compile(optimizer=fn.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=4, batch_size=12, verbose=0)
    assert all(np.isfinite(h.history["loss"])) and augment[0]._calls == 16
    inputs = fn.Input((10, 10, 1))
    z = layers.RandomFlip("vertical", seed=9)(inputs)
    z = layers.UpSampling2D(interpolation="bilinear")(layers.Resizing(5, 5)(z))
    z = layers.Flatten()(layers.CenterCrop(8, 8)(z))
    functional = fn.Model(inputs, layers.Dense(2, activation="softmax")(z))
    functional.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    functional.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for m in (model, functional):
        path = str(tmp_path / f"{m.name}.ferronet")
        m.save(path)
        loaded = fn.models.load_model(path)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
        first = m.layers[0] if m is model else m.layers[1]
        twin = loaded.layers[0] if m is model else loaded.layers[1]
        assert twin._calls == first._calls and twin.get_config() == first.get_config()
        np.testing.assert_array_equal(twin(x, training=True).numpy(), first(x, training=True).numpy())


def test_bad_arguments_say_what_was_received():
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="dilation_rate > 1"):
        layers.SeparableConv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="depthwise_constraint"):
        layers.DepthwiseConv2D(3, depthwise_constraint="non_neg")
    with pytest.raises(ValueError, match="channel"):
        layers.DepthwiseConv2D(3).build((None, 5, 5, None))
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match="height"):
        layers.Resizing(0, 4)
    with pytest.raises(ValueError, match="mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="factor"):
        layers.RandomRotation((0.3, 0.1))
    with pytest.raises(ValueError, match="height_factor"):
        layers.RandomTranslation(1.5, 0.1)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(1.5)
    with pytest.raises(ValueError, match="value_range"):
        layers.RandomBrightness(0.1, value_range=(1, 0))
    with pytest.raises(ValueError, match="seed"):
        layers.RandomZoom(0.1, seed="a")
