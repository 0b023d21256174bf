"""Compiled metrics and the logs of ``fit``/``evaluate``: resolution from shapes, updates, per-output names."""

from __future__ import annotations

import numpy as np

from . import multi_io


class MetricLogs:
    """Mixin: resolves the compiled metrics on the first batch, updates them, and builds the logs dict."""

    def _ensure_metrics(self, y_true, y_pred):
        if self._compile_metrics is not None:
            return
        if y_true is None or y_pred is None:  # a custom train_step on x alone: compiled metrics need both
            self._compile_metrics, self._metric_weighted = [], []
            return
        from .. import metrics as metrics_module

        if self._output_metric_specs is not None:
            return self._ensure_output_metrics(y_true, y_pred)
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

    def _ensure_output_metrics(self, y_true, y_pred):
        """Metrics per output, named ``"<output>_<metric>"`` (Keras' multi-output logs)."""
        from .. import metrics as metrics_module

        names = multi_io.output_names(self)
        losses = self.loss.losses if isinstance(self.loss, multi_io.MultiLoss) else [self.loss] * len(names)
        ms, outs = [], []
        for i, spec in self._output_metric_specs:
            m = metrics_module.get(spec, loss=losses[i], y_true=y_true[i], y_pred=y_pred[i])
            m.name = f"{names[i]}_{m.name}"
            ms.append(m)
            outs.append(i)
        self._compile_metrics, self._metric_weighted, self._metric_outputs = ms, [False] * len(ms), outs

    def _update_metrics(self, y_true, y_pred, sw):
        if self._metric_outputs is not None:
            for m, i in zip(self._compile_metrics, self._metric_outputs):
                m.update_state(y_true[i], y_pred[i])
            return
        tail = self._y_tail
        for m, w in zip(self._compile_metrics, self._metric_weighted):
            yt = y_true
            if tail is not None and not type(m).__module__.startswith("ferronet."):
                # a user's Metric sees the labels as given to fit, as in Keras (ferronet flattens class ids)
                yt = np.reshape(y_true, (len(y_true),) + tail) if np.size(y_true) == len(y_true) * int(
                    np.prod(tail)) else y_true
            m.update_state(yt, y_pred, sample_weight=sw if w else None)

    def _logs(self, prefix=""):
        if self._step_logs is not None:
            return {prefix + k: v for k, v in self._step_logs.items()}
        logs = {prefix + "loss": self._loss_sum / max(1, self._loss_count)}
        for name, total in (self._out_loss or {}).items():
            logs[f"{prefix}{name}_loss"] = total / max(1, self._loss_count)
        for m in self._compile_metrics or []:
            logs[prefix + m.name] = _number(m.result())
        return logs

    # -------------------------------------------------------------------- steps


def _number(value):
    """A metric's result as a Python float (or a copied array for vector results): variables and tensors too."""
    if isinstance(value, (float, int)):
        return value
    a = np.asarray(value)
    return float(a) if a.ndim == 0 else np.array(a, copy=True)
