"""Tensor ops on ferronet.Input's symbolic tensors become layers of a functional model (Keras 3, tf.keras)."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import tfcompat as tf
from ferronet.keras import ops

RNG = np.random.default_rng(3)


def test_keras_ops_and_tf_functions_build_a_functional_model():
    x_in, t_in = fn.Input((3,)), fn.Input((1,))
    joined = tf.concat([x_in, t_in], 1)                       # tf function on KerasTensors
    h = fn.layers.Dense(4, activation="tanh")(joined)
    s = ops.sum(ops.square(h), axis=1, keepdims=True)         # keras.ops
    z = ops.concatenate([h, s], axis=-1)
    out = tf.nn.softmax(tf.math.exp(z) * 0.5)                 # tf.nn function and an operator
    assert ops.shape(h) == (None, 4) and out.shape == (None, 5)
    model = fn.Model([x_in, t_in], out)
    x = RNG.standard_normal((6, 3)).astype(np.float32)
    t = RNG.standard_normal((6, 1)).astype(np.float32)
    dense = [layer for layer in model.layers if isinstance(layer, fn.layers.Dense)][0]
    hv = np.tanh(np.concatenate([x, t], 1) @ dense.kernel.numpy() + dense.bias.numpy())
    zv = np.concatenate([hv, (hv ** 2).sum(1, keepdims=True)], -1)
    e = np.exp(np.exp(zv) * 0.5)
    np.testing.assert_allclose(model.predict([x, t], verbose=0), e / e.sum(-1, keepdims=True), rtol=1e-5)
    eager = model([fn.constant(x), fn.constant(t)])
    assert isinstance(eager, fn.Tensor)


def test_symbolic_primitive_and_activation_calls():
    inp = fn.Input((4,))
    outs = [fn.nn.relu(inp), ops.relu(inp), ops.gelu(inp), ops.leaky_relu(inp), tf.nn.elu(inp), ops.exp(inp),
            ops.sign(inp), ops.mean(inp, axis=-1), ops.take(inp, [0, 2], axis=1), ops.where(ops.greater(inp, 0),
                                                                                             inp, 0.0)]
    model = fn.Model(inp, outs)
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    got = model.predict(x, verbose=0)
    refs = [np.maximum(x, 0), np.maximum(x, 0), None, np.where(x > 0, x, 0.2 * x), np.where(x > 0, x, np.expm1(x)),
            np.exp(x), np.sign(x), x.mean(-1), x[:, [0, 2]], np.where(x > 0, x, 0)]
    for g, r in zip(got, refs):
        if r is not None:
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)


def test_functional_model_with_ops_trains():
    inp = fn.Input((2,))
    h = fn.layers.Dense(8, activation="tanh")(inp)
    out = fn.layers.Dense(1)(ops.concatenate([h, ops.square(inp)], axis=-1))
    model = fn.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    x = RNG.standard_normal((64, 2)).astype(np.float32)
    y = (x ** 2).sum(1, keepdims=True)
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first


def test_eager_calls_are_unchanged():
    a = RNG.standard_normal((2, 3))
    assert isinstance(ops.sum(a), fn.Tensor) and isinstance(tf.concat([a, a], 0), fn.Tensor)
    assert ops.shape(a) == (2, 3)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(fn.Input((2,)))
