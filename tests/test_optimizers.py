"""Optimizers: one step of each against NumPy versions of Keras' update rules; schedules; clipping."""

import math

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers, optimizers
from ferronet.layers.variable import Variable


def make_var(rng, dtype=np.float64):
    return Variable(rng.normal(size=(3, 4)).astype(dtype), "w", "layer/w")


def run(opt, var, grads):
    for g in grads:
        opt.apply_gradients([(g, var)])
    return var.value


def reference(name, w, grads, **kw):
    w = w.copy()
    s = {}
    for t, g in enumerate(grads, start=1):
        if name == "sgd":
            lr, mom, nest = kw.get("learning_rate", 0.01), kw.get("momentum", 0.0), kw.get("nesterov", False)
            if mom:
                v = s.get("v", np.zeros_like(w))
                v = mom * v - lr * g
                s["v"] = v
                w = w + (mom * v - lr * g if nest else v)
            else:
                w = w - lr * g
        elif name in ("adam", "adamw"):
            lr, b1, b2, eps = kw.get("learning_rate", 0.001), 0.9, 0.999, 1e-7
            if name == "adamw":
                w = w - w * kw.get("weight_decay", 0.004) * lr
            m = s.get("m", np.zeros_like(w))
            v = s.get("v", np.zeros_like(w))
            m = m + (g - m) * (1 - b1)
            v = v + (g * g - v) * (1 - b2)
            s["m"], s["v"] = m, v
            alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            if kw.get("amsgrad"):
                vh = np.maximum(s.get("vh", np.zeros_like(w)), v)
                s["vh"] = vh
                v = vh
            w = w - alpha * m / (np.sqrt(v) + eps)
        elif name == "rmsprop":
            lr, rho, mom, eps = kw.get("learning_rate", 0.001), kw.get("rho", 0.9), kw.get("momentum", 0.0), 1e-7
            v = s.get("v", np.zeros_like(w))
            v = rho * v + (1 - rho) * g * g
            s["v"] = v
            denom = v
            if kw.get("centered"):
                ag = s.get("ag", np.zeros_like(w))
                ag = rho * ag + (1 - rho) * g
                s["ag"] = ag
                denom = v - ag * ag
            inc = lr * g / np.sqrt(denom + eps)
            if mom:
                mb = s.get("mb", np.zeros_like(w))
                mb = mom * mb + inc
                s["mb"] = mb
                w = w - mb
            else:
                w = w - inc
        elif name == "adagrad":
            lr, eps = kw.get("learning_rate", 0.001), 1e-7
            acc = s.get("acc", np.full_like(w, 0.1))
            acc = acc + g * g
            s["acc"] = acc
            w = w - lr * g / np.sqrt(acc + eps)
    return w


@pytest.mark.parametrize("name,cls,kw", [
    ("sgd", optimizers.SGD, {}),
    ("sgd", optimizers.SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", optimizers.SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", optimizers.Adam, {}),
    ("adam", optimizers.Adam, {"learning_rate": 0.01, "amsgrad": True}),
    ("adamw", optimizers.AdamW, {}),
    ("adamw", optimizers.AdamW, {"weight_decay": 0.1, "learning_rate": 0.01}),
    ("adamw", optimizers.AdamW, {"weight_decay": 0.1, "learning_rate": 0.01, "amsgrad": True}),
    ("rmsprop", optimizers.RMSprop, {}),
    ("rmsprop", optimizers.RMSprop, {"momentum": 0.5, "centered": True}),
    ("adagrad", optimizers.Adagrad, {"learning_rate": 0.1}),
])
def test_update_rules(name, cls, kw, rng):
    var = make_var(rng)
    grads = [rng.normal(size=(3, 4)) for _ in range(4)]
    expected = reference(name, var.value, grads, **kw)
    opt = cls(**kw)
    run(opt, var, grads)
    np.testing.assert_allclose(var.value, expected, rtol=1e-10, atol=1e-12)
    assert opt.iterations == 4


def test_keras_defaults():
    assert optimizers.SGD().learning_rate == 0.01
    adam = optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert optimizers.AdamW().weight_decay == 0.004
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    assert optimizers.Adagrad().initial_accumulator_value == 0.1


def test_learning_rate_is_settable_and_scheduled(rng):
    opt = optimizers.SGD(learning_rate=0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and float(opt.learning_rate) == 0.5
    sched = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=sched)
    var = make_var(rng)
    w0 = var.value.copy()
    g = np.ones((3, 4))
    for _ in range(10):
        opt.apply_gradients([(g, var)])
    expected = w0 - sum(0.1 * 0.5 ** (k / 10) for k in range(10))
    np.testing.assert_allclose(var.value, expected, rtol=1e-12)
    assert opt.learning_rate == pytest.approx(0.05)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3
    calls = []
    opt = optimizers.SGD(learning_rate=lambda: calls.append(1) or 0.2)
    assert opt.learning_rate == 0.2
    staircase = optimizers.schedules.ExponentialDecay(1.0, 4, 0.5, staircase=True)
    assert [staircase(s) for s in (0, 3, 4, 9)] == [1.0, 1.0, 0.5, 0.25]
    pw = optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [pw(s) for s in (0, 10, 11, 25)] == [1.0, 1.0, 0.5, 0.1]


def test_clipping(rng):
    var = make_var(rng)
    w0 = var.value.copy()
    g = np.full((3, 4), 10.0)
    optimizers.SGD(learning_rate=1.0, clipvalue=0.5).apply_gradients([(g.copy(), var)])
    np.testing.assert_allclose(var.value, w0 - 0.5)
    var = make_var(rng)
    w0 = var.value.copy()
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply_gradients([(g.copy(), var)])
    np.testing.assert_allclose(np.linalg.norm(w0 - var.value), 1.0)


def test_config_round_trip():
    opt = optimizers.Adam(learning_rate=optimizers.schedules.CosineDecay(0.01, 100), amsgrad=True)
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(clone, optimizers.Adam) and clone.amsgrad
    assert clone.learning_rate == pytest.approx(0.01)
    with pytest.raises(ValueError, match="Unknown optimizer.*Received: optimizer='adamm'"):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="Received: momentum=1.5"):
        optimizers.SGD(momentum=1.5)


def test_float32_updates_in_place(rng):
    var = make_var(rng, np.float32)
    ident = var.value
    opt = optimizers.Adam()
    run(opt, var, [rng.normal(size=(3, 4)).astype(np.float32)])
    assert var.value is ident and var.value.dtype == np.float32


def test_adam_fused_into_dense_backward_trains_bit_for_bit_like_the_separate_update(rng):
    class SeparateAdam(fn.optimizers.Adam):
        """Adam whose step is never fused (a subclass)."""

    x = rng.standard_normal((300, 12)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    results = []
    for opt in (fn.optimizers.Adam(0.01), SeparateAdam(0.01)):
        fn.utils.set_random_seed(3)
        model = fn.Sequential([fn.Input((12,)), layers.Dense(16, activation="relu"), layers.Dropout(0.1),
                               layers.Dense(3, activation="softmax")])
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        assert len(model._step_cache().adam) == (2 if type(opt) is fn.optimizers.Adam else 0)
        results.append((model.get_weights(), [a.copy() for a in opt.variables], opt.iterations))
    (w1, s1, i1), (w2, s2, i2) = results
    assert i1 == i2 == 20
    for a, b in zip(w1 + s1, w2 + s2):
        np.testing.assert_array_equal(a, b)
