"""The training loops: ``fit``, ``evaluate``, ``predict`` and the ``*_on_batch`` methods.

Batches come from arrays (shuffled into reused buffers), batch sources or
several inputs/outputs (:mod:`.multi_io`); each step runs the model's plan
(:mod:`.plan_step`: Sequential and functional models) or the tape step of
:mod:`.steps` (other models, and models with their own ``train_step``); :mod:`.metric_logs` keeps the
compiled metrics and the logs.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings

import numpy as np

from . import data as data_module
from . import multi_io
from . import steps as tape_steps
from .plan_step import PlanStep, _pm1
from .fit_support import (
    _active_distribution, _array_batches, _check_output_against_loss, _format_logs, _InterruptGuard,
    _positive_int, _validate_now, _verbose,
)
from .metric_logs import MetricLogs


def one_at_a_time(method):
    """Run ``method`` holding the model's lock: its layers compute in buffers they keep, so two
    threads using one model at once (predict from a thread pool, say) take turns instead of
    overwriting each other's activations. Reentrant: ``fit`` may call ``evaluate``."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._busy:
            return method(self, *args, **kwargs)

    return locked


class Trainer(PlanStep, MetricLogs):
    """Mixin giving a model Keras' training and inference methods."""

    _train_cache = None
    _step_logs = None  # logs returned by a custom train_step/test_step
    _y_tail = None  # trailing shape of the labels given to fit/evaluate
    _output_metric_specs = None  # [(output index, metric spec)] of a multi-output model
    _metric_outputs = None  # output index of each compiled metric (multi-output models)
    _out_loss = None  # output name -> loss sum over the epoch (multi-output models)
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

    def _multi_io(self):
        return len(getattr(self, "inputs", None) or ()) > 1 or len(getattr(self, "outputs", None) or ()) > 1

    def _input_array(self, x, what="x"):
        if self._multi_io():
            return multi_io.arrange([t.name for t in self.inputs], x, "inputs")
        x = data_module.as_array(x, what)
        if x is None:
            raise ValueError(f"{what} is required. Received: {what}=None")
        if not self.built:
            self.build((None,) + x.shape[1:])
        want = self._model_input_shape()
        if x.ndim == 1 and tuple(want) == (None, 1):
            x = x.reshape(-1, 1)  # Keras adds the feature axis to a 1-D x for a model taking (1,)
        if x.ndim != len(want) or any(w is not None and s != w for s, w in zip(x.shape[1:], want[1:])):
            raise data_module.shape_mismatch(self.name, want, x.shape)
        return x

    def _prepare_xy(self, x, y, sample_weight, class_weight, what=""):
        """Validated arrays and feeders for labelled data (one call per fit/evaluate)."""
        if self._multi_io():
            return multi_io.prepare(self, x, y, sample_weight, class_weight, what)
        x = self._input_array(x, what + "x")
        if y is None and tape_steps.custom(self, "train_step"):
            # a custom train_step that takes x alone (an autoencoder, a VAE), as Keras allows
            return len(x), (data_module.Feeder(x, self._model_dtype()), None, None, None)
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
        self._y_tail = tuple(np.shape(y)[1:])
        _check_output_against_loss(self, y)
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
        strategy = _active_distribution(x)
        if strategy is not None:  # set_distribution(DataParallel()): this process trains its part of each batch
            return strategy.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                                validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                                class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                                validation_batch_size=validation_batch_size, validation_freq=validation_freq)
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
        steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
        x = self._input_array(x)
        y_arr = multi_io.arrange(multi_io.output_names(self), y, "outputs") if self._multi_io() and y is not None \
            else data_module.as_array(y, "y")
        if y_arr is None and not tape_steps.custom(self, "train_step"):
            raise ValueError("y is required: ferronet trains on arrays (x, y). Received: y=None")
        if y_arr is None and validation_split:
            raise ValueError("validation_split needs y; give validation_data instead. Received: y=None")
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
            only = None if self._multi_io() else data_module.describe_tail_classes(self.loss, val[1])
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
        full = -(-n // batch_size) if n else 0
        # With steps_per_epoch, an epoch takes that many batches and the next epoch goes on from there (Keras 3),
        # starting a new (reshuffled) pass over the data whenever one ends.
        steps = full if steps_per_epoch is None else steps_per_epoch
        fx, fy, fsw, fym = feeds
        perm = None
        if shuffle:
            from ..utils import random as _random

            rng = _random.generator()
            perm = np.arange(n)
        position = [0]

        def epoch_batches(epoch):
            for _ in range(steps):
                k = position[0] % full if full else 0
                position[0] += 1
                if k == 0 and perm is not None:
                    rng.shuffle(perm)
                start = k * batch_size
                stop = min(n, start + batch_size)
                idx = None if perm is None else perm[start:stop]
                yb = None if fy is None else fy.batch(start, stop, idx)
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
            # a callback may move the start (BackupAndRestore resuming an interrupted run)
            initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
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
        if c is None:
            from .model import Model

            if type(self).call is Model.call and not hasattr(self, "_nodes"):
                return None  # no forward pass to peek at: the model trains only through its own train_step
            if isinstance(xb, list):  # several inputs: a few rows of each
                out = self([a[:2] for a in xb], training=False)
                return [np.array(o, copy=True) for o in out] if isinstance(out, (list, tuple)) else np.array(out)
            return np.array(self(xb[: min(2, len(xb))], training=False), copy=True)
        xs = [a[: min(2, len(a))] for a in xb] if isinstance(xb, list) else [xb[: min(2, len(xb))]]
        if c.outputs is not None:
            return [np.array(p, copy=True) for p in self._predictions(c, c.plan.forward(xs, False))]
        return np.array(self._plan_predict(c.plan, xs)[0], copy=True)

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
        plan = self._plan()
        columns = isinstance(x, multi_io.Columns)
        shapes = self._plan_output_shapes(plan) if plan is not None else None
        if shapes is None or tape_steps.custom(self, "predict_step") or not (columns or isinstance(x, np.ndarray)):
            return tape_steps.predict_array(self, x, batch_size, cbs)
        n = len(x)
        dtype = self._model_dtype()
        results = [np.empty((n,) + shape, dtype) for shape in shapes]
        feeders = [data_module.Feeder(a, dtype) for a in (x.as_list() if columns else [x])]
        steps = -(-n // batch_size)
        for step in range(steps):
            start = step * batch_size
            stop = min(n, start + batch_size)
            if cbs is not None:
                cbs.on_predict_batch_begin(step)
            for r, out in zip(results, self._plan_predict(plan, [f.batch(start, stop) for f in feeders])):
                r[start:stop] = out
            if cbs is not None:
                batch = [r[start:stop] for r in results]
                cbs.on_predict_batch_end(step, {"outputs": batch if len(batch) > 1 else batch[0]})
        return results if len(results) > 1 else results[0]

    def _plan_output_shapes(self, plan):
        """Each output's shape without the batch axis, or None when one is not fixed (the tape predicts)."""
        if len(plan.outs) == 1:
            shapes = [tuple(self._model_output_shape()[1:])]
        else:
            shapes = [tuple(t.shape[1:]) for t in getattr(self, "outputs", None) or ()]
            if len(shapes) != len(plan.outs):
                return None
        return shapes if all(d is not None for s in shapes for d in s) else None

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
        if hasattr(x, "dask") and hasattr(x, "map_blocks"):  # a Dask array: a lazy Dask array of outputs
            from ..distribution import predict as dask_predict

            return dask_predict(self, x, batch_size=batch_size)
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
