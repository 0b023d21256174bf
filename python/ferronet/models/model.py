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
    """A layer that can be compiled, trained and saved (Keras' ``Model``).

    Three ways to make one, as in Keras:

    - ``Model(inputs, outputs)`` from symbolic tensors (the functional API,
      :class:`~ferronet.models.functional_model.Functional`);
    - :class:`ferronet.Sequential` for a plain stack of layers;
    - a subclass that creates its layers in ``__init__`` (attributes are
      tracked) and writes ``call(inputs, training=None)`` with them and tensor
      ops; it may override ``train_step(data)``/``test_step(data)`` with a
      ``GradientTape``, and ``fit`` calls them.

    Example:
        >>> import ferronet as fn
        >>> class TwoLayers(fn.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = fn.layers.Dense(8, activation="relu")
        ...         self.out = fn.layers.Dense(1)
        ...     def call(self, inputs):
        ...         return self.out(self.hidden(inputs))
        >>> TwoLayers()(fn.constant([[1.0, 2.0]])).shape
        (1, 1)
    """

    def __new__(cls, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            from .functional_model import Functional

            if cls is Model:
                return Functional.__new__(Functional)
            if not issubclass(cls, Functional) and cls.__init__ is Model.__init__:
                # A subclass that only overrides train_step & co., built from inputs and outputs (Keras 3).
                return super().__new__(_functional_subclass(cls))
        return super().__new__(cls)

    def __init__(self, *args, trainable=True, name=None, _functional=False, **kwargs):
        if (args or "inputs" in kwargs or "outputs" in kwargs) and not _functional:
            from .functional_model import Functional

            if type(self) is Functional:
                Functional.__init__(self, *args, trainable=trainable, name=name, **kwargs)
                return
            raise TypeError(f"{type(self).__name__}.__init__ got positional arguments: a subclassed model calls "
                            f"super().__init__() (optionally name=...). Received: {len(args)} arguments")
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
        from .steps import custom

        if loss is None and self._plan() is not None and not custom(self, "train_step"):
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy'. Received: loss=None")
        self.optimizer = optimizers_module.get(optimizer)
        multi = len(getattr(self, "outputs", None) or ()) > 1
        if not multi and isinstance(loss, (list, tuple)) and len(loss) == 1:
            loss = loss[0]  # Keras accepts a one-element list for a one-output model
        if not multi and isinstance(loss, dict) and len(loss) == 1:
            loss = next(iter(loss.values()))
        self._output_metric_specs = None
        if multi:
            from . import multi_io

            self.loss = None if loss is None else multi_io.MultiLoss.build(self, loss, loss_weights)
            self._output_metric_specs = multi_io.metric_specs(multi_io.output_names(self), metrics)
            metrics, loss_weights = None, None
        else:
            self.loss = None if loss is None else losses_module.get(loss)
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

        loss, weights, metrics = self.loss, self._compile_config["loss_weights"], None
        if hasattr(loss, "losses"):  # several outputs: everything keyed by output name
            loss, weights = ({n: None if l is None else losses_module.serialize(l) for n, l in zip(
                self.loss.names, self.loss.losses)}, dict(zip(self.loss.names, self.loss.weights)))
            metrics = {}
            for i, spec in self._output_metric_specs or []:
                metrics.setdefault(self.loss.names[i], []).append(ser_metric(spec))
        elif loss is not None:
            loss = losses_module.serialize(loss)
        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": loss,
            "loss_weights": weights,
            "metrics": metrics if metrics is not None else [ser_metric(m) for m in self._metric_specs],
            "weighted_metrics": [ser_metric(m) for m in self._weighted_specs],
        }

    def compile_from_config(self, config, custom_objects=None):
        """Re-``compile`` from :meth:`get_compile_config`'s output."""
        loss, metrics = config.get("loss"), config.get("metrics")
        if isinstance(loss, dict) and "class_name" not in loss:
            loss = {k: None if v is None else losses_module.deserialize(v, custom_objects) for k, v in loss.items()}
        elif loss is not None:
            loss = losses_module.deserialize(loss, custom_objects)
        if isinstance(metrics, dict):
            metrics = {k: [_metric_from(m) for m in v] for k, v in metrics.items()}
        else:
            metrics = [_metric_from(m) for m in metrics or []] or None
        self.compile(
            optimizer=optimizers_module.deserialize(config["optimizer"], custom_objects),
            loss=loss,
            loss_weights=config.get("loss_weights"),
            metrics=metrics,
            weighted_metrics=[_metric_from(m) for m in config.get("weighted_metrics") or []] or None,
        )

    @property
    def metrics(self) -> list:
        """Keras 3's list: the loss tracker (named ``"loss"``) then the compiled metrics (after the first batch)."""
        if not self.compiled:
            return []
        from .steps import LossTracker

        return [LossTracker(self)] + list(self._compile_metrics or [])

    @property
    def layers(self) -> list:
        """The layers assigned as attributes of a subclassed model, in assignment order."""
        return list(self._tracked_layers)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A functional model from ``get_config()``'s graph description (subclasses override it)."""
        if "input_layers" in config and "layers" in config:
            from .functional_model import Functional

            return Functional.from_config(config, custom_objects=custom_objects)
        return cls(**config)

    # ------------------------------------------------ subclassed-model building
    def _build_with(self, input_shape):
        if not self.built:
            self.built = True
            self.__dict__["_seen_input"] = (None,) + tuple(input_shape[1:])
            self.input_shape = self._seen_input
        return None

    def build(self, input_shape=None):
        """Create the weights by calling the model once on zeros of ``input_shape`` (batch dimension ignored)."""
        if input_shape is None or self.__dict__.get("_seen_output") is not None:
            return
        if type(self).call is Model.call:  # a model used only through its own train_step (a VAE)
            self._build_with(tuple(input_shape))
            return
        if isinstance(input_shape, (list, dict)) or (input_shape and isinstance(input_shape[0], (tuple, list))):
            return
        shape = (1,) + tuple(1 if d is None else int(d) for d in tuple(input_shape)[1:])
        out = self(np.zeros(shape, self._np_dtype), training=False)
        self.__dict__["_seen_output"] = (None,) + tuple(np.shape(out)[1:])

    def _model_input_shape(self):
        return self.__dict__.get("_seen_input")

    def _model_output_shape(self):
        if self.__dict__.get("_seen_output") is None:
            self.build(self._model_input_shape())
        return self.__dict__.get("_seen_output")

    def get_layer(self, name=None, index=None):
        """A layer by name or by position in ``model.layers``.

        Raises:
            ValueError: when no layer has that name (the message lists them).
        """
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer; the layers are {[layer.name for layer in layers]}. Received: name={name!r}")

    def call(self, inputs, training=None):
        """The forward pass of a subclassed model (subclasses implement it)."""
        raise NotImplementedError(f"Model {type(self).__name__} must implement call(inputs, training=None), or be "
                                  "built with Model(inputs, outputs) or Sequential. Received: a model without call")

    def train_step(self, data):
        """One optimizer step on ``data = (x, y[, sample_weight])``; returns the logs. Override to customize fit."""
        from .steps import default_train_step

        return default_train_step(self, data)

    def test_step(self, data):
        """Loss and metrics on one batch in inference mode; returns the logs. Override to customize evaluate."""
        from .steps import default_test_step

        return default_test_step(self, data)

    def predict_step(self, data):
        """Outputs for one batch of inputs (override to customize predict)."""
        x = data[0] if isinstance(data, tuple) else data
        return self(x, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``(y, y_pred)`` plus the losses the layers added (Keras 3), as a scalar tensor."""
        from .steps import compute_loss

        return compute_loss(self, y, y_pred, sample_weight)

    @property
    def compiled_loss(self):
        """Keras 2's ``self.compiled_loss(y, y_pred, sample_weight, regularization_losses=...)``."""
        from .steps import CompiledLoss

        return CompiledLoss(self)

    @property
    def compiled_metrics(self):
        """Keras 2's ``self.compiled_metrics.update_state(y, y_pred, sample_weight)``."""
        from .steps import CompiledMetrics

        return CompiledMetrics(self)

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
        """Clear the loss and metric accumulators (as between epochs): every metric in ``self.metrics``."""
        self._loss_sum = 0.0
        self._loss_count = 0
        self._step_logs = None
        self._out_loss = None
        seen = list(self._compile_metrics or [])
        for m in seen:
            m.reset_state()
        for m in self.metrics:
            if all(m is not s for s in seen):
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
        so an interrupted save never leaves a broken file behind. A ``.keras``
        name writes Keras 3's format instead (see :mod:`ferronet.formats`).
        """
        from .. import saving

        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights to a ``.npz`` file (keys ``"<layer>/<weight>"``), or Keras 3's for ``*.weights.h5``."""
        from .. import saving

        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights written by :meth:`save_weights`, a full model file, or Keras' HDF5; all-or-nothing."""
        from .. import saving

        saving.load_weights(self, filepath)

    def export(self, filepath, format="", verbose=True, input_signature=None, **kwargs):
        """Export for inference elsewhere: ``format="onnx"`` (see :mod:`ferronet.formats.onnx_export`)."""
        from ..formats import onnx_export

        onnx_export.export(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def __reduce__(self):
        from .. import saving

        return saving._reduce_model(self)

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False):
        """Print the layer table: names, output shapes, parameter counts, totals (Keras' numbers)."""
        from .summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls):
    """``cls`` with the functional model's graph machinery mixed in (one class per subclass)."""
    from .functional_model import Functional

    mixed = _FUNCTIONAL_SUBCLASSES.get(cls)
    if mixed is None:
        mixed = _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
    return mixed


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
