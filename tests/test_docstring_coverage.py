"""Every public callable of the listed modules has a runnable ``Example:``.

``test_docstrings.py`` runs the examples; this test keeps them from going
missing: a new function or class in one of these modules' ``__all__`` must
come with an ``Example:`` section holding at least one ``>>>`` line. Add a
module here once every public name in it has an example.
"""

import doctest
import functools
import importlib
import inspect

import pytest

COVERED = [
    "ferronet.ops",
    "ferronet.ops.activations",
    "ferronet.ops.attention",
    "ferronet.ops.conv",
    "ferronet.ops.image",
    "ferronet.ops.linalg",
    "ferronet.ops.losses",
    "ferronet.ops.normalization",
    "ferronet.ops.optim",
    "ferronet.ops.pooling",
    "ferronet.losses",
    "ferronet.metrics",
    "ferronet.metrics.base",
    "ferronet.metrics.classification",
    "ferronet.metrics.ranking",
    "ferronet.metrics.stateful",
    "ferronet.metrics.stateful.accuracy",
    "ferronet.metrics.stateful.auc",
    "ferronet.metrics.stateful.confusion",
    "ferronet.metrics.stateful.fbeta",
    "ferronet.metrics.stateful.registry",
    "ferronet.metrics.stateful.regression",
    "ferronet.activations",
    "ferronet.initializers",
    "ferronet.regularizers",
    "ferronet.optimizers",
    "ferronet.optimizers.adagrad",
    "ferronet.optimizers.adam",
    "ferronet.optimizers.adamw",
    "ferronet.optimizers.base",
    "ferronet.optimizers.rmsprop",
    "ferronet.optimizers.schedules",
    "ferronet.optimizers.sgd",
    "ferronet.callbacks",
    "ferronet.preprocessing",
    "ferronet.preprocessing.encoders",
    "ferronet.preprocessing.scalers",
    "ferronet.preprocessing.split",
    "ferronet.utils",
    "ferronet.utils.dataset",
    "ferronet.plot",
    "ferronet.tensor",
    "ferronet.tensor.tape",
    "ferronet.tensor.core",
    "ferronet.tensor.fused_layers",
    "ferronet.tensor.index_ops",
    "ferronet.tensor.linalg_ops",
    "ferronet.tensor.numpy_ops",
    "ferronet.tensor.random_ops",
    "ferronet.tensor.symbolic",
    "ferronet.utils.progbar",
    "ferronet.utils.random",
    "ferronet.tensor.math_ops",
    "ferronet.tensor.compare_ops",
    "ferronet.tensor.activation_ops",
    "ferronet.tensor.nn_ops",
    "ferronet.tensor.reduce_ops",
    "ferronet.tensor.array_ops",
    "ferronet.tensor.attention_ops",
    "ferronet.tensor.image_ops",
    "ferronet.tensor.recurrent_ops",
    "ferronet.nn",
    "ferronet.keras.backend",
    "ferronet.keras.random",
    "ferronet.errors",
    "ferronet.keras",
    "ferronet.mixed_precision",
    "ferronet.pinn",
    "ferronet.pinn.lbfgs",
    "ferronet.tfcompat.data",
]


def _has_example(obj) -> bool:
    doc = inspect.getdoc(obj) or ""
    _, found, section = doc.partition("Example:")
    return bool(found) and ">>>" in section


def _missing(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module_name} has no __all__ to check"
    return [name for name in names if callable(getattr(module, name)) and not _has_example(getattr(module, name))]


@pytest.mark.parametrize("module_name", COVERED)
def test_every_public_callable_has_an_example(module_name):
    assert _missing(module_name) == []


@functools.lru_cache(maxsize=None)
def _doctest_docstrings(module_name):
    module = importlib.import_module(module_name)
    return {test.docstring for test in doctest.DocTestFinder(exclude_empty=True).find(module, module_name)}


@pytest.mark.parametrize("module_name", COVERED)
def test_every_example_is_collected_by_doctest(module_name):
    """Ops made by a factory carry their declaring module, so test_docstrings.py runs their examples."""
    module = importlib.import_module(module_name)
    lost = []
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) and _has_example(obj):
            home = getattr(obj, "__module__", None) or module_name
            if obj.__doc__ not in _doctest_docstrings(home):
                lost.append(name)
    assert lost == []


def test_the_check_sees_a_missing_example():
    def undocumented():
        """No example here."""

    def documented():
        """Does nothing.

        Example:
            >>> documented()
        """

    assert not _has_example(undocumented)
    assert _has_example(documented)
