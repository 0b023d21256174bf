"""MultiHeadAttention: Keras-layout weights against a NumPy reference, gradients, masks, config and files."""

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ArgumentError, ShapeError
from tests.ops.gradcheck import numerical_grad
from tests.ops.test_attention import reference


def keras_weights(dq, dk, dv, n, h, hv, out, seed=0):
    """Weights in Keras 3's get_weights() order and layouts."""
    rng = np.random.default_rng(seed)
    shapes = [(dq, n, h), (n, h), (dk, n, h), (n, h), (dv, n, hv), (n, hv), (n, hv, out), (out,)]
    return [rng.standard_normal(s) * 0.5 for s in shapes]


def mha_reference(query, value, key, weights, mask=None, causal=False):
    """Keras' MultiHeadAttention math in NumPy (einsum projections, scaled query, masked softmax)."""
    wq, bq, wk, bk, wv, bv, wo, bo = weights
    q = np.einsum("btd,dnh->btnh", query, wq) + bq
    k = np.einsum("bsd,dnh->bsnh", key, wk) + bk
    v = np.einsum("bsd,dnh->bsnh", value, wv) + bv
    m = None if mask is None else mask[:, None]
    o = reference(q, k, v, mask=m, causal=causal)
    return np.einsum("btnh,nhd->btd", o, wo) + bo


def make(n=3, h=4, hv=None, out=None, d=6, dtype="float64", **kw):
    layer = fn.layers.MultiHeadAttention(num_heads=n, key_dim=h, value_dim=hv, output_shape=out, dtype=dtype, **kw)
    return layer


def test_keras_layout_weights_give_the_reference_output():
    rng = np.random.default_rng(1)
    query, value, key = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 7, 4)), rng.standard_normal((2, 7, 3))
    layer = make(hv=2, out=5)
    layer(query, value, key)
    weights = keras_weights(6, 3, 4, 3, 4, 2, 5)
    layer.set_weights(weights)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights]
    mask = rng.random((2, 5, 7)) > 0.4
    for kw in ({}, {"attention_mask": mask}, {"use_causal_mask": True}, {"attention_mask": mask, "use_causal_mask": True}):
        got = np.asarray(layer(query, value, key, **kw))
        want = mha_reference(query, value, key, weights, kw.get("attention_mask"), kw.get("use_causal_mask", False))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        y, scores = layer(query, value, key, return_attention_scores=True, **kw)
        np.testing.assert_allclose(np.asarray(y), want, rtol=1e-12, atol=1e-12)
        assert scores.shape == (2, 3, 5, 7)
        np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, rtol=1e-12)


def test_float32_self_attention_default_key_and_output_width():
    x = np.random.default_rng(2).standard_normal((4, 9, 8)).astype(np.float32)
    layer = make(n=2, h=5, dtype="float32")
    y = np.asarray(layer(x, x))
    assert y.shape == (4, 9, 8) and y.dtype == np.float32
    want = mha_reference(x.astype(np.float64), x, x, [w.astype(np.float64) for w in layer.get_weights()])
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


def test_two_token_axes_attend_jointly():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4, 6))
    layer = make()
    y = np.asarray(layer(x, x))
    flat = x.reshape(2, 12, 6)
    want = mha_reference(flat, flat, flat, layer.get_weights()).reshape(2, 3, 4, 6)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


def test_weight_and_input_gradients_match_central_differences():
    rng = np.random.default_rng(4)
    query, value = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    mask = rng.random((2, 4, 5)) > 0.3
    layer = make(n=2, h=3)
    qv = fn.Variable(query)
    w = rng.standard_normal((2, 4, 6))
    with fn.GradientTape() as tape:
        loss = fn.keras.ops.sum(layer(qv, value, attention_mask=mask, use_causal_mask=True) * w)
    grads = tape.gradient(loss, [qv] + layer.trainable_weights)

    def f():
        return float((np.asarray(layer(qv, value, attention_mask=mask, use_causal_mask=True)) * w).sum())

    for g, var in zip(grads, [qv] + layer.trainable_weights):
        a = var.numpy()

        def at(a=a, var=var):
            var.assign(a)
            return f()

        num = numerical_grad(at, a)
        var.assign(a)  # numerical_grad restores `a` but leaves the variable at its last perturbation
        np.testing.assert_allclose(np.asarray(g), num, rtol=1e-6, atol=1e-8)


def test_dropout_applies_in_training_only():
    x = np.random.default_rng(5).standard_normal((2, 6, 4))
    layer = make(n=2, h=2, dropout=0.5, seed=7)
    infer = np.asarray(layer(x, x))
    np.testing.assert_allclose(np.asarray(layer(x, x, training=False)), infer)
    assert not np.allclose(np.asarray(layer(x, x, training=True)), infer)


def test_config_round_trip_and_save_load(tmp_path):
    rng = np.random.default_rng(6)
    inp, mask_in = fn.layers.Input((6, 8)), fn.layers.Input((6, 6))
    layer = fn.layers.MultiHeadAttention(2, 4, value_dim=3, output_shape=5, dropout=0.1, use_bias=False,
                                         kernel_regularizer="l2", seed=3, name="att")
    out = layer(inp, inp, attention_mask=mask_in, use_causal_mask=True)
    model = fn.models.Model([inp, mask_in], out)
    config = layer.get_config()
    again = fn.layers.MultiHeadAttention.from_config(config)
    assert again.get_config() == config
    assert config["output_shape"] == 5 and config["value_dim"] == 3 and config["attention_axes"] is None
    x, mask = rng.standard_normal((3, 6, 8)).astype(np.float32), rng.random((3, 6, 6)) > 0.2
    want = model.predict([x, mask], verbose=0)
    path = tmp_path / "model.ferronet"
    model.save(path)
    loaded = fn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict([x, mask], verbose=0), want)
    assert [w.shape for w in loaded.get_weights()] == [(8, 2, 4), (8, 2, 4), (8, 2, 3), (2, 3, 5)]


def test_trains_in_a_functional_model():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 8, 4)).astype(np.float32)
    y = (x[:, :, 0].max(1) > 1.0).astype(np.float32)
    inp = fn.layers.Input((8, 4))
    h = fn.layers.MultiHeadAttention(2, 4)(inp, inp)
    out = fn.layers.Dense(1, activation="sigmoid")(fn.layers.GlobalAveragePooling1D()(h))
    model = fn.models.Model(inp, out)
    model.compile(fn.optimizers.Adam(0.01), "binary_crossentropy")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0]


def test_bad_arguments_and_shapes_raise_clear_errors():
    x = np.zeros((2, 5, 6))
    with pytest.raises(ValueError, match="num_heads must be a positive integer. Received: num_heads=0"):
        fn.layers.MultiHeadAttention(0, 4)
    with pytest.raises(ArgumentError, match=r"Received: attention_axes=\(2,\)"):
        fn.layers.MultiHeadAttention(2, 4, attention_axes=2)(np.zeros((2, 3, 4, 6)), np.zeros((2, 3, 4, 6)))
    with pytest.raises(ArgumentError, match="output_shape of one axis"):
        fn.layers.MultiHeadAttention(2, 4, output_shape=(3, 4))
    layer = make()
    layer(x, x)
    with pytest.raises(ShapeError, match=r"built for query \(None, 5, 6\). Received: query \(2, 5, 7\)"):
        layer(np.zeros((2, 5, 7)), x)
    with pytest.raises(ShapeError, match="key and value with the same tokens"):
        layer(x, x, np.zeros((2, 4, 6)))
    with pytest.raises(ShapeError, match=r"attention_mask broadcastable to .* \(2, 5, 5\). Received: "
                                         r"attention_mask.shape=\(2, 4, 5\)"):
        layer(x, x, attention_mask=np.ones((2, 4, 5), bool))
    with pytest.raises(TypeError, match="needs a value"):
        layer(x)


def test_docs_attention_example_runs():
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "models.md").read_text()
    code = re.search(r"## Attention and transformers\n\n```python\n(.*?)```", page, re.S).group(1)
    scope = {}
    exec(compile(code, "docs attention example", "exec"), scope)
    assert scope["out"].shape == (2, 10, 4, 16)
    assert scope["model"].predict([np.zeros((3, 32, 3)), np.ones((3, 32, 32))], verbose=0).shape == (3, 1)
