"""Support tables built from ferronet's own registries, so they follow the code.

``.. ferronet-registry:: layers`` (or ``losses``, ``metrics``, ``callbacks``,
``optimizers``, ``activations``, ``initializers``) in a MyST page writes a table of every
class the registry resolves, the strings ``compile``/``get`` accept for it, and
the first line of its docstring. ``.. ferronet-missing:: layers`` lists the
names of a fixed set of common Keras classes that ferronet does not have yet;
a name leaves that list by itself once ferronet defines it.
"""

from __future__ import annotations

import inspect
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

# Common Keras 3 classes, checked against ferronet at build time by ``ferronet-missing``.
KERAS_NAMES = {
    "layers": [
        "LSTM", "GRU", "SimpleRNN", "Bidirectional", "ConvLSTM2D", "MultiHeadAttention", "Attention",
        "Conv3D", "DepthwiseConv2D", "SeparableConv2D", "Conv1DTranspose", "MaxPooling3D",
        "GroupNormalization", "RandomFlip", "RandomRotation", "TextVectorization", "StringLookup",
        "IntegerLookup", "Hashing", "CategoryEncoding", "Masking",
    ],
    "losses": [
        "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "KLDivergence", "LogCosh", "Poisson",
        "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "SquaredHinge", "CosineSimilarity",
        "CTC", "Dice", "Tversky",
    ],
    "metrics": [
        "MeanIoU", "IoU", "R2Score", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
        "SpecificityAtSensitivity", "KLDivergence", "Poisson", "LogCoshError", "CosineSimilarity",
    ],
    "callbacks": ["TensorBoard", "BackupAndRestore", "RemoteMonitor", "SwapEMAWeights"],
    "optimizers": ["Adadelta", "Adamax", "Nadam", "Ftrl", "Lion", "Lamb", "Adafactor", "LossScaleOptimizer"],
}


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return line.replace("|", "\\|")


def _rows(kind):
    """``[(qualified name, [identifiers]), ...]`` read from the registry ``kind``."""
    import ferronet as fn

    table: dict = {}

    def add(cls, ident=None):
        key = f"{cls.__module__}.{cls.__qualname__}"
        entry = table.setdefault(key, (cls, []))
        if ident and ident not in entry[1]:
            entry[1].append(ident)

    if kind == "layers":
        from ferronet import layers

        for name, cls in layers._CLASSES.items():
            add(cls, None if name == cls.__name__ else name)
    elif kind == "losses":
        from ferronet import losses

        for cls in losses._CLASSES.values():
            add(cls)
        for ident in losses._NAMES:
            add(type(losses.get(ident)), f'"{ident}"')
    elif kind == "metrics":
        from ferronet.metrics.stateful import registry

        for cls in registry._CLASSES.values():
            add(cls)
        idents = list(registry._ALIASES) + ["accuracy", "acc"] + list(registry._LOSS_METRICS)
        for ident in idents:
            try:
                metric = fn.metrics.get(ident, loss="sparse_categorical_crossentropy")
            except (ValueError, KeyError, TypeError):
                continue  # a name the registry does not resolve is not listed
            add(type(metric), f'"{ident}"')
    elif kind == "callbacks":
        for name in fn.callbacks.__all__:
            add(getattr(fn.callbacks, name))
    elif kind == "optimizers":
        from ferronet import optimizers

        for cls in optimizers._CLASSES.values():
            add(cls)
        for ident, cls in optimizers._NAMES.items():
            add(cls, f'"{ident}"')
    elif kind == "initializers":
        from ferronet import initializers

        for cls in initializers._CLASSES.values():
            add(cls)
        for ident, cls in initializers._ALIASES.items():
            add(cls, f'"{ident}"')
    elif kind == "activations":
        from ferronet import activations

        for ident, func in activations._FUNCTIONS.items():
            add(func, f'"{ident}"')
    else:
        raise ValueError(f"Unknown registry. Received: kind={kind!r}")
    return [(key, cls, idents) for key, (cls, idents) in table.items()]


def _public_target(kind, cls) -> str:
    """The name under which the API reference documents ``cls`` (its package's name)."""
    package = {"layers": "ferronet.layers", "losses": "ferronet.losses", "metrics": "ferronet.metrics",
               "callbacks": "ferronet.callbacks", "optimizers": "ferronet.optimizers",
               "initializers": "ferronet.initializers", "activations": "ferronet.activations"}[kind]
    return f"{package}.{cls.__name__}"


def _myst(text: str) -> str:
    """reStructuredText roles in a docstring line, rewritten for a MyST page."""
    return re.sub(r":(\w+):`([^`]+)`", lambda m: f"{{py:{m.group(1)}}}`{m.group(2)}`", text)


class _MystDirective(SphinxDirective):
    """Parses the Markdown it builds with the page's own (MyST) parser."""

    required_arguments = 1

    def _parse(self, lines):
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source="registry"), self.content_offset, node)
        return node.children


class RegistryTable(_MystDirective):
    def run(self):
        kind = self.arguments[0]
        role = "py:func" if kind == "activations" else "py:class"
        first = "function" if kind == "activations" else "class"
        names = "also named" if kind == "layers" else "names accepted by `compile`/`get`"
        lines = [f"| {first} | {names} | what it is |", "|---|---|---|"]
        for _key, cls, idents in sorted(_rows(kind), key=lambda r: r[1].__name__.lower()):
            idents_md = ", ".join(f"`{i}`" for i in idents)
            lines.append(f"| {{{role}}}`~{_public_target(kind, cls)}` | {idents_md} | {_myst(_summary(cls))} |")
        return self._parse(lines)


class MissingNames(_MystDirective):
    def run(self):
        import ferronet as fn

        kind = self.arguments[0]
        module = getattr(fn, kind)
        missing = [name for name in KERAS_NAMES[kind] if not hasattr(module, name)]
        return self._parse([", ".join(f"`{n}`" for n in missing) if missing else "none of the common ones"])


def setup(app):
    app.add_directive("ferronet-registry", RegistryTable)
    app.add_directive("ferronet-missing", MissingNames)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
