"""Masks: Masking, Embedding(mask_zero), propagation through eager and functional calls, Bidirectional, loss masking."""

import warnings

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers

from .rnn_reference import run


def _padded(rng, lengths, t=6, f=3):
    x = rng.normal(size=(len(lengths), t, f)).astype(np.float32)
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0
    return x


def test_masking_zeroes_padded_steps_and_attaches_the_mask():
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 3.0]]], np.float32)
    out = layers.Masking(0.0)(x)
    np.testing.assert_array_equal(out._keras_mask.numpy(), [[True, False, True]])
    y = layers.Masking(3.0)(x + 3.0)
    np.testing.assert_array_equal(y.numpy(), [[[4.0, 5.0], [0.0, 0.0], [3.0, 6.0]]])
    with pytest.raises(ValueError, match="mask_value must be a number"):
        layers.Masking("zero")


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN])
def test_padded_sequences_give_the_unpadded_result(cls):
    """With Masking, a right-padded sequence ends in the state of its unpadded part (eager and functional)."""
    rng = np.random.default_rng(0)
    lengths = [6, 4, 2]
    x = _padded(rng, lengths)
    rnn = cls(5)
    model = fn.Sequential([fn.Input((6, 3)), layers.Masking(), rnn])
    inputs = fn.Input((None, 3))
    functional = fn.Model(inputs, rnn(layers.Masking()(inputs)))
    for got in (model(x).numpy(), functional(x).numpy(), rnn(layers.Masking()(x)).numpy()):
        for i, n in enumerate(lengths):
            np.testing.assert_allclose(got[i], rnn(x[i:i + 1, :n]).numpy()[0], rtol=1e-5, atol=1e-6)


def test_embedding_mask_zero_feeds_the_recurrent_layer():
    ids = np.array([[3, 5, 2, 0, 0], [4, 0, 0, 0, 0]])
    emb = layers.Embedding(8, 4, mask_zero=True)
    lstm = layers.LSTM(3, return_sequences=True)
    out = lstm(emb(ids))
    np.testing.assert_array_equal(out._keras_mask.numpy(), ids != 0)
    np.testing.assert_allclose(out.numpy()[0, 2:], np.repeat(out.numpy()[0, 2:3], 3, axis=0))  # carried
    assert emb.get_config()["mask_zero"] is True
    assert layers.Embedding.from_config(emb.get_config()).mask_zero


def test_mask_passes_through_masking_layers_and_stops_at_others():
    x = _padded(np.random.default_rng(1), [6, 3])
    h = layers.Dense(4)(layers.Masking()(x))
    np.testing.assert_array_equal(h._keras_mask.numpy(), np.any(x != 0, axis=-1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = layers.Conv1D(2, 1)(layers.Masking()(x))
    assert getattr(out, "_keras_mask", None) is None
    assert any("does not support masking" in str(w.message) for w in caught)
    pooled = layers.GlobalAveragePooling1D()(layers.Masking()(x))
    np.testing.assert_allclose(pooled.numpy()[1], x[1, :3].mean(axis=0), rtol=1e-6)
    # channels_first: the mask is over the steps, the last axis
    xt, mask = np.ascontiguousarray(x.transpose(0, 2, 1)), np.any(x != 0, axis=-1)
    first = layers.GlobalAveragePooling1D(data_format="channels_first")(xt, mask=mask)
    np.testing.assert_allclose(first.numpy(), pooled.numpy(), rtol=1e-6)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_forward_and_reversed_backward(merge_mode):
    rng = np.random.default_rng(2)
    x = _padded(rng, [5, 3], t=5).astype(np.float64)
    bi = layers.Bidirectional(layers.GRU(3, return_sequences=True, dtype="float64"), merge_mode=merge_mode,
                              dtype="float64")
    out = bi(layers.Masking(dtype="float64")(x))
    fw_w = bi.forward_layer.get_weights()
    bw_w = bi.backward_layer.get_weights()
    assert len(bi.weights) == 6 and bi.backward_layer.go_backwards
    mask = np.any(x != 0, axis=-1)
    fw, _, _ = run("gru", x, *fw_w, mask=mask)
    bw, _, _ = run("gru", x, *bw_w, mask=mask, go_backwards=True)
    fw, bw = fw * mask[..., None], bw[:, ::-1] * mask[..., None]  # masked steps output zeros here
    want = {"concat": np.concatenate([fw, bw], -1), "sum": fw + bw, "mul": fw * bw, "ave": (fw + bw) / 2,
            None: [fw, bw]}[merge_mode]
    for g, w in zip(out if merge_mode is None else [out], want if merge_mode is None else [want]):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-12)
    config = bi.get_config()
    again = layers.Bidirectional.from_config(config)
    assert again.get_config()["merge_mode"] == merge_mode


def test_bidirectional_states_and_backward_layer():
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype(np.float32)
    bi = layers.Bidirectional(layers.LSTM(2, return_state=True),
                              backward_layer=layers.LSTM(2, return_state=True, go_backwards=True))
    out = bi(x)
    assert [o.shape for o in out] == [(2, 4)] + [(2, 2)] * 4
    assert "backward_layer" in bi.get_config()
    with pytest.raises(ValueError, match="go_backwards must be the opposite"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")


def test_fit_and_evaluate_average_the_loss_over_kept_steps_only():
    rng = np.random.default_rng(4)
    x = _padded(rng, [6, 2, 4, 5])
    y = rng.normal(size=(4, 6, 1)).astype(np.float32)
    inputs = fn.Input((6, 3))
    h = layers.LSTM(4, return_sequences=True)(layers.Masking()(inputs))
    model = fn.Model(inputs, layers.Dense(1)(h))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    loss, mae = model.evaluate(x, y, batch_size=4, verbose=0)
    keep = np.any(x != 0, axis=-1)
    err = (model.predict(x, verbose=0) - y)[..., 0][keep]
    np.testing.assert_allclose([loss, mae], [np.mean(err ** 2), np.mean(np.abs(err))], rtol=1e-5)
    y_changed = y.copy()
    y_changed[~keep] = 100.0  # targets of padded steps do not matter
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    after_a = model.get_weights()
    model.set_weights(before)
    model.fit(x, y_changed, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(after_a, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_sequential_classifier_on_padded_sequences_trains():
    rng = np.random.default_rng(5)
    lengths = rng.integers(2, 9, size=64)
    x = np.zeros((64, 8, 2), np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.normal(size=(n, 2)) + 0.1
    y = (np.array([x[i, :n, 0].sum() for i, n in enumerate(lengths)]) > 0).astype(np.float32)
    model = fn.Sequential([fn.Input((8, 2)), layers.Masking(), layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fn.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
