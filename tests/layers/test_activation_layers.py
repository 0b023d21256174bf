"""Activation layers against NumPy: values, and no negative zeros where Keras gives zeros."""

import numpy as np
import pytest

import ferronet as fn

X = np.array([[-2.0, -0.5, 0.0, 0.25, 1.0, 3.0]], np.float32)


def _keras_relu(x, max_value, negative_slope, threshold):
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.minimum(y, max_value)


@pytest.mark.parametrize("max_value, negative_slope, threshold", [
    (None, 0.0, 0.0), (2.0, 0.0, 0.0), (None, 0.0, 0.5), (2.0, 0.1, 0.5), (None, 0.2, 0.0),
])
def test_relu_matches_the_keras_formula(max_value, negative_slope, threshold):
    y = fn.layers.ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)(X).numpy()
    np.testing.assert_allclose(y, _keras_relu(X, max_value, negative_slope, threshold), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{"max_value": 2.0}, {"threshold": 0.5}, {"max_value": 6.0, "threshold": 1.0}])
def test_relu_with_a_zero_slope_gives_positive_zeros(kwargs):
    y = fn.layers.ReLU(**kwargs)(X).numpy()
    assert not np.signbit(y).any(), y
