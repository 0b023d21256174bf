"""Losses against NumPy implementations of Keras' formulas."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import losses

from .kernels import require_kernels

EPS = 1e-7


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def ref(name, t, p, **kw):
    if name == "mse":
        return ((p - t) ** 2).mean(-1)
    if name == "mae":
        return np.abs(p - t).mean(-1)
    if name == "huber":
        d = kw.get("delta", 1.0)
        e = np.abs(p - t)
        return np.where(e <= d, 0.5 * e ** 2, d * (e - 0.5 * d)).mean(-1)
    if name == "hinge":
        t = 2 * t - 1 if np.all((t == 0) | (t == 1)) else t
        return np.maximum(1 - t * p, 0).mean(-1)
    if name == "categorical_hinge":
        pos = (t * p).sum(-1)
        neg = ((1 - t) * p).max(-1)
        return np.maximum(neg - pos + 1, 0)
    if name == "multiclass_hinge":
        m = kw.get("margin", 1.0)
        ids = t if t.ndim == 1 else t.argmax(-1)
        s_y = p[np.arange(len(p)), ids][:, None]
        v = np.maximum(0, p - s_y + m)
        v[np.arange(len(p)), ids] = 0
        return v.sum(-1)
    if name == "bce":
        if kw.get("from_logits"):
            p = np_sigmoid(p)
        p = np.clip(p, EPS, 1 - EPS)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)
    if name == "cce":
        if kw.get("from_logits"):
            return -(t * np.log(np_softmax(p))).sum(-1)
        p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
        return -(t * np.log(p)).sum(-1)
    raise KeyError(name)


def data(rng, kind, n=6, c=4):
    p = rng.normal(size=(n, c))
    if kind == "probs":
        p = np_softmax(p)
    return p


CASES = [
    ("mse", losses.MeanSquaredError, {}, lambda r: r.normal(size=(6, 4)), "raw"),
    ("mae", losses.MeanAbsoluteError, {}, lambda r: r.normal(size=(6, 4)), "raw"),
    ("huber", losses.Huber, {"delta": 0.5}, lambda r: r.normal(size=(6, 4)), "raw"),
    ("hinge", losses.Hinge, {}, lambda r: r.integers(0, 2, size=(6, 4)).astype(float), "raw"),
    ("hinge", losses.Hinge, {}, lambda r: r.choice([-1.0, 1.0], size=(6, 4)), "raw"),
    ("categorical_hinge", losses.CategoricalHinge, {}, lambda r: np.eye(4)[r.integers(0, 4, 6)], "raw"),
    ("multiclass_hinge", losses.MulticlassHinge, {"margin": 1.0}, lambda r: r.integers(0, 4, 6), "raw"),
    ("multiclass_hinge", losses.MulticlassHinge, {"margin": 2.0}, lambda r: np.eye(4)[r.integers(0, 4, 6)], "raw"),
    ("bce", losses.BinaryCrossentropy, {"from_logits": True}, lambda r: r.integers(0, 2, size=(6, 4)).astype(float),
     "raw"),
    ("bce", losses.BinaryCrossentropy, {}, lambda r: r.uniform(size=(6, 4)), "sigmoid"),
    ("cce", losses.CategoricalCrossentropy, {"from_logits": True}, lambda r: np.eye(4)[r.integers(0, 4, 6)], "raw"),
    ("cce", losses.CategoricalCrossentropy, {}, lambda r: np.eye(4)[r.integers(0, 4, 6)], "probs"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,cls,kw,labels,pred", CASES)
def test_loss_values(name, cls, kw, labels, pred, dtype, rng):
    t = labels(rng)
    p = rng.normal(size=(6, 4)) * 2
    if pred == "probs":
        p = np_softmax(p)
    elif pred == "sigmoid":
        p = np_sigmoid(p)
    p = p.astype(dtype)
    expected = ref(name, t, p.astype(np.float64), **kw)
    loss = cls(**kw)
    require_kernels(*(loss._kernels()[:1] if loss.from_logits else loss._kernels()[-1:]))
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(loss.call(t, p), expected, rtol=tol * 10, atol=tol)
    assert loss(t, p) == pytest.approx(expected.mean(), rel=tol * 10, abs=tol)
    w = rng.uniform(size=6)
    assert loss(t, p, sample_weight=w) == pytest.approx((expected * w).sum() / 6, rel=tol * 10, abs=tol)
    sum_loss = cls(reduction="sum", **kw)
    assert sum_loss(t, p) == pytest.approx(expected.sum(), rel=tol * 10, abs=tol)
    np.testing.assert_allclose(cls(reduction="none", **kw)(t, p), expected, rtol=tol * 10, atol=tol)


def test_sparse_equals_categorical(rng):
    require_kernels("categorical_crossentropy")
    ids = rng.integers(0, 5, 8)
    z = rng.normal(size=(8, 5))
    a = losses.sparse_categorical_crossentropy(ids, z, from_logits=True)
    b = losses.categorical_crossentropy(np.eye(5)[ids], z, from_logits=True)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(ids[:, None], np_softmax(z)),
                               ref("cce", np.eye(5)[ids], np_softmax(z)), rtol=1e-6)


def test_stable_for_huge_logits():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    v = losses.categorical_crossentropy(np.eye(2), z, from_logits=True)
    np.testing.assert_allclose(v, [0.0, 0.0], atol=1e-12)
    assert np.all(np.isfinite(losses.binary_crossentropy(np.array([[0.0], [1.0]]), np.array([[800.0], [-800.0]]),
                                                         from_logits=True)))


def test_get_names_and_objects():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert losses.get("sparse_categorical_crossentropy").name == "sparse_categorical_crossentropy"
    assert isinstance(losses.get(losses.binary_crossentropy), losses.BinaryCrossentropy)
    obj = losses.Huber(delta=2.0)
    assert losses.get(obj) is obj
    clone = losses.deserialize(losses.serialize(losses.CategoricalCrossentropy(from_logits=True)))
    assert clone.from_logits is True
    with pytest.raises(ValueError, match="Unknown loss.*Received: loss='msee'"):
        losses.get("msee")
    custom = losses.get(lambda t, p: (t - p) ** 2)  # a function in tensor ops: the tape differentiates it
    assert isinstance(custom, losses.Loss)
    with pytest.raises(ValueError, match="Received: loss=42"):
        losses.get(42)
    with pytest.raises(ValueError, match="Received: reduction='mean_of_all'"):
        losses.MeanSquaredError(reduction="mean_of_all")


def test_label_errors(rng):
    with pytest.raises(ValueError, match="class id"):
        losses.sparse_categorical_crossentropy(np.array([0, 4]), rng.normal(size=(2, 4)), from_logits=True)
    require_kernels("mean_squared_error")
    with pytest.raises(ValueError, match=r"same shape.*y_true.shape=\(2, 3\)"):
        losses.mean_squared_error(np.ones((2, 3)), np.ones((2, 4)))


def test_fused_training_matches_unfused_loss_value(rng):
    # softmax output + cross-entropy trains on the logits; the loss value is the same as on probabilities.
    model = fn.Sequential([fn.Input((5,)), fn.layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, y = rng.normal(size=(16, 5)), np.eye(3)[rng.integers(0, 3, 16)]
    c = model._step_cache()
    assert c.fused
    value = model.evaluate(x, y, verbose=0, batch_size=16)
    assert value == pytest.approx(ref("cce", y, model.predict(x, verbose=0)).mean(), rel=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_label_smoothing_is_keras_target_mixing(from_logits, rng):
    """Keras: categorical targets become t(1-ls) + ls/classes, binary targets t(1-ls) + ls/2."""
    z = rng.standard_normal((6, 4))
    p = z if from_logits else np.exp(z) / np.exp(z).sum(1, keepdims=True)
    t = np.eye(4)[rng.integers(0, 4, 6)]
    smoothed = fn.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.2)
    plain = fn.losses.CategoricalCrossentropy(from_logits=from_logits)
    np.testing.assert_allclose(smoothed(t, p), plain(t * 0.8 + 0.05, p), rtol=1e-12)
    np.testing.assert_allclose(fn.losses.categorical_crossentropy(t, p, from_logits, 0.2),
                               plain.call(t * 0.8 + 0.05, p), rtol=1e-12)
    b = rng.integers(0, 2, (6, 3)).astype(float)
    q = z[:, :3] if from_logits else 1 / (1 + np.exp(-z[:, :3]))
    bce = fn.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=0.1)
    np.testing.assert_allclose(bce(b, q), fn.losses.BinaryCrossentropy(from_logits=from_logits)(b * 0.9 + 0.05, q),
                               rtol=1e-12)
    assert fn.losses.CategoricalCrossentropy.from_config(smoothed.get_config()).label_smoothing == 0.2
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        fn.losses.CategoricalCrossentropy(label_smoothing=1.5)


def test_label_smoothing_trains_through_the_fused_kernel(rng):
    """fit with a softmax head and smoothed targets: gradients match central differences of the smoothed loss."""
    from .test_gradients import numeric_grad

    x = rng.standard_normal((5, 3))
    t = np.eye(4)[rng.integers(0, 4, 5)]
    model = fn.Sequential([fn.Input((3,), dtype="float64"),
                           fn.layers.Dense(4, activation="softmax", dtype="float64")])
    loss = fn.losses.CategoricalCrossentropy(label_smoothing=0.3)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss=loss)
    model.train_on_batch(x, t)
    assert model._step_cache().fused
    for v in model.trainable_weights:
        # The reference goes through the probabilities and the loss object, not the training step.
        num = numeric_grad(lambda: loss(t, model(x)), v.value)
        np.testing.assert_allclose(v.grad, num, rtol=1e-5, atol=1e-8)
