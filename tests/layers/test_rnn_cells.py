"""Recurrent cells and the RNN layer: cells against their layers, RNN against a NumPy loop, gradients against
central differences, masks, states, dropout and configs."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.keras import ops  # Keras' differentiable ops, as a Keras cell uses them

F64 = {"dtype": "float64"}
CELLS = [
    (lambda: layers.SimpleRNNCell(3, **F64), lambda: layers.SimpleRNN(3, **F64)),
    (lambda: layers.LSTMCell(3, **F64), lambda: layers.LSTM(3, **F64)),
    (lambda: layers.GRUCell(3, **F64), lambda: layers.GRU(3, **F64)),
    (lambda: layers.GRUCell(3, reset_after=False, **F64), lambda: layers.GRU(3, reset_after=False, **F64)),
]


def _x(shape=(2, 5, 4), seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _perturb(cell, seed=1):
    """Non-trivial biases, so that a mix-up of gates or bias halves shows."""
    rng = np.random.default_rng(seed)
    cell.set_weights([w + 0.3 * rng.normal(size=w.shape) for w in cell.get_weights()])


@pytest.mark.parametrize("make_cell,make_layer", CELLS)
def test_a_loop_of_cell_steps_gives_the_layer(make_cell, make_layer):
    x = _x()
    cell, layer = make_cell(), make_layer()
    states = cell.get_initial_state(batch_size=2)
    outs = []
    for t in range(5):
        out, states = cell(x[:, t], states)
        outs.append(out.numpy())
    _perturb(cell)
    states, outs = cell.get_initial_state(batch_size=2), []
    for t in range(5):
        out, states = cell(x[:, t], states)
        outs.append(out.numpy())
    layer = make_layer()
    layer.return_sequences, layer.return_state = True, True
    layer(x)
    layer.set_weights(cell.get_weights())
    seq, *final = layer(x)
    np.testing.assert_allclose(np.stack(outs, 1), seq.numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(states, final):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    assert [w.name for w in cell.weights] == ["kernel", "recurrent_kernel", "bias"]


@pytest.mark.parametrize("make_cell,_", CELLS)
def test_cell_step_gradients_match_central_differences(make_cell, _):
    x = _x((2, 3, 4), seed=2)
    cell = make_cell()
    cell(x[:, 0], cell.get_initial_state(2))
    _perturb(cell, seed=3)
    h0 = [np.random.default_rng(4 + i).normal(size=(2, 3)) for i in range(len(cell.get_initial_state(2)))]
    probe = np.random.default_rng(9).normal(size=(2, 3))

    def loss_of(xv, states):
        for t in range(3):
            out, states = cell(xv[:, t], states)
        return fn.reduce_sum(out * probe)

    xt, st = fn.constant(x), [fn.constant(s) for s in h0]
    with fn.GradientTape() as tape:
        tape.watch([xt, *st])
        loss = loss_of(xt, st)
    grads = tape.gradient(loss, [xt, *st, *cell.trainable_weights])
    eps = 1e-6

    def numeric(array, assign):
        out = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            total = 0.0
            for sign in (1, -1):
                a = array.copy()
                a[i] += sign * eps
                total += sign * float(assign(a)) / (2 * eps)
            out[i] = total
        return out

    np.testing.assert_allclose(grads[0].numpy(), numeric(x, lambda a: loss_of(a, h0)), rtol=1e-6, atol=1e-8)
    for k in range(len(h0)):
        num = numeric(h0[k], lambda a: loss_of(x, h0[:k] + [a] + h0[k + 1:]))
        np.testing.assert_allclose(grads[1 + k].numpy(), num, rtol=1e-6, atol=1e-8)
    for v, g in zip(cell.trainable_weights, grads[1 + len(h0):]):
        base = v.numpy()

        def with_weight(a, v=v):
            v.assign(a)
            return loss_of(x, h0)

        num = numeric(base, with_weight)
        v.assign(base)
        np.testing.assert_allclose(g.numpy(), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make_cell,make_layer", CELLS)
@pytest.mark.parametrize("flags", [dict(), dict(return_sequences=True, return_state=True),
                                   dict(go_backwards=True, return_sequences=True),
                                   dict(return_sequences=True, zero_output_for_mask=True)])
def test_rnn_over_a_builtin_cell_equals_its_layer(make_cell, make_layer, flags):
    x = _x((3, 6, 4), seed=5)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2, 2:] = False
    rnn = layers.RNN(make_cell(), **flags, **F64)
    layer = make_layer()
    for k, v in flags.items():
        setattr(layer, k, v)
    rnn(x)
    _perturb(rnn.cell)
    layer(x)
    layer.set_weights(rnn.get_weights())
    n_states = 2 if isinstance(rnn.cell, layers.LSTMCell) else 1
    init = [np.random.default_rng(7 + i).normal(size=(3, 3)) for i in range(n_states)]
    a, b = rnn(x, mask=mask, initial_state=init), layer(x, mask=mask, initial_state=init)
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


class MinimalRNNCell(layers.Layer):
    """h = tanh(x·W + h_prev·U), written in ops: RNN calls it at every step."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="random_normal",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _numpy_loop(x, w, u, mask, go_backwards, zero_output):
    h = np.zeros((x.shape[0], u.shape[0]))
    prev, outs = np.zeros_like(h), []
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    for t in steps:
        new = np.tanh(x[:, t] @ w + h @ u)
        keep = mask[:, t:t + 1]
        out = np.where(keep, new, 0.0 if zero_output else prev)
        h = np.where(keep, new, h)
        prev = out
        outs.append(out)
    return np.stack(outs, 1), h


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output", [False, True])
def test_rnn_over_a_custom_cell_matches_a_numpy_loop_and_its_gradients(go_backwards, zero_output):
    x = _x((3, 5, 2), seed=11)
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    mask[2, :2] = False
    rnn = layers.RNN(MinimalRNNCell(3, **F64), return_sequences=True, return_state=True, go_backwards=go_backwards,
                     zero_output_for_mask=zero_output, **F64)
    seq, state = rnn(x, mask=mask)
    w, u = rnn.get_weights()
    want_seq, want_h = _numpy_loop(x, w, u, mask, go_backwards, zero_output)
    np.testing.assert_allclose(seq.numpy(), want_seq, rtol=1e-12)
    np.testing.assert_allclose(state.numpy(), want_h, rtol=1e-12)
    probe = np.random.default_rng(12).normal(size=want_seq.shape)
    xt = fn.constant(x)
    with fn.GradientTape() as tape:
        tape.watch(xt)
        loss = fn.reduce_sum(rnn(xt, mask=mask)[0] * probe)
    gx, gw = tape.gradient(loss, [xt, rnn.cell.kernel])
    eps = 1e-6
    num_x, num_w = np.zeros_like(x), np.zeros_like(w)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            xp = x.copy()
            xp[i] += sign * eps
            num_x[i] += sign * np.sum(_numpy_loop(xp, w, u, mask, go_backwards, zero_output)[0] * probe) / (2 * eps)
    for i in np.ndindex(w.shape):
        for sign in (1, -1):
            wp = w.copy()
            wp[i] += sign * eps
            num_w[i] += sign * np.sum(_numpy_loop(x, wp, u, mask, go_backwards, zero_output)[0] * probe) / (2 * eps)
    np.testing.assert_allclose(gx.numpy(), num_x, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gw.numpy(), num_w, rtol=1e-6, atol=1e-9)


def test_stacked_cells_equal_stacked_layers():
    x = _x((2, 4, 3), seed=13)
    stacked = layers.RNN([layers.LSTMCell(4, **F64), layers.GRUCell(2, **F64)], return_state=True, **F64)
    out, h1, c1, h2 = stacked(x)
    assert stacked.cell.state_size == [4, 4, 2] and [s.shape for s in (h1, c1, h2)] == [(2, 4), (2, 4), (2, 2)]
    lstm = layers.LSTM(4, return_sequences=True, **F64)
    gru = layers.GRU(2, **F64)
    gru(lstm(x))
    lstm.set_weights(stacked.cell.cells[0].get_weights())
    gru.set_weights(stacked.cell.cells[1].get_weights())
    np.testing.assert_allclose(out.numpy(), gru(lstm(x)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(h2.numpy(), out.numpy(), rtol=0)


def test_stateful_rnn_carries_states_across_batches():
    x = _x((2, 6, 3), seed=14)
    whole = layers.RNN(layers.GRUCell(3, **F64), **F64)
    halves = layers.RNN(layers.GRUCell(3, **F64), stateful=True, **F64)
    custom = layers.RNN(MinimalRNNCell(3, **F64), stateful=True, **F64)
    whole(x)
    halves(x[:, :3])
    halves.reset_states()
    halves.set_weights(whole.get_weights())
    halves(x[:, :3])
    np.testing.assert_allclose(halves(x[:, 3:]).numpy(), whole(x).numpy(), rtol=1e-12)
    custom(x[:, :3])
    after = custom.states[0].numpy()
    custom.reset_states()
    assert not np.any(custom.states[0].numpy()) and np.any(after)


def test_cell_dropout_masks_are_kept_until_reset_and_rnn_draws_one_per_sequence():
    cell = layers.LSTMCell(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = np.ones((3, 5), np.float32)
    states = cell.get_initial_state(3)
    cell(x, states, training=True)
    first, rec = cell._dropout_mask.copy(), cell._recurrent_dropout_mask.copy()
    cell(x, states, training=True)
    np.testing.assert_array_equal(cell._dropout_mask, first)
    cell.reset_dropout_mask()
    cell.reset_recurrent_dropout_mask()
    cell(x, states, training=True)
    assert not np.array_equal(cell._dropout_mask, first) or not np.array_equal(cell._recurrent_dropout_mask, rec)
    assert set(np.unique(first)) <= {0.0, 2.0}
    rnn = layers.RNN(layers.GRUCell(4, dropout=0.3, recurrent_dropout=0.3, seed=2))
    seq = np.random.default_rng(0).normal(size=(4, 6, 5)).astype(np.float32)
    np.testing.assert_array_equal(rnn(seq).numpy(), rnn(seq).numpy())  # inference: no dropout
    assert not np.allclose(rnn(seq, training=True).numpy(), rnn(seq).numpy())


def test_training_configs_and_saving(tmp_path):
    fn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(np.float32)
    model = fn.Sequential([fn.Input((8, 2)), layers.RNN([layers.LSTMCell(8), layers.SimpleRNNCell(4)]),
                           layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fn.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "m.ferronet")
    again = fn.models.load_model(tmp_path / "m.ferronet")
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    clone = layers.deserialize(layers.serialize(model.layers[0]))
    assert type(clone.cell) is layers.StackedRNNCells and clone.cell.cells[0].units == 8
    cell_config = layers.LSTMCell(3, dropout=0.1).get_config()
    assert cell_config["dropout"] == 0.1 and "return_sequences" not in cell_config


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="LSTMCell is one step of a recurrence and has no return_sequences"):
        layers.LSTMCell(3, return_sequences=True)
    with pytest.raises(ValueError, match="RNN needs a cell: a layer with a state_size"):
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError, match="StackedRNNCells takes a non-empty list"):
        layers.StackedRNNCells([])
    cell = layers.LSTMCell(3)
    with pytest.raises(ValueError, match="has 2 state"):
        cell(np.ones((2, 4)), [np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"takes one step, \(batch, 4\)"):
        cell(np.ones((2, 5, 4)), cell.get_initial_state(2))
    rnn = layers.RNN(layers.GRUCell(2))
    with pytest.raises(ValueError, match="has 1 state"):
        rnn(np.ones((2, 3, 4)), initial_state=[np.zeros((2, 2))] * 2)
    with pytest.raises(ValueError, match="Bidirectional wraps"):
        layers.Bidirectional(layers.LSTMCell(3))


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_over_rnn_equals_it_over_the_layer(merge_mode):
    x = _x((3, 5, 4), seed=15)
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    over_cell = layers.Bidirectional(layers.RNN(layers.GRUCell(3, **F64), return_sequences=True, **F64),
                                     merge_mode=merge_mode, **F64)
    over_layer = layers.Bidirectional(layers.GRU(3, return_sequences=True, **F64), merge_mode=merge_mode, **F64)
    over_cell(x)
    over_layer(x)
    assert over_cell.forward_layer.cell is not over_cell.backward_layer.cell
    weights = [w + 0.1 * np.random.default_rng(16).normal(size=w.shape) for w in over_cell.get_weights()]
    over_cell.set_weights(weights)
    over_layer.set_weights(weights)
    a, b = over_cell(x, mask=mask), over_layer(x, mask=mask)
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    custom = layers.Bidirectional(layers.RNN(MinimalRNNCell(2, **F64), **F64), **F64)
    assert custom(x).shape == (3, 4) and len(custom.weights) == 4


def test_rnn_over_a_cell_of_your_own_reloads_with_custom_objects(tmp_path):
    model = fn.Sequential([fn.Input((5, 2)), layers.RNN(MinimalRNNCell(3)), layers.Dense(1)])
    x = _x((4, 5, 2), seed=17).astype(np.float32)
    model.save(tmp_path / "m.ferronet")
    with pytest.raises(ValueError, match="Unknown layer class 'MinimalRNNCell'"):
        fn.models.load_model(tmp_path / "m.ferronet")
    again = fn.models.load_model(tmp_path / "m.ferronet", custom_objects={"MinimalRNNCell": MinimalRNNCell})
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
