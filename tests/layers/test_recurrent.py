"""SimpleRNN, LSTM, GRU: Keras' equations and layouts, gradients through time, states, configs, threads, errors."""

from functools import partial

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.tensor import GradientTape, Tensor
from ferronet.tensor import recurrent_ops
from ferronet.tensor.nn_ops import _twin

from .rnn_reference import run

GRUResetBefore = partial(layers.GRU, reset_after=False)
CELLS = [("simple_rnn", layers.SimpleRNN, 1), ("lstm", layers.LSTM, 4), ("gru", layers.GRU, 3),
         ("gru_reset_before", GRUResetBefore, 3)]


def _weights(rng, cell, gates, f, u):
    kernel = rng.normal(size=(f, gates * u)) * 0.5
    recurrent = rng.normal(size=(u, gates * u)) * 0.5
    bias = rng.normal(size=(2, gates * u) if cell == "gru" else (gates * u,)) * 0.2
    return kernel, recurrent, bias


def _mask(b, t):
    m = np.ones((b, t), bool)
    m[0, t - 2:] = False  # right-padded
    m[1, 1] = False  # a hole
    return m


@pytest.mark.parametrize("cell,cls,gates", CELLS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_keras_layout_weights_match_numpy_equations(cell, cls, gates, go_backwards):
    rng = np.random.default_rng(1)
    b, t, f, u = 3, 6, 4, 5
    x = rng.normal(size=(b, t, f))
    kernel, recurrent, bias = _weights(rng, cell, gates, f, u)
    layer = cls(u, return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64")
    layer.build((None, t, f))
    layer.set_weights([kernel, recurrent, bias])
    assert [w.shape for w in layer.weights] == [kernel.shape, recurrent.shape, bias.shape]
    mask = _mask(b, t)
    out = layer(x, mask=mask)
    seq, h, c = run(cell, x, kernel, recurrent, bias, mask=mask, go_backwards=go_backwards)
    np.testing.assert_allclose(out[0].numpy(), seq, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[1].numpy(), h, rtol=1e-12, atol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(out[2].numpy(), c, rtol=1e-12, atol=1e-12)
    # float32 agrees with the float64 oracle to float32 precision
    layer32 = cls(u, return_sequences=True, go_backwards=go_backwards)
    layer32.build((None, t, f))
    layer32.set_weights([kernel, recurrent, bias])
    np.testing.assert_allclose(layer32(x.astype(np.float32), mask=mask).numpy(), seq, atol=2e-5)


def test_lstm_fixed_example_and_defaults():
    """A hand-sized LSTM: Keras' defaults (unit_forget_bias, orthogonal recurrent kernel) and one known output."""
    layer = layers.LSTM(2)
    layer.build((None, 3, 1))
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_array_equal(bias, [0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(2), atol=1e-6)  # orthogonal rows
    layer.set_weights([np.full((1, 8), 0.5), np.zeros((2, 8)), np.zeros(8)])
    x = np.array([[[1.0], [0.0], [1.0]]], np.float32)
    s = 1 / (1 + np.exp(-0.5))
    c1 = s * np.tanh(0.5)
    c2 = 0.5 * c1  # x = 0: every gate is sigmoid(0), the candidate tanh(0)
    c3 = s * c2 + s * np.tanh(0.5)
    np.testing.assert_allclose(layer(x).numpy(), [[s * np.tanh(c3)] * 2], rtol=1e-6)


@pytest.mark.parametrize("cell,cls,gates", CELLS)
@pytest.mark.parametrize("options", [
    dict(return_sequences=True), dict(return_state=True), dict(go_backwards=True, return_sequences=True),
    dict(return_sequences=True, return_state=True, masked=True), dict(initial_state=True, masked=True),
])
def test_gradients_through_time_match_central_differences(cell, cls, gates, options):
    options = dict(options)
    masked, init = options.pop("masked", False), options.pop("initial_state", False)
    rng = np.random.default_rng(2)
    b, t, f, u = 2, 4, 3, 3
    x = Tensor(rng.normal(size=(b, t, f)))
    layer = cls(u, dtype="float64", **options)
    layer.build((None, t, f))
    layer.set_weights(list(_weights(rng, cell, gates, f, u)))
    n_states = 2 if cell == "lstm" else 1
    states = [Tensor(rng.normal(size=(b, u)) * 0.5) for _ in range(n_states)] if init else []
    mask = _mask(b, t) if masked else None

    def value():
        return _scalar_masked(layer, x, states, mask)

    with GradientTape() as tape:
        tape.watch(x)
        for s in states:
            tape.watch(s)
        out = layer(x if not states else [x, *states], mask=mask)
        outs = out if isinstance(out, list) else [out]
        loss = None
        for o in outs:
            term = fn.tensor.math_ops.multiply(o, np.cos(np.arange(int(np.prod(o.shape))).reshape(o.shape)))
            term = fn.tensor.reduce_ops.reduce_sum(term)
            loss = term if loss is None else loss + term
    targets = [x, *states, *layer.weights]
    grads = tape.gradient(loss, targets)
    eps = 1e-6
    for target, g in zip(targets, grads):
        arr = target._v if isinstance(target, Tensor) and not hasattr(target, "assign") else None
        flat = np.array(arr if arr is not None else target.numpy()).reshape(-1)
        num = np.zeros(flat.size)
        for i in range(flat.size):
            for sign in (1, -1):
                new = flat.copy()
                new[i] += sign * eps
                if arr is not None:
                    arr.reshape(-1)[:] = new
                else:
                    target.assign(new.reshape(target.shape))
                num[i] += sign * value()
            if arr is not None:
                arr.reshape(-1)[:] = flat
            else:
                target.assign(flat.reshape(target.shape))
        np.testing.assert_allclose(np.asarray(g.numpy()).reshape(-1), num / (2 * eps), rtol=1e-6, atol=1e-8)


def _scalar_masked(layer, x, states, mask):
    out = layer(x if not states else [x, *states], mask=mask)
    outs = out if isinstance(out, list) else [out]
    return sum(float(np.sum(o.numpy() * np.cos(np.arange(o.numpy().size).reshape(o.shape)))) for o in outs)


@pytest.mark.parametrize("h_only", [False, True])
@pytest.mark.parametrize("cell,cls,gates", CELLS)
def test_fast_backward_equals_the_differentiable_twin(cell, cls, gates, h_only):
    if h_only and cell != "lstm":
        pytest.skip("h_only is an LSTM option")
    rng = np.random.default_rng(3)
    b, t, f, u = 3, 5, 2, 4
    x = rng.normal(size=(b, t, f))
    kernel, recurrent, bias = _weights(rng, cell, gates, f, u)
    h0 = rng.normal(size=(b, u))
    c0 = rng.normal(size=(b, u)) if cell == "lstm" else None
    mask = _mask(b, t).astype(np.uint8)
    scale = (rng.random((b, u)) > 0.3) / 0.7
    params = dict(cell=cell, activation="tanh", recurrent_activation="sigmoid", mask=mask, scale=scale,
                  saved=recurrent_ops._Saved(), h_only=h_only)
    y = recurrent_ops._forward(x, kernel, recurrent, bias, h0, c0, **params)
    assert y.shape == (b, t, u * (2 if cell == "lstm" and not h_only else 1))
    g = rng.normal(size=y.shape)
    fast = recurrent_ops._fast(g, y, x, kernel, recurrent, bias, h0, c0, **params)
    twin = _twin(recurrent_ops._formula)(Tensor(g), Tensor(y), *[None if a is None else Tensor(a) for a in
                                                                 (x, kernel, recurrent, bias, h0, c0)], **params)
    for a, b_ in zip(fast, twin):
        if a is None:
            assert b_ is None
        else:
            np.testing.assert_allclose(a, b_.numpy(), rtol=1e-10, atol=1e-12)


def test_second_derivative_runs_through_the_twin():
    layer = layers.GRU(2, dtype="float64")
    x = Tensor(np.random.default_rng(4).normal(size=(2, 3, 2)))
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = fn.tensor.reduce_ops.reduce_sum(layer(x))
        g = inner.gradient(y, x)
        gg = fn.tensor.reduce_ops.reduce_sum(fn.tensor.math_ops.multiply(g, g))
    h = outer.gradient(gg, x)
    assert h.shape == x.shape and np.all(np.isfinite(h.numpy()))


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN, GRUResetBefore])
def test_stateful_carries_states_across_batches(cls):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    whole = cls(4, return_sequences=True)
    parts = cls(4, return_sequences=True, stateful=True)
    whole.build((None, 6, 3))
    parts.build((None, 3, 3))
    parts.set_weights(whole.get_weights())
    y = np.concatenate([parts(x[:, :3]).numpy(), parts(x[:, 3:]).numpy()], axis=1)
    np.testing.assert_allclose(y, whole(x).numpy(), atol=1e-6)
    parts.reset_states()
    np.testing.assert_allclose(parts(x[:, :3]).numpy(), whole(x[:, :3]).numpy(), atol=1e-6)
    np.testing.assert_allclose(parts(x[:1, :3]).numpy(), whole(x[:1, :3]).numpy(), atol=1e-6)  # new batch size


def test_dropout_only_in_training_and_recurrent_dropout_changes_training_output():
    x = np.random.default_rng(6).normal(size=(4, 5, 3)).astype(np.float32)
    layer = layers.LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=1)
    a, b = layer(x).numpy(), layer(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(layer(x, training=True).numpy(), a)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU, GRUResetBefore])
def test_config_round_trip_and_save_load(tmp_path, cls):
    layer = cls(3, return_sequences=True, go_backwards=True, dropout=0.1, recurrent_dropout=0.2, seed=3)
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    if isinstance(layer, layers.GRU):
        assert again.reset_after == layer.reset_after and again._bias_shape() == layer._bias_shape()
    inputs = fn.Input((5, 2))
    h = layers.Masking(0.0)(inputs)
    h = layers.Bidirectional(layer, merge_mode="sum")(h)
    out = layers.Dense(1)(layers.GlobalAveragePooling1D()(h))
    model = fn.Model(inputs, out)
    x = np.random.default_rng(7).normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0
    path = tmp_path / "rnn.ferronet"
    model.save(path)
    loaded = fn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("cls", [layers.LSTM, GRUResetBefore])
def test_results_do_not_depend_on_the_thread_count(cls):
    x = np.random.default_rng(8).normal(size=(33, 7, 5)).astype(np.float32)
    layer = cls(40, return_sequences=True, recurrent_dropout=0.3, seed=2)
    layer.build((None, 7, 5))
    before = fn._core.get_num_threads()
    outs = []
    for n in (1, 2, 3):
        fn._core.set_num_threads(n)
        with GradientTape() as tape:
            tape.watch(layer.weights[0])
            layer._rng = np.random.default_rng(9)  # the same recurrent dropout draw for every thread count
            y = layer(x, mask=_mask(33, 7), training=True)
            loss = fn.tensor.reduce_ops.reduce_sum(fn.tensor.math_ops.multiply(y, y))
        outs.append([y.numpy()] + [g.numpy() for g in tape.gradient(loss, layer.weights)])
    fn._core.set_num_threads(before)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        layers.LSTM(0)
    with pytest.raises(ValueError, match="activation must be one of"):
        layers.LSTM(2, activation="gelu")
    with pytest.raises(ValueError, match="dropout must be a float"):
        layers.GRU(2, dropout=1.5)
    with pytest.raises(ValueError, match="reset_after must be True or False"):
        layers.GRU(2, reset_after="no")
    for cls in (layers.LSTM, layers.GRU):
        with pytest.raises(ValueError, match=r"use_cudnn must be 'auto', True or False. Received: use_cudnn=1"):
            cls(2, use_cudnn=1)
        x = np.random.default_rng(0).normal(size=(2, 3, 2)).astype("float32")
        auto, cpu = cls(2, use_cudnn="auto"), cls(2, use_cudnn=True)  # same kernel whatever it says
        auto(x)
        cpu(x)
        cpu.set_weights(auto.get_weights())
        np.testing.assert_array_equal(cpu(x).numpy(), auto(x).numpy())
        assert cpu.use_cudnn is True and "use_cudnn" not in cpu.get_config()  # Keras does not save it
    with pytest.raises(fn.errors.ShapeError, match="ndim=3"):
        layers.SimpleRNN(2)(np.ones((2, 3)))
    layer = layers.LSTM(2)
    with pytest.raises(ValueError, match="2 state"):
        layer(np.ones((1, 3, 2)), initial_state=[np.zeros((1, 2))])
    with pytest.raises(fn.errors.ShapeError, match="initial state must have shape"):
        layer(np.ones((1, 3, 2)), initial_state=[np.zeros((1, 3)), np.zeros((1, 3))])
    with pytest.raises(AttributeError, match="not stateful"):
        layer.reset_states()
    with pytest.raises(fn.errors.ShapeError, match="kernel must have shape"):
        fn._core.rnn_forward("lstm", "tanh", "sigmoid", np.ones((1, 2, 3)), np.ones((2, 8)), np.ones((2, 8)),
                             np.zeros((1, 2)), None, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="cell must be"):
        fn._core.rnn_forward("rnn", "tanh", "sigmoid", np.ones((1, 2, 3)), np.ones((3, 2)), np.ones((2, 2)),
                             np.zeros((1, 2)))


def test_bidirectional_initial_state_keyword_equals_the_states_joined_to_the_inputs():
    """``initial_state=`` (forward states, then backward) is used eagerly and in graphs, not dropped."""
    rng = np.random.default_rng(7)
    layer = layers.Bidirectional(layers.LSTM(2))
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    states = [rng.normal(size=(3, 2)).astype("float32") for _ in range(4)]
    given = layer(x, initial_state=states).numpy()
    np.testing.assert_array_equal(given, layer([x, *states]).numpy())
    assert not np.allclose(given, layer(x).numpy())
    inputs = [fn.Input((4, 2))] + [fn.Input((2,)) for _ in range(4)]
    model = fn.Model(inputs, layer(inputs[0], initial_state=inputs[1:]))
    np.testing.assert_allclose(model.predict([x, *states], verbose=0), given, rtol=1e-6, atol=1e-6)
