"""``pad_sequences`` against a plain reference loop, Keras' defaults, and its errors."""

import itertools

import numpy as np
import pytest

import ferronet as tf
from ferronet.utils import pad_sequences


def reference(seqs, maxlen, padding, truncating, value):
    """One sequence at a time, step by step."""
    rows = []
    for seq in seqs:
        seq = list(seq)
        if len(seq) > maxlen:
            seq = seq[len(seq) - maxlen:] if truncating == "pre" else seq[:maxlen]
        fill = [value] * (maxlen - len(seq))
        rows.append(fill + seq if padding == "pre" else seq + fill)
    return np.array(rows, dtype=np.float64).reshape(len(seqs), maxlen)


@pytest.mark.parametrize("padding,truncating", list(itertools.product(["pre", "post"], repeat=2)))
@pytest.mark.parametrize("maxlen", [None, 0, 1, 3, 6])
def test_matches_the_reference_loop(padding, truncating, maxlen):
    rng = np.random.default_rng(0)
    seqs = [list(rng.integers(1, 50, n)) for n in (5, 0, 1, 3, 7)]
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=-1)
    want = reference(seqs, 7 if maxlen is None else maxlen, padding, truncating, -1)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, want)


def test_keras_defaults_and_module_paths():
    imdb_like = np.empty(3, dtype=object)  # what datasets.imdb.load_data returns: an object array of lists
    imdb_like[:] = [[1, 14, 22, 16], [1, 194], [1, 2, 3, 4, 5, 6]]
    out = tf.keras.utils.pad_sequences(imdb_like, maxlen=4)
    np.testing.assert_array_equal(out, [[1, 14, 22, 16], [0, 0, 1, 194], [3, 4, 5, 6]])  # pre, pre, zeros
    assert tf.keras.preprocessing.sequence.pad_sequences is pad_sequences
    from ferronet.keras.preprocessing.sequence import pad_sequences as legacy

    assert legacy is pad_sequences


def test_steps_with_a_shape_dtypes_and_text():
    seqs = [np.ones((2, 3)), np.arange(9.0).reshape(3, 3)]
    out = pad_sequences(seqs, dtype="float32", padding="post", value=0.5)
    assert out.shape == (2, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], [[1, 1, 1], [1, 1, 1], [0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(out[1], seqs[1])
    text = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert text.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert pad_sequences([], maxlen=3).shape == (0, 3)


@pytest.mark.parametrize("call,match", [
    (lambda: pad_sequences([[1]], padding="left"), r"padding must be 'pre' or 'post'. Received: padding='left'"),
    (lambda: pad_sequences([[1]], truncating="end"), r"truncating must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1], 2]), r"the sequence at position 1 is int"),
    (lambda: pad_sequences(5), r"sequences must be a list of iterables"),
    (lambda: pad_sequences([[1]], maxlen=-2), r"maxlen must be None or a non-negative integer"),
    (lambda: pad_sequences([[1]], value="x"), r"dtype int32 cannot hold the text fill value"),
    (lambda: pad_sequences([np.ones((2, 3)), np.ones((2, 4))]), r"position 1 have shape \(4,\).*\(3,\)"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_masked_padding_leaves_each_sequence_its_own_lstm_state(padding):
    """Padded with zeros and embedded with mask_zero=True, every sequence ends in the state it reaches alone."""
    rng = np.random.default_rng(3)
    seqs = [list(rng.integers(1, 20, n)) for n in (6, 2, 4, 1)]
    x = pad_sequences(seqs, padding=padding)
    model = tf.keras.Sequential([tf.keras.Input((None,)), tf.keras.layers.Embedding(20, 5, mask_zero=True),
                                 tf.keras.layers.LSTM(3)])
    padded = model.predict(x, verbose=0)
    for i, seq in enumerate(seqs):
        alone = model.predict(np.array([seq]), verbose=0)
        np.testing.assert_allclose(padded[i], alone[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(padded[1], padded[0])
