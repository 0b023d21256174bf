"""``Model``: what every ferronet model has besides its layers.

``compile``, weights access, saving and pickling live here; the training
loops (``fit``, ``evaluate``, ``predict``, ``*_on_batch``) are in
:mod:`ferronet.models.training`, the layer stack in
:mod:`ferronet.models.sequential`.
"""

from __future__ import annotations

import threading

import numpy as np

from .. import losses as losses_module
from .. import optimizers as optimizers_module
from ..layers.base import Layer
from .training import Trainer

__all__ = ["Model"]


class Model(Trainer, Layer):
    """Base class of models: a layer that can be compiled, trained, saved.

    Use :class:`ferronet.Sequential`; subclasses provide ``layers``,
    ``_forward(x, training)`` and ``_backward(dy, need_dx)``.
    """

    def __init__(self, *args, trainable=True, name=None, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise NotImplementedError(
                "ferronet builds models with Sequential; the functional API Model(inputs, outputs) and subclassed "
                "models (which need autodiff) are not available. Received: Model(inputs, outputs)"
            )
        super().__init__(trainable=trainable, name=name, **kwargs)
        self._busy = threading.RLock()  # see training.one_at_a_time
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._compile_metrics = []
        self._metric_specs = []
        self._weighted_specs = []
        self._loss_weight = 1.0

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, jit_compile="auto", **kwargs):
        """Configure the model for training (Keras' ``compile``).

        Args:
            optimizer: name (``"adam"``, ``"sgd"``, ...) or optimizer object; Keras' default ``"rmsprop"``.
            loss: name (``"sparse_categorical_crossentropy"``, ``"mse"``, ...), loss function or ``Loss`` object.
            loss_weights: optional float multiplying the loss.
            metrics: list of metric names (``"accuracy"``, ``"precision"``, ``"auc"``, ...) or metric objects.
            weighted_metrics: metrics that also receive the sample weights.
            run_eagerly: accepted for Keras compatibility; ferronet always runs eagerly (no graph to compile).
            jit_compile: accepted for Keras compatibility; the kernels are compiled ahead of time.

        Raises:
            ValueError: for an unknown optimizer, loss or metric.
        """
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to compile(). Received: {kwargs}")
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy'. Received: loss=None")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        if isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != 1:
                raise ValueError(f"A Sequential model has one output, so one loss weight. Received: {loss_weights!r}")
            loss_weights = loss_weights[0]
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        self._metric_specs = _metric_list(metrics, "metrics")
        self._weighted_specs = _metric_list(weighted_metrics, "weighted_metrics")
        self._compile_metrics = None  # resolved on the first batch (accuracy depends on shapes)
        self._compile_config = {"loss": loss, "metrics": metrics, "weighted_metrics": weighted_metrics,
                                "loss_weights": loss_weights}
        self.compiled = True
        self._train_cache = None

    def get_compile_config(self):
        """JSON-able description of the ``compile`` arguments (None if not compiled)."""
        if not self.compiled:
            return None
        from .. import metrics as metrics_module

        def ser_metric(m):
            if isinstance(m, str):
                return m
            return metrics_module.serialize(m)

        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": losses_module.serialize(self.loss),
            "loss_weights": self._compile_config["loss_weights"],
            "metrics": [ser_metric(m) for m in self._metric_specs],
            "weighted_metrics": [ser_metric(m) for m in self._weighted_specs],
        }

    def compile_from_config(self, config, custom_objects=None):
        """Re-``compile`` from :meth:`get_compile_config`'s output."""
        self.compile(
            optimizer=optimizers_module.deserialize(config["optimizer"], custom_objects),
            loss=losses_module.deserialize(config["loss"], custom_objects),
            loss_weights=config.get("loss_weights"),
            metrics=[_metric_from(m) for m in config.get("metrics") or []] or None,
            weighted_metrics=[_metric_from(m) for m in config.get("weighted_metrics") or []] or None,
        )

    @property
    def metrics(self) -> list:
        """The compiled metric objects (after the first batch), loss tracker excluded."""
        return list(self._compile_metrics or [])

    @property
    def metrics_names(self) -> list:
        names = ["loss"]
        if self._compile_metrics is not None:
            names += [m.name for m in self._compile_metrics]
        else:
            names += [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in
                      self._metric_specs + self._weighted_specs]
        return names

    def reset_metrics(self):
        """Clear the loss and metric accumulators (as between epochs)."""
        self._loss_sum = 0.0
        self._loss_count = 0
        for m in self._compile_metrics or []:
            m.reset_state()

    # ----------------------------------------------------------------- weights
    def get_weights(self) -> list:
        """Copies of all weights, layer by layer, in Keras' order and layouts."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set all weights from a list like :meth:`get_weights`'s (checked before anything is assigned).

        Raises:
            ValueError: on a wrong number of arrays or a wrong shape.
        """
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"Model '{self.name}' has {len(own)} weight arrays. Received: {len(weights)} arrays")
        arrays = [np.asarray(w) for w in weights]
        for v, a in zip(own, arrays):
            if a.shape != v.shape:
                raise ValueError(f"Weight '{v.path}' has shape {v.shape}. Received: shape {a.shape}")
        for v, a in zip(own, arrays):
            v.assign(a)

    # ------------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Write the model (architecture, weights, compile settings, optimizer state) to one file.

        The file is a zip archive holding ``ferronet.json`` and ``.npz``
        weights (no pickle); it is written to a temporary file and renamed,
        so an interrupted save never leaves a broken file behind.
        """
        from .. import saving

        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights to a ``.npz`` file (keys are ``"<layer>/<weight>"``)."""
        from .. import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights written by :meth:`save_weights` (or a full model file); all-or-nothing."""
        from .. import saving

        saving.load_weights(self, filepath)

    def __reduce__(self):
        from .. import saving

        return saving._reduce_model(self)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
        """Print the layer table: names, output shapes, parameter counts, totals (Keras' numbers)."""
        from .summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)


def _metric_list(metrics, what):
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        raise ValueError(f"A Sequential model has one output; pass {what} as a list. Received: {what}={metrics!r}")
    if isinstance(metrics, (str,)) or not isinstance(metrics, (list, tuple)):
        metrics = [metrics]
    return list(metrics)


def _metric_from(m):
    if isinstance(m, dict):
        from .. import metrics as metrics_module

        return metrics_module.get(m)
    return m
