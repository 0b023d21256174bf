"""Every public callable of the listed modules has a runnable ``Example:``.

``test_docstrings.py`` runs the examples; this test keeps them from going
missing: a new function or class in one of these modules' ``__all__`` must
come with an ``Example:`` section holding at least one ``>>>`` line. Add a
module here once every public name in it has an example.
"""

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
    "ferronet.layers",
    "ferronet.layers.activation",
    "ferronet.layers.advanced_activations",
    "ferronet.layers.attention",
    "ferronet.layers.augmentation",
    "ferronet.layers.base",
    "ferronet.layers.bidirectional",
    "ferronet.layers.conv1d",
    "ferronet.layers.conv2d",
    "ferronet.layers.conv2d_transpose",
    "ferronet.layers.dense",
    "ferronet.layers.depthwise_conv2d",
    "ferronet.layers.dropout",
    "ferronet.layers.eager",
    "ferronet.layers.flatten",
    "ferronet.layers.gru",
    "ferronet.layers.image_preprocessing",
    "ferronet.layers.input_layer",
    "ferronet.layers.lambda_layer",
    "ferronet.layers.layer_normalization",
    "ferronet.layers.lstm",
    "ferronet.layers.masking",
    "ferronet.layers.merge",
    "ferronet.layers.multi_head_attention",
    "ferronet.layers.noise",
    "ferronet.layers.normalization",
    "ferronet.layers.normalization_preprocessing",
    "ferronet.layers.pooling",
    "ferronet.layers.recurrent",
    "ferronet.layers.reshape",
    "ferronet.layers.reshaping",
    "ferronet.layers.separable_conv2d",
    "ferronet.layers.sequence_layers",
    "ferronet.layers.simple_rnn",
    "ferronet.layers.state",
    "ferronet.layers.variable",
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
