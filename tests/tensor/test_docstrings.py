"""The examples in the tensor, TensorFlow-compatibility and keras.ops/random/backend docstrings run as shown."""

import doctest
import importlib

import pytest

MODULES = ["ferronet.tensor.core", "ferronet.tensor.tape", "ferronet.tfcompat.data", "ferronet.keras.ops",
           "ferronet.keras.random", "ferronet.keras.backend"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
