"""The recurrent and attention models of tests/test_keras_recurrent.py, written once for ferronet and Keras.

Each builder takes the top-level module (``ferronet`` or ``keras``) and returns a model; the file imports
nothing, so Keras' own interpreter runs it too (tools/make_keras_fixtures.py, the live tests).
"""


def _seq(k, shape, stack):
    return k.Sequential([k.Input(shape)] + stack)


def _graph(k, shapes, body, names=None):
    inputs = [k.Input(s, name=n) for s, n in zip(shapes, names or [None] * len(shapes))]
    outputs = body(*inputs)
    return k.Model(inputs if len(inputs) > 1 else inputs[0], outputs)


def _bidirectional(cell, mode):
    return lambda k: _graph(k, [(6, 3)], lambda x: k.layers.Bidirectional(
        getattr(k.layers, cell)(3, return_sequences=mode != "sum"), merge_mode=mode)(x))


MODELS = {
    "simple_rnn": lambda k: _seq(k, (6, 3), [k.layers.SimpleRNN(4, activation="relu")]),
    "lstm": lambda k: _seq(k, (6, 3), [k.layers.LSTM(4, unit_forget_bias=False)]),
    "gru": lambda k: _seq(k, (6, 3), [k.layers.GRU(4, go_backwards=True)]),
    "lstm_sequences": lambda k: _seq(k, (6, 3), [k.layers.LSTM(4, return_sequences=True), k.layers.GRU(2)]),
    "simple_rnn_state": lambda k: _graph(k, [(6, 3)], lambda x: k.layers.SimpleRNN(3, return_state=True)(x)),
    "lstm_state": lambda k: _graph(k, [(6, 3)], lambda x: k.layers.LSTM(
        3, return_sequences=True, return_state=True)(x)),
    "gru_state": lambda k: _graph(k, [(6, 3)], lambda x: k.layers.GRU(3, return_state=True, use_bias=False)(x)),
    "gru_reset_before": lambda k: _seq(k, (7,), [
        k.layers.Embedding(10, 3, mask_zero=True), k.layers.GRU(3, reset_after=False, return_sequences=True),
        k.layers.GRU(2, reset_after=False, go_backwards=True)]),
    "masked_lstm": lambda k: _seq(k, (7,), [k.layers.Embedding(10, 3, mask_zero=True), k.layers.LSTM(4)]),
    "masked_lstm_graph": lambda k: _graph(k, [(7,)], lambda x: k.layers.Dense(2)(
        k.layers.LSTM(4)(k.layers.Embedding(10, 3, mask_zero=True)(x)))),
    "masked_bidirectional": lambda k: _seq(k, (7,), [
        k.layers.Embedding(10, 3, mask_zero=True), k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True)),
        k.layers.LSTM(2)]),
    "mha_self": lambda k: _graph(k, [(5, 8)], lambda x: k.layers.MultiHeadAttention(2, 3)(x, x)),
    # NOTE: value_dim differs from key_dim only in ferronet-only tests: Keras' JAX backend cannot run it.
    "mha_cross": lambda k: _graph(k, [(5, 8), (6, 4), (6, 2)], lambda q, v, key: k.layers.MultiHeadAttention(
        3, 2, output_shape=5, use_bias=False)(q, v, key=key)),
    "mha_causal": lambda k: _graph(k, [(5, 8)], lambda x: k.layers.LayerNormalization()(
        k.layers.Add()([x, k.layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)]))),
    "mha_masked": lambda k: _graph(k, [(5, 8), (6, 8), (5, 6)], lambda q, v, m: k.layers.MultiHeadAttention(2, 3)(
        q, v, attention_mask=m), names=["query", "value", "mask"]),
    "mha_scores": lambda k: _graph(k, [(5, 8), (6, 4)], lambda q, v: list(k.layers.MultiHeadAttention(2, 3)(
        q, v, return_attention_scores=True))),
    "attention_scores": lambda k: _graph(k, [(5, 4), (6, 4)], lambda q, v: list(k.layers.Attention()(
        [q, v], return_attention_scores=True))),
    "attention": lambda k: _graph(k, [(5, 4), (6, 4)], lambda q, v: k.layers.Attention(use_scale=True)([q, v])),
    "attention_causal": lambda k: _graph(k, [(5, 4), (5, 3), (5, 4)], lambda q, v, key: k.layers.Attention()(
        [q, v, key], use_causal_mask=True)),
    "bidirectional_lstm_state": lambda k: _graph(k, [(6, 3)], lambda x: k.layers.Bidirectional(
        k.layers.LSTM(2, return_state=True), merge_mode="concat")(x)),
}
MODELS["bidirectional_backward_layer"] = lambda k: _graph(k, [(6, 3)], lambda x: k.layers.Bidirectional(
    k.layers.LSTM(2, return_sequences=True), backward_layer=k.layers.GRU(
        3, go_backwards=True, return_sequences=True, use_bias=False))(x))
# Stateful layers need the batch size in the model (8: the tests' batches).
MODELS["lstm_stateful"] = lambda k: k.Sequential([k.Input((6, 3), batch_size=8), k.layers.LSTM(3, stateful=True)])
MODELS["bidirectional_stateful"] = lambda k: (lambda x: k.Model(x, k.layers.Bidirectional(
    k.layers.GRU(2, stateful=True, return_sequences=True))(x)))(k.Input((6, 3), batch_size=8))


def _seq2seq(k, source, target):
    """An encoder's final states start the decoder (Keras' sequence-to-sequence example)."""
    _, h, c = k.layers.LSTM(4, return_state=True)(source)
    return k.layers.Dense(2)(k.layers.LSTM(4, return_sequences=True)(target, initial_state=[h, c]))


MODELS["lstm_initial_state"] = lambda k: _graph(k, [(6, 3), (5, 2)], lambda s, t: _seq2seq(k, s, t))
MODELS["bidirectional_initial_state"] = lambda k: _graph(k, [(6, 3), (3,), (3,)], lambda x, a, b: (
    k.layers.Bidirectional(k.layers.GRU(3))(x, initial_state=[a, b])))
for _cell in ("SimpleRNN", "LSTM", "GRU"):
    for _mode in (None, "concat", "sum", "mul", "ave"):
        MODELS[f"bidirectional_{_cell.lower()}_{_mode}"] = _bidirectional(_cell, _mode)
# RNN over each built-in cell: stacked, with states, masked, and started from given states.
MODELS["rnn_cells"] = lambda k: _seq(k, (6, 3), [k.layers.RNN(k.layers.LSTMCell(4), return_sequences=True),
                                                 k.layers.RNN(k.layers.GRUCell(2, reset_after=False))])
MODELS["rnn_cell_state"] = lambda k: _graph(k, [(6, 3)], lambda x: k.layers.RNN(
    k.layers.SimpleRNNCell(3), return_state=True, go_backwards=True)(x))
MODELS["masked_rnn_cell"] = lambda k: _seq(k, (7,), [k.layers.Embedding(10, 3, mask_zero=True),
                                                     k.layers.RNN(k.layers.GRUCell(3))])
MODELS["rnn_initial_state"] = lambda k: _graph(k, [(6, 3), (4,), (4,)], lambda x, a, b: k.layers.RNN(
    k.layers.LSTMCell(4))(x, initial_state=[a, b]))
# Sequences of any length (Input((None, features))), one masked by a Masking layer.
MODELS["masking_any_length"] = lambda k: _seq(k, (None, 3), [
    k.layers.Masking(), k.layers.LSTM(4, return_sequences=True), k.layers.GRU(2)])
MODELS["conv_any_length"] = lambda k: _graph(k, [(None, 3)], lambda x: k.layers.Dense(1)(k.layers.GRU(4)(
    k.layers.Conv1D(4, 3, padding="same")(x))))
MODELS["masking_graph"] = lambda k: _graph(k, [(None, 3)], lambda x: k.layers.Dense(2)(k.layers.GRU(4)(
    k.layers.Masking()(k.layers.Dense(3)(x)))))
