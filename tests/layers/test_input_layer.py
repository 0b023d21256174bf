"""Input/InputLayer: an integer dtype (Keras' idiom for token ids) gets an error that says what to write instead."""

import numpy as np
import pytest

import ferronet as fn


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", np.int32])
def test_an_integer_input_dtype_says_how_ids_come_in(dtype):
    with pytest.raises(fn.ArgumentError, match="Embedding casts them back") as e:
        fn.layers.Input((4,), dtype=dtype)
    assert f"Received: dtype={dtype!r}" in str(e.value)


@pytest.mark.parametrize("dtype", [None, "float32", "float64", "mixed_bfloat16"])
def test_float_input_dtypes_and_policies_still_work(dtype):
    assert fn.layers.Input((4,), dtype=dtype).shape == (None, 4)


def test_the_suggested_float_input_feeds_integer_ids_to_an_embedding():
    fn.utils.set_random_seed(0)
    ids = np.array([[3, 1, 0, 0], [5, 5, 2, 0]])
    inputs = fn.layers.Input((4,))
    model = fn.Model(inputs, fn.layers.Dense(1)(fn.layers.GlobalAveragePooling1D()(
        fn.layers.Embedding(10, 3, mask_zero=True)(inputs))))
    model.compile("adam", "mse")
    before = model.layers[1].get_weights()[0].copy()
    model.fit(ids, np.ones((2, 1)), epochs=1, verbose=0)
    changed = np.any(model.layers[1].get_weights()[0] != before, axis=1)
    assert changed[[1, 2, 3, 5]].all() and not changed[[4, 6, 7, 8, 9]].any()  # only the ids seen moved
