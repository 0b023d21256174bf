"""Input/InputLayer with an integer dtype (Keras' idiom for token ids): the ids travel as floats, the Embedding casts
them back, and the dtype asked for stays in the config."""

import numpy as np
import pytest

import ferronet as fn


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", np.int32])
def test_an_integer_input_dtype_is_kept_in_the_config(dtype):
    layer = fn.layers.InputLayer((4,), dtype=dtype)
    assert layer.get_config()["dtype"] == np.dtype(dtype).name
    assert fn.layers.InputLayer.from_config(layer.get_config()).get_config() == layer.get_config()
    assert fn.layers.Input((4,), dtype=dtype).shape == (None, 4)


@pytest.mark.parametrize("dtype", [None, "float32", "float64", "mixed_bfloat16"])
def test_float_input_dtypes_and_policies_still_work(dtype):
    assert fn.layers.Input((4,), dtype=dtype).shape == (None, 4)


@pytest.mark.parametrize("dtype", [None, "int32"])
def test_integer_ids_train_an_embedding(dtype):
    fn.utils.set_random_seed(0)
    ids = np.array([[3, 1, 0, 0], [5, 5, 2, 0]], dtype=np.int32)
    inputs = fn.layers.Input((4,), dtype=dtype)
    model = fn.Model(inputs, fn.layers.Dense(1)(fn.layers.GlobalAveragePooling1D()(
        fn.layers.Embedding(10, 3, mask_zero=True)(inputs))))
    model.compile("adam", "mse")
    before = model.layers[1].get_weights()[0].copy()
    model.fit(ids, np.ones((2, 1)), epochs=1, verbose=0)
    changed = np.any(model.layers[1].get_weights()[0] != before, axis=1)
    assert changed[[1, 2, 3, 5]].all() and not changed[[4, 6, 7, 8, 9]].any()  # only the ids seen moved
