"""layers.Attention (Keras' dot-product attention) against a NumPy reference, with gradients and config."""

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ArgumentError, ShapeError
from tests.ops.gradcheck import numerical_grad


def reference(q, v, k, scale=1.0, v_mask=None, q_mask=None, causal=False):
    s = scale * np.einsum("bqd,bvd->bqv", q, k)
    vis = np.ones(s.shape, bool)
    if v_mask is not None:
        vis &= v_mask[:, None, :]
    if causal:
        vis &= np.tril(np.ones(s.shape[1:], bool))
    s = np.where(vis, s, -1e30)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    return out if q_mask is None else out * q_mask[..., None], p


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 6, 5)), rng.standard_normal((2, 6, 3))


@pytest.mark.parametrize("causal", [False, True])
def test_matches_reference_with_masks(causal):
    q, v, k = data()
    rng = np.random.default_rng(1)
    v_mask, q_mask = rng.random((2, 6)) > 0.3, rng.random((2, 4)) > 0.3
    v_mask[1] = False  # a batch whose values are all hidden: its queries average all values
    layer = fn.layers.Attention(use_scale=True, dtype="float64")
    layer([q, v, k])
    layer.set_weights([np.array(0.7)])
    want, p = reference(q, v, k, 0.7, v_mask, q_mask, causal)
    got = layer([q, v, k], mask=[q_mask, v_mask], use_causal_mask=causal)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    out, scores = layer([q, v, k], mask=[q_mask, v_mask], use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(scores), p, rtol=1e-12, atol=1e-12)


def test_gradients_match_central_differences():
    q, v, k = data(2)
    layer = fn.layers.Attention(use_scale=True, dtype="float64")
    qv = fn.Variable(q)
    w = np.random.default_rng(3).standard_normal((2, 4, 5))
    with fn.GradientTape() as tape:
        loss = fn.keras.ops.sum(layer([qv, v, k], use_causal_mask=True) * w)
    grads = tape.gradient(loss, [qv, layer.scale])
    for g, var in zip(grads, [qv, layer.scale]):
        a = np.array(var.numpy(), ndmin=1)

        def f(a=a, var=var):
            var.assign(a.reshape(var.shape))
            return float((np.asarray(layer([qv, v, k], use_causal_mask=True)) * w).sum())

        num = numerical_grad(f, a)
        var.assign(a.reshape(var.shape))
        np.testing.assert_allclose(np.ravel(np.asarray(g)), num.ravel(), rtol=1e-6, atol=1e-8)


def test_config_and_errors():
    layer = fn.layers.Attention(use_scale=True, dropout=0.2, seed=1)
    assert fn.layers.Attention.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ArgumentError, match="score_mode='dot' only. Received: score_mode='concat'"):
        fn.layers.Attention(score_mode="concat")
    with pytest.raises(ShapeError, match=r"Received: query \(2, 4, 3\), value \(2, 6, 5\), key \(2, 5, 3\)"):
        fn.layers.Attention()([np.zeros((2, 4, 3)), np.zeros((2, 6, 5)), np.zeros((2, 5, 3))])


def additive_reference(q, v, k, scale, v_mask=None, q_mask=None, causal=False):
    """Keras' additive attention: Σ scale·tanh(q + k) scores, hidden keys lowered by 1e9."""
    s = np.einsum("bqvd,d->bqv", np.tanh(q[:, :, None, :] + k[:, None, :, :]), scale)
    vis = np.ones(s.shape, bool)
    if v_mask is not None:
        vis &= v_mask[:, None, :]
    if causal:
        vis &= np.tril(np.ones(s.shape[1:], bool))
    s = np.where(vis, s, s - 1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = p @ v
    return out if q_mask is None else out * q_mask[..., None], p


@pytest.mark.parametrize("causal", [False, True])
def test_additive_attention_matches_reference_and_its_gradients(causal):
    q, v, k = data(4)
    rng = np.random.default_rng(5)
    v_mask, q_mask = rng.random((2, 6)) > 0.3, rng.random((2, 4)) > 0.3
    v_mask[:, 0] = True
    layer = fn.layers.AdditiveAttention(dtype="float64")
    layer([q, v, k])
    scale = rng.standard_normal(3)
    layer.set_weights([scale])
    want, p = additive_reference(q, v, k, scale, v_mask, q_mask, causal)
    out, weights = layer([q, v, k], mask=[q_mask, v_mask], use_causal_mask=causal, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(weights), p, rtol=1e-12, atol=1e-12)
    plain = fn.layers.AdditiveAttention(use_scale=False, dtype="float64")  # an unweighted sum over features
    np.testing.assert_allclose(np.asarray(plain([q, v, k])), additive_reference(q, v, k, np.ones(3))[0], rtol=1e-12)
    assert plain.get_weights() == []
    w = rng.standard_normal(want.shape)
    tensors = [fn.Variable(q), fn.Variable(k), fn.Variable(v)]
    with fn.GradientTape() as tape:
        loss = fn.keras.ops.sum(layer([tensors[0], tensors[2], tensors[1]], mask=[q_mask, v_mask],
                                      use_causal_mask=causal) * w)
    grads = tape.gradient(loss, tensors + [layer.scale])
    for g, var in zip(grads, tensors + [layer.scale]):
        a = np.array(var.numpy())

        def f(a=a, var=var):
            var.assign(a.reshape(var.shape))
            qq, kk, vv = (t.numpy() for t in tensors)
            return float((additive_reference(qq, vv, kk, layer.scale.numpy(), v_mask, q_mask, causal)[0] * w).sum())

        num = numerical_grad(f, a)
        var.assign(a)
        np.testing.assert_allclose(np.asarray(g), num.reshape(a.shape), rtol=1e-6, atol=1e-8)


def test_additive_attention_config_dropout_and_errors():
    layer = fn.layers.AdditiveAttention(dropout=0.5, seed=2)
    config = layer.get_config()
    assert "score_mode" not in config and config["use_scale"] is True
    assert fn.layers.AdditiveAttention.from_config(config).get_config() == config
    q, v, k = (x.astype(np.float32) for x in data(6))
    np.testing.assert_array_equal(np.asarray(layer([q, v, k])), np.asarray(layer([q, v, k])))
    assert not np.allclose(np.asarray(layer([q, v, k], training=True)), np.asarray(layer([q, v, k])))
    assert [w.shape for w in layer.get_weights()] == [(3,)]
    with pytest.raises(ShapeError, match=r"AdditiveAttention\) needs query"):
        layer([np.zeros((2, 4, 3)), np.zeros((2, 6, 5)), np.zeros((2, 5, 3))])
