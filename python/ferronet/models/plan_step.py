"""The training and evaluation steps of models that have a plan (:mod:`.plan`): Sequential and functional.

A step is: forward through the plan's nodes (each writing into buffers the
plan owns), the loss and its gradient in one core call (fused with the output
softmax/sigmoid when the plan lets the output node yield logits), backward
through the nodes that need it, regularization gradients, and one in-place
optimizer update per variable (for dense kernels under plain Adam, inside
their weight-gradient kernel). Nothing is allocated once the buffers for the
batch size exist.

Models without a plan (subclassed models, layers written in tensor ops that
the plan cannot run, several outputs) and models with their own
``train_step``/``test_step`` go through the tape (:mod:`.steps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers import base as layers_base
from . import steps as tape_steps
from .plan import build_plan

__all__ = ["PlanStep"]


class _StepCache:
    """What a training step needs, recomputed only when the model, the loss, the optimizer or a trainable flag
    changes."""

    __slots__ = ("key", "plan", "fused", "act", "train_vars", "reg_vars", "adam", "opt_vars", "per_n", "weight",
                 "custom_train", "custom_test", "out_state", "outputs")
    key: tuple
    plan: Any
    fused: bool
    act: Any
    train_vars: list
    reg_vars: list
    adam: list
    opt_vars: list
    per_n: bool
    weight: float


class PlanStep:
    """Mixin: the model's plan and the train/test steps that run it."""

    _plan_cache = None

    def _plan_key(self):
        layers = getattr(self, "_layers", None)
        return (id(self),) if layers is None else tuple(map(id, layers))

    def _plan(self):
        """The model's :class:`~ferronet.models.plan.Plan`, or None when the model has none."""
        key = self._plan_key()
        cached = self._plan_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        plan = build_plan(self)
        self._plan_cache = (key, plan)
        self._train_cache = None
        return plan

    def _step_cache(self) -> _StepCache:
        """The training decisions on the plan (trainable variables, fusions), or None for the tape."""
        from .multi_io import MultiLoss

        plan = self._plan()
        loss = self.loss
        if plan is None or (len(plan.outs) != 1 and not isinstance(loss, MultiLoss)):
            return None
        opt = getattr(self, "optimizer", None)
        key = (layers_base._TRAINABLE_VERSION[0], id(plan), id(loss), id(opt), self._trainable)
        c = self._train_cache
        if c is not None and c.key == key:
            return c
        c = _StepCache()
        c.key = key
        c.plan = plan
        # A model class with its own train_step/test_step runs it (through the tape) instead of the plan.
        c.custom_train = tape_steps.custom(self, "train_step")
        c.custom_test = tape_steps.custom(self, "test_step")
        c.outputs = None
        if isinstance(loss, MultiLoss):
            # One (name, loss, weight, fused, activation, state) per output; outputs without a loss get no gradient.
            c.outputs = []
            for i, (name, lo, w) in enumerate(zip(loss.names, loss.losses, loss.weights)):
                fused = plan.fuse_output(lo, i)  # a loss of None resets the output node
                if lo is not None:
                    lo._check_kernels(fused=fused)
                c.outputs.append((name, lo, w, fused, plan.acts[i], plan.output_state(i)))
            c.fused, c.act, c.out_state = False, None, None
        else:
            c.fused = plan.fuse_output(loss)
            c.act = plan.act
            c.out_state = plan.output_state(0)
        c.train_vars = list(self.trainable_weights)
        c.reg_vars = [v for v in c.train_vars if v.regularizer is not None]
        plan.prepare_backward({id(v) for v in c.train_vars})
        c.adam = plan.adam_nodes(opt, {id(v) for v in c.reg_vars})
        if c.adam:
            opt._ensure_slots(c.train_vars)
        fused_ids = {id(nd.layer.kernel) for nd in c.adam}
        c.opt_vars = [v for v in c.train_vars if id(v) not in fused_ids]
        if loss is not None and c.outputs is None:
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
        st = c.out_state
        grad_out = st.buf("dloss", z.shape) if st is not None else None
        lv, dz = self.loss._train_grad(z, yb, swb, scale, grad_out, c.fused)
        total = float(lv.sum()) if swb is None else float(np.dot(lv, swb))
        return c.weight * total / n if c.per_n else c.weight * total, dz

    def _multi_loss_and_grads(self, c, zs, ys, swb, n):
        """The weighted total loss and one loss gradient per output (None where an output has no loss)."""
        total, dzs, per_output = 0.0, [], {}
        for (name, lo, w, fused, _, st), z, y in zip(c.outputs, zs, ys):
            if lo is None:
                dzs.append(None)
                continue
            t = lo._prepare(y, z)
            if lo._labels == "pm1":
                t = _pm1(t, z.dtype)
            per_n = lo.reduction == "sum_over_batch_size"
            scale = w / n if per_n else w
            lv, dz = lo._train_grad(z, t, swb, scale, st.buf("dloss", z.shape) if st is not None else None, fused)
            value = (float(lv.sum()) if swb is None else float(np.dot(lv, swb))) / (n if per_n else 1)
            per_output[name] = value
            total += w * value
            dzs.append(dz)
        self._out_loss = self._out_loss or {}
        for name, value in per_output.items():
            self._out_loss[name] = self._out_loss.get(name, 0.0) + value * n
        return total, dzs

    def _predictions(self, c, zs):
        """The outputs of a several-output model from the plan's (activations applied where the loss was fused)."""
        return [z if act is None else act.forward(z, st.buf("y", z.shape))
                for (_, _, _, _, act, st), z in zip(c.outputs, zs)]

    def _prediction(self, c, z):
        """The model's output from the plan's output (the activation applied when the loss was fused)."""
        return c.act.forward(z, c.out_state.buf("y", z.shape)) if c.fused else z

    def _train_step(self, c, xb, yb, swb, ymb):
        """One optimizer step on a batch; returns the batch loss (regularization included)."""
        if c is None or c.custom_train:
            return tape_steps.run_train_step(self, xb, yb, swb, ymb)
        plan = c.plan
        xs = xb if isinstance(xb, list) else [xb]
        n = xs[0].shape[0]
        lr = None
        if c.adam:
            opt = self.optimizer
            lr = opt._current_lr()
            step = (opt, opt.iterations + 1, lr)
            for nd in c.adam:
                nd.state.adam = step
        if c.outputs is not None:
            z = plan.forward(xs, True, record=True)
            loss, dzs = self._multi_loss_and_grads(c, z, yb, swb, n)
            plan.backward(dzs)
        else:
            z = plan.forward(xs, True, record=True)[0]
            loss, dz = self._loss_and_grad(c, z, yb, swb, n)
            plan.backward([dz])
        for v in c.reg_vars:
            loss += v.regularizer._add_gradient(v.value, v.grad)
        if c.train_vars:
            self.optimizer._apply_variables(c.opt_vars, lr)
        return self._account(c, z, ymb, swb, loss, n)

    def _test_step(self, c, xb, yb, swb, ymb):
        if c is None or c.custom_test:
            return tape_steps.run_test_step(self, xb, yb, swb, ymb)
        xs = xb if isinstance(xb, list) else [xb]
        n = xs[0].shape[0]
        if c.outputs is not None:
            z = c.plan.forward(xs, False)
            loss, _ = self._multi_loss_and_grads(c, z, yb, swb, n)
        else:
            z = c.plan.forward(xs, False)[0]
            loss, _ = self._loss_and_grad(c, z, yb, swb, n)
        for v in c.reg_vars:
            loss += v.regularizer(v.value)
        return self._account(c, z, ymb, swb, loss, n)

    def _account(self, c, z, ymb, swb, loss, n):
        """The compiled metrics on the step's outputs ``z`` (a list with several outputs) and the running loss."""
        if self._compile_metrics:
            if c.outputs is not None:
                self._update_metrics(ymb, self._predictions(c, z), None)
            else:
                self._update_metrics(ymb, self._prediction(c, z), swb)
        self._loss_sum += loss * n
        self._loss_count += n
        return loss

    def _plan_predict(self, plan, xs, training=False):
        """The model's outputs for one batch through the plan (arrays that may be the plan's buffers)."""
        outs = plan.forward(xs, training)
        # Outputs whose node yields logits for a fused loss get their activation here.
        return [z if act is None else act.forward(z, nd.state.buf("y", z.shape))
                for z, act, nd in zip(outs, plan.acts, plan.output_nodes)]

    def _keep_buffers_for(self, batch_size) -> None:
        """Mark ``batch_size`` as the batch whose buffers the plan keeps (see ``CallState.buf``)."""
        plan = self._plan()
        if plan is not None:
            plan.keep_batch(batch_size)

    def _release_buffers(self) -> None:
        plan = self._plan()
        if plan is not None:
            for st in plan.states():
                st.clear()


def _pm1(targets, dtype):
    from ..losses import _to_pm1

    return _to_pm1(np.asarray(targets, dtype=dtype))
