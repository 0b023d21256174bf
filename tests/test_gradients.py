"""Layer and loss gradients against float64 central differences."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers, losses, regularizers

from .kernels import require_kernels

EPS = 1e-6


def numeric_grad(f, a, eps=EPS):
    """Central differences of the scalar f() with respect to every element of a (modified in place)."""
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def check_layer(layer, x, training=True, rtol=1e-5, atol=1e-6, reset=None, weights=True):
    """Compare layer.backward with central differences for the input and every trainable weight."""
    x = np.array(x, dtype=np.float64)
    layer._build_with(x.shape)
    r = np.random.default_rng(7).normal(size=(x.shape[0],) + layer.compute_output_shape((None,) + x.shape[1:])[1:])

    def objective():
        if reset:
            reset()
        return float(np.sum(layer.call(x, training) * r))

    objective()
    dx = layer.backward(r.copy(), need_dx=True).copy()
    grads = {v.path: v.grad.copy() for v in layer.trainable_weights}
    np.testing.assert_allclose(dx, numeric_grad(objective, x), rtol=rtol, atol=atol)
    for v in layer.trainable_weights if weights else []:
        np.testing.assert_allclose(grads[v.path], numeric_grad(objective, v.value), rtol=rtol, atol=atol,
                                   err_msg=v.path)


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "gelu",
                                        "silu", "softplus"])
def test_dense(activation, rng):
    x = rng.normal(size=(5, 7))
    if activation == "relu":
        x[np.abs(x) < 0.05] = 0.3  # keep away from the kink
    check_layer(layers.Dense(4, activation=activation, bias_initializer="random_normal", dtype="float64"), x)


def test_dense_rank3(rng):
    check_layer(layers.Dense(3, dtype="float64", bias_initializer="random_normal"), rng.normal(size=(2, 4, 5)))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3),
    dict(kernel_size=3, padding="same"),
    dict(kernel_size=(3, 2), strides=2),
    dict(kernel_size=3, strides=(2, 1), padding="same"),
    dict(kernel_size=3, dilation_rate=2),
    dict(kernel_size=2, dilation_rate=(2, 1), padding="same"),
    dict(kernel_size=1, use_bias=False),
])
def test_conv2d(kwargs, rng):
    layer = layers.Conv2D(3, activation="tanh", dtype="float64", bias_initializer="random_normal", **kwargs)
    check_layer(layer, rng.normal(size=(2, 7, 6, 2)))


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("kwargs", [dict(), dict(pool_size=3, strides=2), dict(pool_size=2, padding="same"),
                                    dict(pool_size=(2, 3), strides=1)])
def test_pooling(cls, kwargs, rng):
    x = rng.permutation(2 * 7 * 5 * 3).reshape(2, 7, 5, 3).astype(np.float64) / 10  # distinct values: no ties
    check_layer(cls(dtype="float64", **kwargs), x)


@pytest.mark.parametrize("cls", [layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(cls, keepdims, rng):
    x = rng.permutation(2 * 4 * 3 * 5).reshape(2, 4, 3, 5).astype(np.float64) / 10
    check_layer(cls(keepdims=keepdims, dtype="float64"), x)


def test_flatten_reshape_activation(rng):
    check_layer(layers.Flatten(dtype="float64"), rng.normal(size=(3, 2, 4)))
    check_layer(layers.Reshape((4, -1), dtype="float64"), rng.normal(size=(3, 2, 4)))
    check_layer(layers.Activation("tanh", dtype="float64"), rng.normal(size=(3, 4)))
    check_layer(layers.LeakyReLU(0.1, dtype="float64"), rng.normal(size=(3, 4)) + 0.01)
    check_layer(layers.Softmax(dtype="float64"), rng.normal(size=(3, 4)))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 2)])
def test_batch_normalization(training, shape, rng):
    layer = layers.BatchNormalization(dtype="float64", gamma_initializer="random_normal",
                                      beta_initializer="random_normal", moving_variance_initializer="ones")
    layer._build_with(shape)
    layer.moving_mean.assign(rng.normal(size=shape[-1:]))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=shape[-1:]))
    # In inference mode only the input gradient is used (a frozen layer has no trainable weights).
    check_layer(layer, rng.normal(size=shape), training=training, weights=training)


def test_batch_normalization_frozen_uses_moving_stats(rng):
    layer = layers.BatchNormalization(dtype="float64")
    layer._build_with((4, 3))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=3))
    layer.trainable = False
    check_layer(layer, rng.normal(size=(4, 3)), training=True)
    assert layer.trainable_weights == []


def test_dropout_scaling_and_gradient(rng):
    layer = layers.Dropout(0.4, seed=3, dtype="float64")
    x = rng.normal(size=(50, 40))
    layer._build_with(x.shape)
    y = layer.call(x, True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.6)
    assert 0.3 < 1 - kept.mean() < 0.5
    # Inactive at inference: the identity.
    np.testing.assert_array_equal(layer.call(x, False), x)

    def reset():
        layer._calls = 0

    check_layer(layer, rng.normal(size=(4, 6)), reset=reset)


def test_dropout_noise_shape_drops_whole_feature_maps(rng):
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, None), seed=5, dtype="float64")
    x = rng.normal(size=(8, 4, 5, 6)) + 10.0  # no zeros of its own
    layer._build_with(x.shape)
    y = layer.call(x, True)
    kept = y != 0
    # One decision per (image, channel), shared over height and width.
    assert np.all(kept == kept[:, :1, :1, :])
    assert 0.2 < 1 - kept[:, 0, 0, :].mean() < 0.8
    np.testing.assert_allclose(y[kept], x[kept] / 0.5)
    # The mask and its gradient agree.
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx != 0, kept)
    config = layer.get_config()
    assert config["noise_shape"] == [None, 1, 1, None]
    assert layers.Dropout.from_config(config).noise_shape == (None, 1, 1, None)
    with pytest.raises(fn.ShapeError, match=r"noise_shape=\(None, 1, 1, None\), which does not broadcast"):
        layer.call(rng.normal(size=(8, 20)), True)

    def reset():
        layer._calls = 0

    check_layer(layer, rng.normal(size=(3, 2, 2, 4)), reset=reset)


def _loss_check(loss, y_true, y_pred, sw=None, rtol=1e-5, atol=1e-7):
    y_pred = np.array(y_pred, dtype=np.float64)
    n = y_pred.shape[0]
    lv, g = loss.gradient(y_true, y_pred, sample_weight=sw)
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)

    def objective():
        return float(np.dot(loss.gradient(y_true, y_pred)[0], w)) / n

    np.testing.assert_allclose(g, numeric_grad(objective, y_pred), rtol=rtol, atol=atol)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("make", [
    lambda r: (losses.MeanSquaredError(), r.normal(size=(5, 3)), r.normal(size=(5, 3))),
    lambda r: (losses.MeanAbsoluteError(), r.normal(size=(5, 3)), r.normal(size=(5, 3))),
    lambda r: (losses.Huber(delta=0.7), r.normal(size=(5, 3)), r.normal(size=(5, 3))),
    lambda r: (losses.Hinge(), r.integers(0, 2, size=(5, 1)), r.normal(size=(5, 1)) * 3),
    lambda r: (losses.CategoricalHinge(), np.eye(4)[r.integers(0, 4, size=5)], r.normal(size=(5, 4))),
    lambda r: (losses.MulticlassHinge(), r.integers(0, 4, size=5), r.normal(size=(5, 4))),
    lambda r: (losses.MulticlassHinge(margin=0.5), np.eye(4)[r.integers(0, 4, size=5)], r.normal(size=(5, 4))),
    lambda r: (losses.BinaryCrossentropy(from_logits=True), r.uniform(size=(5, 2)), r.normal(size=(5, 2))),
    lambda r: (losses.BinaryCrossentropy(), r.integers(0, 2, size=(5, 1)), r.uniform(0.1, 0.9, size=(5, 1))),
    lambda r: (losses.CategoricalCrossentropy(from_logits=True), np.eye(3)[r.integers(0, 3, size=5)],
               r.normal(size=(5, 3))),
    lambda r: (losses.CategoricalCrossentropy(), np.eye(3)[r.integers(0, 3, size=5)],
               r.uniform(0.1, 0.9, size=(5, 3))),
    lambda r: (losses.SparseCategoricalCrossentropy(from_logits=True), r.integers(0, 3, size=5),
               r.normal(size=(5, 3))),
    lambda r: (losses.SparseCategoricalCrossentropy(), r.integers(0, 3, size=5), r.uniform(0.1, 0.9, size=(5, 3))),
])
def test_loss_gradients(make, weighted, rng):
    loss, y_true, y_pred = make(rng)
    require_kernels(*loss._kernels())
    sw = rng.uniform(0.5, 2.0, size=len(y_pred)) if weighted else None
    _loss_check(loss, y_true, y_pred, sw)


@pytest.mark.parametrize("reg", [regularizers.L1(0.03), regularizers.L2(0.05), regularizers.L1L2(0.02, 0.04)])
def test_regularizer_gradient(reg, rng):
    require_kernels("l1_l2_penalty")
    w = rng.normal(size=(4, 3))
    g = np.zeros_like(w)
    penalty = reg._add_gradient(w, g)
    assert penalty == pytest.approx(reg.l1 * np.abs(w).sum() + reg.l2 * (w ** 2).sum())
    np.testing.assert_allclose(g, numeric_grad(lambda: reg(w), w), rtol=1e-5, atol=1e-8)


def _model_grads(model, x, y):
    """Loss and gradients of a compiled float64 model from one step with learning rate 0."""
    model.compile(optimizer=fn.optimizers.SGD(learning_rate=0.0), loss=model.loss)
    model.train_on_batch(x, y)
    return {v.path: v.grad.copy() for v in model.trainable_weights}


@pytest.mark.parametrize("regularized", [False, True])
@pytest.mark.parametrize("head,loss,labels", [
    ("softmax", "sparse_categorical_crossentropy", "ids"),
    ("softmax", "categorical_crossentropy", "onehot"),
    ("sigmoid", "binary_crossentropy", "binary"),
    ("linear", "mse", "dense"),
])
def test_model_gradients_through_fused_losses_and_regularizers(head, loss, labels, regularized, rng):
    if regularized:
        require_kernels("l1_l2_penalty")
    require_kernels(*fn.losses.get(loss)._kernels()[:1])
    reg_k = regularizers.l2(0.01) if regularized else None
    reg_b = regularizers.l1(0.01) if regularized else None
    units = 1 if labels == "binary" else 3
    model = fn.Sequential([
        fn.Input((6, 5, 2), dtype="float64"),
        layers.Conv2D(3, 3, padding="same", strides=2, activation="tanh", dtype="float64", kernel_regularizer=reg_k),
        layers.MaxPooling2D(dtype="float64"),
        layers.Flatten(dtype="float64"),
        layers.Dense(units, activation=head, dtype="float64", bias_regularizer=reg_b,
                     bias_initializer="random_normal"),
    ])
    x = rng.normal(size=(4, 6, 5, 2))
    y = {"ids": rng.integers(0, 3, size=4), "onehot": np.eye(3)[rng.integers(0, 3, size=4)],
         "binary": rng.integers(0, 2, size=(4, 1)).astype(float), "dense": rng.normal(size=(4, 3))}[labels]
    model.compile(optimizer="sgd", loss=loss)
    grads = _model_grads(model, x, y)
    for v in model.trainable_weights:
        num = numeric_grad(lambda: model.evaluate(x, y, batch_size=4, verbose=0), v.value)
        np.testing.assert_allclose(grads[v.path], num, rtol=1e-4, atol=1e-7, err_msg=v.path)


@pytest.mark.parametrize("pool", [dict(), dict(pool_size=3, strides=1, padding="same"), dict(pool_size=2, strides=1)])
@pytest.mark.parametrize("maker", ["conv", "dense"])
def test_relu_then_max_pool_gradients_in_a_training_step(pool, maker, rng):
    """The step hands the ReLU's gradient to the pool's backward (and the conv applies its ReLU in the kernel)."""
    if maker == "conv":
        first = layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64", bias_initializer="random_normal")
        reshape = []
    else:
        first = layers.Dense(12, activation="relu", dtype="float64", bias_initializer="random_normal")
        reshape = [layers.Reshape((3, 4, 1), dtype="float64")]
    model = fn.Sequential([fn.Input((5, 6, 2) if maker == "conv" else (7,), dtype="float64"), first] + reshape + [
        layers.MaxPooling2D(dtype="float64", **pool),
        layers.Flatten(dtype="float64"),
        layers.Dense(3, activation="softmax", dtype="float64"),
    ])
    x = rng.normal(size=(3, 5, 6, 2) if maker == "conv" else (3, 7))
    y = rng.integers(0, 3, size=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    grads = _model_grads(model, x, y)
    assert bool(model._step_cache().plan.relu_pool) == (maker == "conv")
    for prev, pool_node in model._step_cache().plan.relu_pool:  # the decision lives on the plan's call states
        assert prev.layer is first and prev.state.act_grad_done and pool_node.state.through_relu
    for v in model.trainable_weights:
        num = numeric_grad(lambda: model.evaluate(x, y, batch_size=3, verbose=0), v.value)
        np.testing.assert_allclose(grads[v.path], num, rtol=1e-4, atol=1e-7, err_msg=v.path)


def test_frozen_layer_gets_no_update(rng):
    first = layers.Dense(4, activation="relu")
    model = fn.Sequential([fn.Input((3,)), first, layers.Dense(2, activation="softmax")])
    first.trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = first.get_weights()
    other = model.layers[1].get_weights()
    model.fit(rng.normal(size=(64, 3)), rng.integers(0, 2, size=64), epochs=2, verbose=0)
    for a, b in zip(before, first.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(other, model.layers[1].get_weights()))
