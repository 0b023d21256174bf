"""Every docstring example in ``ferronet`` runs and prints what it shows.

Examples are written as a user reads them: ``np`` and ``ferronet`` imported,
and, where an example is about training, a compiled ``model`` with data
``x``/``y`` at hand (Keras' convention). Each runs in a fresh namespace made
of its module's globals plus those names, in a temporary directory.
"""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import ferronet


def _modules():
    names = ["ferronet"]
    for info in pkgutil.walk_packages(ferronet.__path__, "ferronet."):
        if info.name.split(".")[-1] not in ("__main__",):
            names.append(info.name)
    return names


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):  # each test's globs: a copy of its module's globals
            if test.examples and test.name.split(".")[-2:-1] != ["_core"]:
                found.append(test)
    return {t.name: t for t in found}


EXAMPLES = _examples()
_MODULE_GLOBALS = {name: dict(t.globs) for name, t in EXAMPLES.items()}


def _namespace():
    ferronet.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    model = ferronet.Sequential([
        ferronet.Input((4,)),
        ferronet.layers.Dense(8, activation="relu"),
        ferronet.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return {"np": np, "ferronet": ferronet, "fn": ferronet, "model": model, "x": x, "y": y}


def test_there_are_examples_to_run():
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_example(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    test = EXAMPLES[name]
    test.globs = {**_MODULE_GLOBALS[name], **_namespace()}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = []
    result = runner.run(test, out=out.append, clear_globs=False)
    assert result.failed == 0, "".join(out)
