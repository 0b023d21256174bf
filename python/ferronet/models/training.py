"""The training loops: ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch`` methods.

A step is: forward through the layers (each writing into its own reused
buffers), the loss and its gradient in one core call (fused with the output
softmax/sigmoid when possible), backward through the layers down to the first
trainable one, regularization gradients, and one in-place optimizer update per
variable. Nothing is allocated once the buffers for the batch size exist.
"""

from __future__ import annotations

import functools
import math
import signal
from typing import Any
import sys
import threading
import warnings

import numpy as np

from ..layers import base as layers_base
from . import data as data_module


def one_at_a_time(method):
    """Run ``method`` holding the model's lock: its layers compute in buffers they keep, so two
    threads using one model at once (predict from a thread pool, say) take turns instead of
    overwriting each other's activations. Reentrant: ``fit`` may call ``evaluate``."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._busy:
            return method(self, *args, **kwargs)

    return locked


class _StepCache:
    """What a training step needs, recomputed only when layers or trainable flags change."""

    __slots__ = ("key", "layers", "body", "last", "fused", "train_vars", "reg_vars", "stop", "per_n", "weight",
                 "act", "relu_pool", "fused_opt", "opt_vars")
    key: tuple
    layers: list
    body: list
    last: Any
    fused: bool
    train_vars: list
    reg_vars: list
    stop: int
    relu_pool: list
    fused_opt: list
    opt_vars: list
    per_n: bool
    weight: float
    act: Any


class _InterruptGuard:
    """Turns the first Ctrl-C during ``fit`` into a stop request honoured between batches.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once. Outside the main
    thread (where signal handlers cannot be set) Ctrl-C behaves as usual.
    """

    def __init__(self):
        self.requested = False
        self._old = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except (ValueError, OSError):
                self._installed = False
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._old)
        return False


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return int(verbose)


class Trainer:
    """Mixin giving a model Keras' training and inference methods."""

    _train_cache = None
    _compile_metrics = None
    _loss_sum = 0.0
    _loss_count = 0

    # ------------------------------------------------------------ preparation
    def _require_compiled(self, what):
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                f"You must call compile(optimizer, loss, metrics) before {what}(). Received: an uncompiled model "
                f"'{self.name}'"
            )

    def _step_cache(self) -> _StepCache:
        """The cached step plan (layers, trainable variables, fusion), refreshed when needed."""
        layers = self.layers
        key = (layers_base._TRAINABLE_VERSION[0], len(layers), id(layers[-1]) if layers else 0, id(self.loss),
               self._trainable)
        c = self._train_cache
        if c is not None and c.key == key:
            return c
        if not layers:
            raise ValueError(f"Model '{self.name}' has no layers. Received: an empty Sequential model")
        c = _StepCache()
        c.key = key
        c.layers = list(layers)
        c.body = c.layers[:-1]
        c.last = c.layers[-1]
        loss = self.loss
        act = c.last._fusable_activation()
        c.fused = bool(loss is not None and loss._fuse is not None and not loss.from_logits and act == loss._fuse)
        c.act = c.last._act if c.fused else None
        c.train_vars = list(self.trainable_weights)
        c.reg_vars = [v for v in c.train_vars if v.regularizer is not None]
        c.stop = len(c.layers)
        for i, layer in enumerate(c.layers):
            if layer.trainable_weights:
                c.stop = i
                break
        # A ReLU followed by max pooling: the pool's backward applies the ReLU's gradient too.
        c.relu_pool = []
        for i in range(c.stop, len(c.layers) - 1):
            act, nxt = getattr(c.layers[i], "_act", None), c.layers[i + 1]
            if act is not None and act.name == "relu" and getattr(nxt, "_can_take_relu_grad", lambda: False)():
                c.relu_pool.append((c.layers[i], nxt))
        # Dense kernels whose optimizer step runs inside their weight-gradient kernel (plain Adam).
        c.fused_opt = []
        opt = getattr(self, "optimizer", None)
        if opt is not None and opt._fuses_into_gradient():
            train_ids = {id(v) for v in c.train_vars}
            for layer in c.layers[c.stop:]:
                kernel = getattr(layer, "kernel", None)
                if (getattr(layer, "_fusable_adam", False) and kernel is not None and id(kernel) in train_ids
                        and kernel.regularizer is None):
                    c.fused_opt.append(layer)
            opt._ensure_slots(c.train_vars)
        fused_ids = {id(layer.kernel) for layer in c.fused_opt}
        c.opt_vars = [v for v in c.train_vars if id(v) not in fused_ids]
        if loss is not None:
            loss._check_kernels(fused=c.fused)
        if c.reg_vars:
            from ..regularizers import _penalty_kernel

            _penalty_kernel()
        c.per_n = loss is not None and loss.reduction == "sum_over_batch_size"
        c.weight = float(getattr(self, "_loss_weight", 1.0))
        self._train_cache = c
        return c

    def _ensure_metrics(self, y_true, y_pred):
        if self._compile_metrics is not None:
            return
        from .. import metrics as metrics_module

        ms, weighted = [], []
        for spec, w in [(s, False) for s in self._metric_specs] + [(s, True) for s in self._weighted_specs]:
            m = metrics_module.get(spec, loss=self.loss, y_true=y_true, y_pred=y_pred)
            if w and any(m is other for other in ms):
                raise ValueError(f"A metric object cannot be both weighted and unweighted. Received: {m!r}")
            ms.append(m)
            weighted.append(w)
        names = [m.name for m in ms]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"Metric names must be unique in the logs. Received: duplicate names {sorted(dup)}")
        # Dry run on the peeked rows so a metric that cannot take these labels fails before any weight changes.
        rows = min(len(y_true), len(y_pred))
        for m in ms:
            m.update_state(y_true[:rows], y_pred[:rows])
            m.reset_state()
        self._compile_metrics = ms
        self._metric_weighted = weighted

    def _update_metrics(self, y_true, y_pred, sw):
        for m, w in zip(self._compile_metrics, self._metric_weighted):
            m.update_state(y_true, y_pred, sample_weight=sw if w else None)

    def _logs(self, prefix=""):
        logs = {prefix + "loss": self._loss_sum / max(1, self._loss_count)}
        for m in self._compile_metrics or []:
            logs[prefix + m.name] = m.result()
        return logs

    # -------------------------------------------------------------------- steps
    def _loss_and_grad(self, c, z, yb, swb, n):
        scale = c.weight / n if c.per_n else c.weight
        lv, dz = self.loss._train_grad(z, yb, swb, scale, c.last._buf("dloss", z.shape), c.fused)
        total = float(lv.sum()) if swb is None else float(np.dot(lv, swb))
        return c.weight * total / n if c.per_n else c.weight * total, dz

    def _train_step(self, c, xb, yb, swb, ymb):
        """One optimizer step on a batch; returns the batch loss (regularization included)."""
        n = xb.shape[0]
        h = xb
        for layer in c.body:
            h = layer.call(h, True)
        last = c.last
        last._logits = c.fused
        for layer, pool in c.relu_pool:
            layer._act_grad_done = pool._through_relu = True
        lr = None
        if c.fused_opt:
            opt = self.optimizer
            lr = opt._current_lr()
            step = (opt, opt.iterations + 1, lr)
            for layer in c.fused_opt:
                layer._fused_adam = step
        try:
            z = last.call(h, True)
            loss, dy = self._loss_and_grad(c, z, yb, swb, n)
            layers = c.layers
            stop = c.stop
            for i in range(len(layers) - 1, stop - 1, -1):
                dy = layers[i].backward(dy, i > stop)
        finally:
            last._logits = False
            for layer, pool in c.relu_pool:
                layer._act_grad_done = pool._through_relu = False
            for layer in c.fused_opt:
                layer._fused_adam = None
        for v in c.reg_vars:
            loss += v.regularizer._add_gradient(v.value, v.grad)
        if c.train_vars:
            self.optimizer._apply_variables(c.opt_vars, lr)
        if self._compile_metrics:
            y_pred = c.act.forward(z, last._buf("y", z.shape)) if c.fused else z
            self._update_metrics(ymb, y_pred, swb)
        self._loss_sum += loss * n
        self._loss_count += n
        return loss

    def _test_step(self, c, xb, yb, swb, ymb):
        n = xb.shape[0]
        h = xb
        for layer in c.body:
            h = layer.call(h, False)
        last = c.last
        last._logits = c.fused
        try:
            z = last.call(h, False)
        finally:
            last._logits = False
        loss, _ = self._loss_and_grad(c, z, yb, swb, n)
        for v in c.reg_vars:
            loss += v.regularizer(v.value)
        if self._compile_metrics:
            y_pred = c.act.forward(z, last._buf("y", z.shape)) if c.fused else z
            self._update_metrics(ymb, y_pred, swb)
        self._loss_sum += loss * n
        self._loss_count += n
        return loss

    # ------------------------------------------------------------ data setup
    def _input_array(self, x, what="x"):
        x = data_module.as_array(x, what)
        if x is None:
            raise ValueError(f"{what} is required. Received: {what}=None")
        if not self.built:
            self.build((None,) + x.shape[1:])
        want = self._model_input_shape()
        if x.ndim != len(want) or any(w is not None and s != w for s, w in zip(x.shape[1:], want[1:])):
            raise data_module.shape_mismatch(self.name, want, x.shape)
        return x

    def _prepare_xy(self, x, y, sample_weight, class_weight, what=""):
        """Validated arrays and feeders for labelled data (one call per fit/evaluate)."""
        x = self._input_array(x, what + "x")
        if y is None:
            raise ValueError(
                f"{what}y is required: ferronet trains on arrays (x, y). Received: {what}y=None"
            )
        y = data_module.as_array(y, what + "y")
        sw = None
        if sample_weight is not None:
            sw = data_module.as_array(sample_weight, what + "sample_weight").astype(self._model_dtype(), copy=False)
            if sw.ndim != 1:
                sw = sw.reshape(len(sw), -1)
                if sw.shape[1] != 1:
                    raise ValueError(f"sample_weight must hold one weight per sample. Received: shape {sample_weight.shape}")
                sw = sw[:, 0]
        data_module.check_lengths(**{what + "x": x, what + "y": y, what + "sample_weight": sw})
        data_module.check_finite(x, what + "x", self._model_dtype())
        data_module.check_finite(y, what + "y", self._model_dtype())
        data_module.check_finite(sw, what + "sample_weight", self._model_dtype())
        targets, kind = data_module.prepare_targets(self.loss, y, self._model_output_shape(), self._model_dtype(),
                                                    what + "y")
        if class_weight is not None:
            cw = data_module.class_weight_to_sample_weight(y, class_weight, self._model_dtype())
            sw = cw if sw is None else sw * cw
        dtype = self._model_dtype()
        metric_targets = None
        if self.loss._labels == "pm1":
            metric_targets = targets
            targets = _pm1(targets, dtype)
        feeds = (
            data_module.Feeder(x, self._model_dtype()),
            data_module.Feeder(targets, data_module._SPARSE_DTYPE if kind == "ids" else dtype),
            None if sw is None else data_module.Feeder(np.ascontiguousarray(sw), dtype),
            None if metric_targets is None else data_module.Feeder(metric_targets, dtype),
        )
        return len(x), feeds

    def _model_dtype(self):
        return self._np_dtype

    # --------------------------------------------------------------------- fit
    @one_at_a_time
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train the model for a fixed number of epochs (Keras semantics).

        Args:
            x: inputs, ``(samples, ...)``; or a source of ready batches ``(x, y)`` / ``(x, y, sample_weight)``:
                a generator or iterator (give ``steps_per_epoch``), or an object with ``__len__`` and
                ``__getitem__`` returning batch ``i`` (like ``keras.utils.PyDataset``; its ``on_epoch_end()`` is
                called after each epoch). ``y`` must then be None.
            y: targets: class ids, one-hot rows or values, matching the loss.
            batch_size: samples per step (default 32).
            epochs: index of the last epoch (training runs ``initial_epoch`` to ``epochs - 1``).
            verbose: ``"auto"``/1 (progress bar; one line per epoch when output is redirected), 2 (one line per
                epoch) or 0 (silent).
            callbacks: list of ``ferronet.callbacks.Callback``.
            validation_split: fraction of the data, taken from the end of ``x``/``y`` before shuffling, kept for
                validation (a warning tells when that tail holds a single class).
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``; overrides the split.
            shuffle: reshuffle the training samples every epoch.
            class_weight: ``{class id: weight}`` multiplying each sample's loss.
            sample_weight: ``(samples,)`` weights of each sample's loss.
            initial_epoch: epoch to start from (to resume training).
            steps_per_epoch: batches per epoch from a batch source (default: its length).
            validation_steps: batches drawn from a validation batch source (default: its length).
            validation_batch_size: batch size for validation (default: ``batch_size``).
            validation_freq: validate every this many epochs (int) or at these epochs (1-based container).

        Returns:
            A ``History`` whose ``history`` dict maps ``"loss"``, metric names and their ``"val_"`` versions to
            per-epoch lists. Ctrl-C stops training cleanly between batches and returns the History so far.

        Raises:
            ValueError: for inconsistent arguments, or labels that do not fit the loss, before any training.
        """
        self._require_compiled("fit")
        from .. import callbacks as callbacks_module

        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer. Received: epochs={epochs!r}")
        verbose = _verbose(verbose)
        if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be a float in [0, 1). Received: validation_split={validation_split!r}")
        if data_module.is_batch_source(x):
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError(
                    "x is a source of (x, y) batches, so y, sample_weight and validation_split must not be given. "
                    f"Received: y={type(y).__name__}, sample_weight={type(sample_weight).__name__}, "
                    f"validation_split={validation_split}"
                )
            steps = data_module.source_steps(x, steps_per_epoch, "steps_per_epoch")
            return self._fit_loop(
                lambda epoch: self._source_batches(x, steps, class_weight, ""), steps, epochs, initial_epoch,
                verbose, callbacks, validation_data, validation_steps, validation_batch_size or batch_size,
                validation_freq, batch_size, on_epoch_end=getattr(x, "on_epoch_end", None))
        if steps_per_epoch is not None:
            raise ValueError(
                "steps_per_epoch applies to a source of batches (a generator or dataset); with arrays, batch_size "
                f"decides the steps. Received: steps_per_epoch={steps_per_epoch}"
            )
        x = self._input_array(x)
        y_arr = data_module.as_array(y, "y")
        if y_arr is None:
            raise ValueError("y is required: ferronet trains on arrays (x, y). Received: y=None")
        sw_arr = None if sample_weight is None else data_module.as_array(sample_weight, "sample_weight")
        data_module.check_lengths(x=x, y=y_arr, sample_weight=sw_arr)

        val = None
        if validation_data is not None and data_module.is_batch_source(validation_data):
            pass  # evaluated as a source by the loop
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val). "
                    f"Received: {type(validation_data).__name__} of length "
                    f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}"
                )
            val = tuple(validation_data) + (None,) * (3 - len(validation_data))
        elif validation_split:
            n_all = len(x)
            split = int(math.floor(n_all * (1.0 - validation_split)))
            if split == 0 or split == n_all:
                raise ValueError(
                    f"validation_split={validation_split} of {n_all} samples leaves an empty training or validation "
                    f"set. Received: validation_split={validation_split}"
                )
            val = (x[split:], y_arr[split:], None if sw_arr is None else sw_arr[split:])
            x, y_arr = x[:split], y_arr[:split]
            sw_arr = None if sw_arr is None else sw_arr[:split]
            only = data_module.describe_tail_classes(self.loss, val[1])
            if only is not None:
                warnings.warn(
                    f"validation_split={validation_split} takes the last {n_all - split} samples, before shuffling "
                    f"(Keras semantics), and they all belong to class {only}: validation metrics will be "
                    "misleading. Shuffle x and y first, or pass validation_data.",
                    UserWarning,
                    stacklevel=2,
                )
        n, feeds = self._prepare_xy(x, y_arr, sw_arr, class_weight)
        if val is not None:
            validation_data = self._prepare_xy(val[0], val[1], val[2], None, what="validation ")
        steps = -(-n // batch_size) if n else 0
        fx, fy, fsw, fym = feeds
        perm = None
        if shuffle:
            from ..utils import random as _random

            rng = _random.generator()
            perm = np.arange(n)

        def epoch_batches(epoch):
            if perm is not None:
                rng.shuffle(perm)
            for step in range(steps):
                start = step * batch_size
                stop = min(n, start + batch_size)
                idx = None if perm is None else perm[start:stop]
                yb = fy.batch(start, stop, idx)
                yield (fx.batch(start, stop, idx), yb, None if fsw is None else fsw.batch(start, stop, idx),
                       yb if fym is None else fym.batch(start, stop, idx))

        return self._fit_loop(epoch_batches, steps, epochs, initial_epoch, verbose, callbacks, validation_data,
                              validation_steps, validation_batch_size or batch_size, validation_freq, batch_size)

    def _fit_loop(self, epoch_batches, steps, epochs, initial_epoch, verbose, callbacks, validation, val_steps,
                  val_bs, validation_freq, batch_size, on_epoch_end=None):
        """The epochs of ``fit``: ``epoch_batches(epoch)`` yields ``steps`` batches (x, y, sample_weight,
        metric targets); ``validation`` is prepared arrays, a batch source, or None."""
        from .. import callbacks as callbacks_module

        val_bs = _positive_int(val_bs, "validation_batch_size")
        val_source_steps = None
        if validation is not None and data_module.is_batch_source(validation):
            val_source_steps = data_module.source_steps(validation, val_steps, "validation_steps")
        cbs = callbacks_module.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                            verbose=verbose, epochs=int(epochs), steps=steps)
        self.stop_training = False
        self._keep_buffers_for(batch_size)
        c = self._step_cache()
        logs = {}
        interrupted = None
        nan_reported = False
        with _InterruptGuard() as guard:
            cbs.on_train_begin()
            for epoch in range(int(initial_epoch), int(epochs)):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                for step, (xb, yb, swb, ymb) in enumerate(epoch_batches(epoch)):
                    if guard.requested:
                        interrupted = (epoch, step)
                        break
                    cbs.on_train_batch_begin(step)
                    if self._compile_metrics is None:
                        self._ensure_metrics(ymb, self._peek_prediction(c, xb))
                        c = self._step_cache()
                    loss = self._train_step(c, xb, yb, swb, ymb)
                    if not nan_reported and not math.isfinite(loss):
                        nan_reported = True
                        warnings.warn(
                            f"The loss became {loss} at epoch {epoch + 1}, batch {step + 1}: training is diverging "
                            "(lower the learning rate, check the data) or the inputs are extreme. Add "
                            "ferronet.callbacks.TerminateOnNaN() to stop automatically.",
                            RuntimeWarning,
                            stacklevel=3,
                        )
                    cbs.on_train_batch_end(step, self._logs() if cbs.batch_logs_needed("train") else None)
                    if self.stop_training:  # e.g. TerminateOnNaN: end the epoch now, as Keras does
                        break
                if interrupted is not None:
                    break
                if on_epoch_end is not None:
                    on_epoch_end()
                logs = self._logs()
                if validation is not None and _validate_now(epoch, validation_freq):
                    if val_source_steps is not None:
                        batches = self._source_batches(validation, val_source_steps, None, "validation ")
                        val_logs = self._evaluate_batches(batches, cbs)
                    else:
                        val_logs = self._evaluate_batches(_array_batches(validation, val_bs), cbs)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            if interrupted is not None:
                sys.stderr.write(
                    f"\nTraining interrupted (Ctrl-C) in epoch {interrupted[0] + 1}, before batch "
                    f"{interrupted[1] + 1}/{steps}. The model keeps the weights of the last completed batch; "
                    "the History holds the completed epochs.\n"
                )
                self.stop_training = True
            cbs.on_train_end(logs)
        return cbs.history

    def _source_batches(self, source, steps, class_weight, what):
        """``steps`` batches of a batch source, each checked like arrays given to ``fit``."""
        step = 0
        for item in data_module.source_items(source, steps):
            step += 1
            xb, yb, swb = data_module.unpack_batch(item, what)
            n, (fx, fy, fsw, fym) = self._prepare_xy(xb, yb, swb, class_weight, what=what)
            yb = fy.batch(0, n)
            yield fx.batch(0, n), yb, None if fsw is None else fsw.batch(0, n), yb if fym is None else fym.batch(0, n)
        if step < steps:
            warnings.warn(
                f"The {what}data source ran out after {step} of {steps} batches; the epoch ends there. Give "
                "steps_per_epoch (validation_steps) to match the source, or make it repeat.",
                UserWarning,
                stacklevel=4,
            )

    def _peek_prediction(self, c, xb):
        """Model predictions on a few rows, to resolve metrics like ``"accuracy"`` from shapes."""
        h = xb[: min(2, len(xb))]
        for layer in c.layers:
            h = layer.call(h, False)
        return np.array(h, copy=True)

    # ---------------------------------------------------------------- evaluate
    def _evaluate_batches(self, batches, cbs=None):
        """Loss and metrics over ``batches`` of (x, y, sample_weight, metric targets), inference mode."""
        c = self._step_cache()
        self.reset_metrics()
        if cbs is not None:
            cbs.on_test_begin()
        for step, (xb, yb, swb, ymb) in enumerate(batches):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            if self._compile_metrics is None:
                self._ensure_metrics(ymb, self._peek_prediction(c, xb))
            self._test_step(c, xb, yb, swb, ymb)
            if cbs is not None:
                cbs.on_test_batch_end(step, self._logs() if cbs.batch_logs_needed("test") else None)
        logs = self._logs()
        if cbs is not None:
            cbs.on_test_end(logs)
        return logs

    @one_at_a_time
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics over ``(x, y)`` in inference mode (Dropout off, BatchNormalization moving stats).

        Args:
            x, y: inputs and targets; or ``x`` a source of ``(x, y)`` batches, as for :meth:`fit`.
            batch_size: default 32.
            verbose: 0 silent, 1/"auto" progress bar, 2 one line.
            sample_weight: optional per-sample weights.
            steps: batches drawn from a batch source (default: its length).
            callbacks: optional callbacks (``on_test_*`` hooks).
            return_dict: return ``{"loss": ..., "accuracy": ...}`` instead of a list.

        Returns:
            The loss (a float) when there are no metrics, else ``[loss, *metrics]``, or a dict.
        """
        self._require_compiled("evaluate")
        from .. import callbacks as callbacks_module

        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        verbose = _verbose(verbose)
        if data_module.is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ValueError(f"x is a source of (x, y) batches, so y and sample_weight must not be given. "
                                 f"Received: y={type(y).__name__}, sample_weight={type(sample_weight).__name__}")
            steps = data_module.source_steps(x, steps, "steps")
            batches = self._source_batches(x, steps, None, "")
        else:
            feeds = self._prepare_xy(x, y, sample_weight, None)
            steps = -(-feeds[0] // batch_size)
            batches = _array_batches(feeds, batch_size)
        cbs = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                            epochs=1, steps=steps)
        logs = self._evaluate_batches(batches, cbs)
        return _format_logs(logs, return_dict)

    # ----------------------------------------------------------------- predict
    def _predict_array(self, x, batch_size, cbs=None):
        n = len(x)
        out_shape = self._model_output_shape()
        dtype = self._model_dtype()
        result = np.empty((n,) + tuple(out_shape[1:]), dtype)
        fx = data_module.Feeder(x, dtype)
        layers = self.layers
        steps = -(-n // batch_size)
        for step in range(steps):
            start = step * batch_size
            stop = min(n, start + batch_size)
            if cbs is not None:
                cbs.on_predict_batch_begin(step)
            h = fx.batch(start, stop)
            for layer in layers:
                h = layer.call(h, False)
            result[start:stop] = h
            if cbs is not None:
                cbs.on_predict_batch_end(step, {"outputs": result[start:stop]})
        return result

    @one_at_a_time
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for ``x``, computed batch by batch in inference mode.

        Args:
            x: inputs ``(samples, ...)``; or a source of batches (each ``x`` or a tuple whose first item is ``x``),
                as for :meth:`fit`.
            batch_size: default 32.
            verbose: 0 silent, 1/"auto" progress bar, 2 one line.
            steps: batches drawn from a batch source (default: its length).
            callbacks: optional callbacks (``on_predict_*`` hooks).

        Returns:
            A new array ``(samples, *output_shape)``.
        """
        from .. import callbacks as callbacks_module

        batch_size = _positive_int(32 if batch_size is None else batch_size, "batch_size")
        verbose = _verbose(verbose)
        if data_module.is_batch_source(x):
            steps = data_module.source_steps(x, steps, "steps")
            parts = []
            for item in data_module.source_items(x, steps):
                xb = item[0] if isinstance(item, tuple) else item
                parts.append(self._predict_array(self._input_array(xb), batch_size))
            if not parts:
                raise ValueError("predict got no batches from the data source. Received: an empty source")
            return np.concatenate(parts)
        x = self._input_array(x)
        cbs = None
        if verbose or callbacks:
            cbs = callbacks_module.CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                                                epochs=1, steps=-(-len(x) // batch_size))
            cbs.on_predict_begin()
        result = self._predict_array(x, batch_size, cbs)
        if cbs is not None:
            cbs.on_predict_end()
        return result

    # -------------------------------------------------------------- on_batch
    @one_at_a_time
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the running loss and metrics (Keras semantics).

        Metrics accumulate across calls until :meth:`reset_metrics`.
        """
        self._require_compiled("train_on_batch")
        n, (fx, fy, fsw, fym) = self._prepare_xy(x, y, sample_weight, class_weight)
        c = self._step_cache()
        xb, yb = fx.batch(0, n), fy.batch(0, n)
        swb = None if fsw is None else fsw.batch(0, n)
        ymb = yb if fym is None else fym.batch(0, n)
        if self._compile_metrics is None:
            self._ensure_metrics(ymb, self._peek_prediction(c, xb))
            c = self._step_cache()
        self._train_step(c, xb, yb, swb, ymb)
        return _format_logs(self._logs(), return_dict)

    @one_at_a_time
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch in inference mode (accumulating like ``train_on_batch``)."""
        self._require_compiled("test_on_batch")
        n, (fx, fy, fsw, fym) = self._prepare_xy(x, y, sample_weight, None)
        c = self._step_cache()
        xb, yb = fx.batch(0, n), fy.batch(0, n)
        ymb = yb if fym is None else fym.batch(0, n)
        if self._compile_metrics is None:
            self._ensure_metrics(ymb, self._peek_prediction(c, xb))
        self._test_step(c, xb, yb, None if fsw is None else fsw.batch(0, n), ymb)
        return _format_logs(self._logs(), return_dict)

    @one_at_a_time
    def predict_on_batch(self, x):
        """Model outputs for one batch (a new array)."""
        x = self._input_array(x)
        return self._predict_array(x, max(1, len(x)))


def _array_batches(feeds, batch_size):
    """Batches (x, y, sample_weight, metric targets) of prepared arrays, in order."""
    n, (fx, fy, fsw, fym) = feeds
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yb = fy.batch(start, stop)
        yield fx.batch(start, stop), yb, None if fsw is None else fsw.batch(start, stop), \
            yb if fym is None else fym.batch(start, stop)


def _pm1(targets, dtype):
    from ..losses import _to_pm1

    return _to_pm1(np.asarray(targets, dtype=dtype))


def _validate_now(epoch, freq):
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        if freq <= 0:
            raise ValueError(f"validation_freq must be a positive integer. Received: validation_freq={freq!r}")
        return (epoch + 1) % int(freq) == 0
    try:
        return (epoch + 1) in freq
    except TypeError:
        raise ValueError(f"validation_freq must be an int or a container of epochs. Received: {freq!r}") from None


def _format_logs(logs, return_dict):
    logs = {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in logs.items()}
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
