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
import re
from pathlib import Path

import pytest

DOCS_API = Path(__file__).resolve().parents[1] / "docs" / "api"

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
    "ferronet.models",
    "ferronet.models.functional_model",
    "ferronet.saving",
    "ferronet.formats",
    "ferronet.formats.graph",
    "ferronet.formats.keras_config",
    "ferronet.formats.keras_legacy",
    "ferronet.formats.keras_v3",
    "ferronet.formats.onnx_export",
    "ferronet.distribution",
    "ferronet.distribution.callbacks",
    "ferronet.distribution.communicator",
    "ferronet.distribution.context",
    "ferronet.distribution.data_parallel",
    "ferronet.distribution.dataset",
    "ferronet.distribution.inference",
    "ferronet.distribution.optimizer",
    "ferronet.datasets",
    "ferronet.datasets.boston_housing",
    "ferronet.datasets.cifar10",
    "ferronet.datasets.cifar100",
    "ferronet.datasets.fashion_mnist",
    "ferronet.datasets.imdb",
    "ferronet.datasets.mnist",
    "ferronet.demo",
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

# ferronet's own machinery: modules that the API reference (docs/api/*.rst) does not present and that users do
# not call (they reach them through Model, model.save/load_model and DataParallel). Their names have no leading
# underscore because sibling modules import them; they need docstrings, not examples.
INTERNAL = [
    "ferronet.formats.hdf5",  # h5py access with the checks an untrusted file needs (keras_v3, keras_legacy)
    "ferronet.formats.plan",  # weights planned before allocation when a Keras file is read
    "ferronet.models.functional",  # KerasTensor and Node: what ferronet.Input and layer calls build
    "ferronet.models.multi_io",  # several inputs/outputs in compile/fit/evaluate
    "ferronet.models.plan",  # the layer graph flattened into the nodes fit/predict run
    "ferronet.models.plan_step",  # the training step over a plan
    "ferronet.distribution.shared_memory",  # NodeSum, behind Communicator.gradient_buffer
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


@pytest.mark.parametrize("module_name", INTERNAL)
def test_internal_modules_stay_out_of_the_reference(module_name):
    import ferronet

    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} needs a module docstring"
    assert module_name not in COVERED
    pages = {page.name: page.read_text() for page in DOCS_API.glob("*.rst")}
    assert pages, f"no reference pages in {DOCS_API}"
    mentioned = [name for name, text in pages.items() if re.search(re.escape(module_name) + r"\b", text)]
    assert not mentioned, f"{module_name} is listed as internal but the reference presents it in {mentioned}"
    public = {getattr(ferronet, name) for name in ferronet.__all__ if inspect.ismodule(getattr(ferronet, name))}
    assert module not in public


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
