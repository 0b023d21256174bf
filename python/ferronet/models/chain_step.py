"""The fused step of chain models (``Sequential``): one pass of Rust kernels per layer, nothing allocated.

A step is: forward through the layers (each writing into its own reused
buffers), the loss and its gradient in one core call (fused with the output
softmax/sigmoid when possible), backward through the layers down to the first
trainable one, regularization gradients, and one in-place optimizer update per
variable. Nothing is allocated once the buffers for the batch size exist.
Other models, and models with their own ``train_step``, go through the tape
(:mod:`.steps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers import base as layers_base
from . import steps as tape_steps


class _StepCache:
    """What a training step needs, recomputed only when layers or trainable flags change."""

    __slots__ = ("key", "layers", "body", "last", "fused", "train_vars", "reg_vars", "stop", "per_n", "weight",
                 "custom_train", "custom_test",
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


class ChainStep:
    """Mixin: the cached step plan and the fused train/test steps of a chain of layers."""

    def _step_cache(self) -> _StepCache:
        """The cached step plan (layers, trainable variables, fusion), refreshed when needed."""
        if not self._chain:
            return None
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
        # A model class with its own train_step/test_step runs it (through the tape) instead of the fused step.
        c.custom_train = tape_steps.custom(self, "train_step")
        c.custom_test = tape_steps.custom(self, "test_step")
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

    def _loss_and_grad(self, c, z, yb, swb, n):
        scale = c.weight / n if c.per_n else c.weight
        lv, dz = self.loss._train_grad(z, yb, swb, scale, c.last._buf("dloss", z.shape), c.fused)
        total = float(lv.sum()) if swb is None else float(np.dot(lv, swb))
        return c.weight * total / n if c.per_n else c.weight * total, dz

    def _train_step(self, c, xb, yb, swb, ymb):
        """One optimizer step on a batch; returns the batch loss (regularization included)."""
        if c is None or c.custom_train:
            return tape_steps.run_train_step(self, xb, yb, swb, ymb)
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
        if c is None or c.custom_test:
            return tape_steps.run_test_step(self, xb, yb, swb, ymb)
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


def _pm1(targets, dtype):
    from ..losses import _to_pm1

    return _to_pm1(np.asarray(targets, dtype=dtype))
