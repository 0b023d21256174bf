"""The plan of a model: its layer graph flattened into nodes that ``fit``, ``evaluate`` and ``predict`` run.

A ``Sequential`` or functional model (with nested models inlined) becomes a
list of nodes in topological order, each reading and writing numbered slots.
A chain is the special case of one slot flowing through every node. Each node
runs one call of a layer in one of three ways:

- ``KERNEL``: a built-in layer's Rust kernels on arrays (``_forward`` /
  ``_backward``), with a :class:`~ferronet.layers.state.CallState` owned by
  the plan: what the call saves for its backward and every reusable buffer, so
  a training step allocates nothing in steady state and a shared layer has
  one state per call;
- ``MULTI``: the same for layers taking a list (merge layers);
- ``LEGACY``: a user layer with a hand-written ``call``/``backward`` on arrays;
- ``TAPE``: any other built-in layer, through the ``GradientTape``.

Backward runs the nodes in reverse, only where a gradient is needed, adding
the gradients of a slot read by several nodes into a buffer of the plan.

Fusions are decisions the plan makes once, from what layers and optimizers
declare, and records on the nodes' states:

- the output activation fused with its cross-entropy (``state.logits``: the
  output node yields logits and the loss applies softmax/sigmoid);
- a ReLU's gradient applied inside the next max-pooling's backward
  (``state.act_grad_done`` / ``state.through_relu``), when the pool is the
  only reader of the ReLU's output;
- plain Adam applied inside a dense layer's weight-gradient kernel
  (``state.adam``, set each step with the step's learning rate), when the
  kernel is used once and not regularized.
"""

from __future__ import annotations

import numpy as np

from ..layers.base import Layer, _has_kernels
from ..tensor.core import Tensor, unwrap

__all__ = ["Plan", "build_plan"]

KERNEL, MULTI, LEGACY, TAPE = range(4)


class _Node:
    __slots__ = ("layer", "kind", "ins", "outs", "state", "training", "kwargs", "struct", "back", "need",
                 "train", "shared", "tape", "fwd", "bwd")

    def __init__(self, layer, kind, ins, outs, state, training, kwargs, struct):
        self.layer = layer
        self.kind = kind
        self.ins = ins            # slot numbers read
        self.outs = outs          # slot numbers written
        self.state = state
        self.training = training  # a training flag fixed at the call (functional models), else None
        self.kwargs = kwargs
        self.struct = struct      # the nesting the layer was called with (TAPE nodes)
        self.back = False         # runs in backward
        self.train = False        # computes its layer's weight gradients
        self.need = ()            # per input: its gradient is needed
        self.shared = ()          # (variable, private gradient buffer) of a shared layer's later calls
        self.tape = None
        self.fwd = layer._forward if kind == KERNEL else None
        self.bwd = layer._backward if kind == KERNEL else None


def _plain_model(layer):
    """``"sequential"``/``"functional"`` for a model whose graph the plan can inline, else None."""
    from .functional_model import Functional
    from .model import Model
    from .sequential import Sequential

    cls = type(layer)
    if isinstance(layer, Sequential) and cls.call is Sequential.call and cls._tensor_call is Sequential._tensor_call:
        return "sequential"
    if isinstance(layer, Functional) and cls.call is Model.call and cls._tensor_call is Functional._tensor_call:
        return "functional"
    return None


def _tape_safe(layer) -> bool:
    """A layer without kernels the plan may run through the tape: a built-in one that adds no losses."""
    if not type(layer).__module__.startswith("ferronet."):
        return False
    if type(layer).__name__ == "ActivityRegularization" or getattr(layer, "activity_regularizer", None) is not None:
        return False
    return isinstance(layer, Layer) and _plain_model(layer) is None and not hasattr(layer, "_nodes")


class _Builder:
    def __init__(self, keep):
        self.nodes = []
        self.n_slots = 0
        self.keep = keep
        self.ok = True

    def slot(self):
        self.n_slots += 1
        return self.n_slots - 1

    def model(self, model, ins):
        kind = _plain_model(model)
        if kind == "sequential":
            if not model._layers:
                self.ok = False
                return ins
            h = ins
            for layer in model._layers:
                h = self.layer(layer, h, None, None)
            return h
        values = {id(t): s for t, s in zip(model.inputs, ins)}
        for node in model._nodes:
            args = [values[id(t)] for t in node.flat_inputs]
            kwargs = {k: v for k, v in node.kwargs.items() if k != "training"}
            outs = self.layer(node.layer, args, node, kwargs)
            for t, s in zip(node.outputs, outs):
                values[id(t)] = s
        return [values[id(t)] for t in model.outputs]

    def layer(self, layer, ins, node, kwargs):
        from ..layers.input_layer import InputLayer

        training = None if node is None else node.kwargs.get("training")
        struct = None if node is None else node.inputs
        inlined = _plain_model(layer)
        if isinstance(layer, InputLayer):
            return ins
        if inlined is not None and not kwargs and training is None:
            n_in = 1 if inlined == "sequential" else len(layer.inputs)
            if len(ins) == n_in and (struct is None or not isinstance(struct, dict)):
                return self.model(layer, ins)
        cls = type(layer)
        if _has_kernels(cls) and len(ins) == 1 and not kwargs:
            kind = KERNEL
        elif getattr(cls, "_backward_many", None) is not None and len(ins) > 1 and not kwargs and \
                isinstance(struct, (list, tuple)) and len(struct) == len(ins):
            kind = MULTI
        elif cls.backward is not Layer.backward and len(ins) == 1 and not kwargs and \
                not cls.__module__.startswith("ferronet.") and all(nd.layer is not layer for nd in self.nodes):
            kind = LEGACY  # (its saved tensors live on the layer: called twice, the model takes the tape)
        elif _tape_safe(layer):
            kind = TAPE
        else:
            self.ok = False
            return [self.slot()]
        outs = [self.slot() for _ in range(1 if node is None else len(node.outputs))]
        state = layer._new_state(self.keep) if kind in (KERNEL, MULTI) else None
        if struct is None:
            struct = ins[0] if len(ins) == 1 else list(ins)
        self.nodes.append(_Node(layer, kind, list(ins), outs, state, training, kwargs or {}, struct))
        return outs


def _makes_masks(layer) -> bool:
    """Whether ``layer`` starts a mask (``Masking``, ``Embedding(mask_zero=True)``): masks travel on tensors
    through the tape, which the plan's arrays do not carry."""
    from ..layers.masking import Masking

    return isinstance(layer, Masking) or bool(getattr(layer, "mask_zero", False))


def build_plan(model):
    """The plan of ``model`` (Sequential or functional, nested models inlined), or None when the model has
    a layer the plan cannot run (a user layer written in tensor ops, one adding losses or starting a mask, a
    subclassed model)."""
    keep = [None]
    b = _Builder(keep)
    if _plain_model(model) is None:
        return None
    n_in = 1 if _plain_model(model) == "sequential" else len(model.inputs)
    ins = [b.slot() for _ in range(n_in)]
    outs = b.model(model, ins)
    if not b.ok or not b.nodes or any(_makes_masks(nd.layer) for nd in b.nodes):
        return None
    return Plan(b.nodes, ins, outs, b.n_slots, keep, model._np_dtype)


class Plan:
    """Nodes in topological order over numbered slots (see the module docstring)."""

    def __init__(self, nodes, ins, outs, n_slots, keep, dtype):
        self.nodes = nodes
        self.ins = ins
        self.outs = outs
        self.n_slots = n_slots
        self.keep = keep
        self.dtype = np.dtype(dtype)
        self.vals = [None] * n_slots
        self.grads = [None] * n_slots
        self._acc = {}
        readers = [0] * n_slots
        for nd in nodes:
            for s in nd.ins:
                readers[s] += 1
        for s in outs:
            readers[s] += 1
        self.readers = readers
        self.chain = all(len(nd.ins) == 1 and len(nd.outs) == 1 for nd in nodes) and all(
            nodes[i].ins[0] == (ins[0] if i == 0 else nodes[i - 1].outs[0]) for i in range(len(nodes)))
        self.output_nodes = [next((nd for nd in nodes if s in nd.outs), None) for s in outs]
        self.output_node = self.output_nodes[0] if len(outs) == 1 else None
        self.act = None  # the output activation applied outside the plan (fused with the loss)
        self.acts = [None] * len(outs)
        self.back_nodes = []

    # ------------------------------------------------------------ decisions
    def fuse_output(self, loss, index=0) -> bool:
        """Let output ``index``'s node yield logits when ``loss`` is the cross-entropy of its activation."""
        nd = self.output_nodes[index]
        if nd is not None and nd.state is not None:
            nd.state.logits = False
        self.acts[index] = None
        if index == 0:
            self.act = None
        slot = self.outs[index]
        if nd is None or nd.kind != KERNEL or loss is None or loss._fuse is None or loss.from_logits or \
                self.readers[slot] != 1 or len(nd.outs) != 1:
            return False
        if nd.layer._fusable_activation() != loss._fuse:
            return False
        nd.state.logits = True
        self.acts[index] = nd.layer._act
        if len(self.outs) == 1:
            self.act = nd.layer._act
        return True

    def output_state(self, index):
        """The call state of output ``index``'s node (its buffers hold the loss gradient), or None."""
        nd = self.output_nodes[index]
        return nd.state if nd is not None else None

    def prepare_backward(self, train_ids) -> None:
        """Decide which nodes run backward, which inputs need gradients, and the gradient fusions.

        Args:
            train_ids: ids of the variables being trained.
        """
        req = [False] * self.n_slots
        users = {}
        for nd in self.nodes:
            weights = nd.layer.trainable_weights
            train = nd.train = bool(weights) and all(id(v) in train_ids for v in weights)
            if nd.state is not None:
                nd.state.train = train
                nd.state.act_grad_done = nd.state.through_relu = False
                nd.state.adam = None
                nd.state._grads = None
            nd.need = tuple(req[s] for s in nd.ins)
            nd.back = train or any(nd.need)
            for s in nd.outs:
                req[s] = nd.back
            if train:
                for v in weights:
                    users.setdefault(id(v), []).append(nd)
        # A variable several nodes use (a shared layer): the last call in forward order writes its gradient
        # first in backward; the earlier ones write into private buffers added to it after their backward.
        for nd in self.nodes:
            nd.shared = ()
        for uses in users.values():
            if len(uses) > 1:
                for nd in uses[:-1]:
                    if nd.shared:
                        continue
                    private = [(v, np.zeros_like(v.value)) for v in nd.layer.trainable_weights]
                    nd.shared = tuple(private)
                    if nd.state is not None:
                        nd.state._grads = {id(v): g for v, g in private}
        self.shared_ids = {vid for vid, uses in users.items() if len(uses) > 1}
        # ReLU then max pooling, the pool the ReLU output's only reader: one pass over the unpooled tensor.
        producer = {s: nd for nd in self.nodes for s in nd.outs}
        self.relu_pool = []
        for nd in self.nodes:
            if nd.kind != KERNEL or not nd.back or not getattr(nd.layer, "_takes_relu_grad", False) or not nd.need[0]:
                continue
            prev = producer.get(nd.ins[0])
            act = getattr(prev.layer, "_act", None) if prev is not None else None
            if prev is not None and prev.kind == KERNEL and prev.back and act is not None and act.name == "relu" \
                    and self.readers[nd.ins[0]] == 1 and not prev.state.logits:
                prev.state.act_grad_done = nd.state.through_relu = True
                self.relu_pool.append((prev, nd))
        self.back_nodes = [nd for nd in reversed(self.nodes) if nd.back]

    def adam_nodes(self, optimizer, regularized_ids):
        """The dense nodes whose kernel's Adam step can run inside their weight-gradient kernel."""
        if optimizer is None or not optimizer._fuses_into_gradient():
            return []
        out = []
        for nd in self.nodes:
            kernel = getattr(nd.layer, "kernel", None)
            if nd.kind == KERNEL and getattr(nd.layer, "_fusable_adam", False) and nd.state.train and \
                    kernel is not None and id(kernel) not in regularized_ids and id(kernel) not in self.shared_ids:
                out.append(nd)
        return out

    # --------------------------------------------------------------- running
    def forward(self, xs, training, record=False):
        """Run the nodes on ``xs`` (one array per model input); returns the output slots' arrays.

        ``record``: keep what the ``TAPE`` nodes need for :meth:`backward`.
        """
        if self.chain:
            h = xs[0]
            for nd in self.nodes:
                if nd.kind == KERNEL:
                    h = nd.fwd(nd.state, h, training if nd.training is None else nd.training)
                else:
                    self.vals[nd.ins[0]] = h
                    self._run_other(nd, training, record)
                    h = self.vals[nd.outs[0]]
            self.vals[self.outs[0]] = h
            return [h]
        vals = self.vals
        for s, x in zip(self.ins, xs):
            vals[s] = x
        for nd in self.nodes:
            t = training if nd.training is None else nd.training
            if nd.kind == KERNEL:
                vals[nd.outs[0]] = nd.fwd(nd.state, vals[nd.ins[0]], t)
            elif nd.kind == MULTI:
                vals[nd.outs[0]] = nd.layer._forward_many(nd.state, [vals[s] for s in nd.ins], t)
            else:
                self._run_other(nd, training, record)
        return [vals[s] for s in self.outs]

    def _run_other(self, nd, training, record):
        vals = self.vals
        t = training if nd.training is None else nd.training
        layer = nd.layer
        if nd.kind == LEGACY:
            x = vals[nd.ins[0]]
            vals[nd.outs[0]] = layer.call(np.ascontiguousarray(x, dtype=layer._np_dtype), t)
            return
        from ..tensor.core import _wrap
        from ..tensor.tape import GradientTape
        from .functional import pack_like

        xs = [_wrap(vals[s]) for s in nd.ins]
        args = pack_like(nd.struct, xs)
        if record and nd.back:
            tape = GradientTape()
            with tape:
                for x in xs:
                    tape.watch(x)
                out = layer(args, training=t, **nd.kwargs)
            nd.tape = (tape, xs, out)
        else:
            out = layer(args, training=t, **nd.kwargs)
        from .functional import flatten

        for s, o in zip(nd.outs, flatten(out)):
            a = unwrap(o) if isinstance(o, Tensor) else np.asarray(o)
            vals[s] = a if a.flags.c_contiguous else np.ascontiguousarray(a)

    def backward(self, dys) -> None:
        """Gradients from ``dys`` (one per output) down to every trained weight's ``grad`` buffer."""
        grads = self.grads
        for i in range(self.n_slots):
            grads[i] = None
        for s, g in zip(self.outs, dys):
            if g is not None:
                self._accumulate(s, g)
        for nd in self.back_nodes:
            kind = nd.kind
            if kind == KERNEL or kind == LEGACY:
                dy = grads[nd.outs[0]]
                if dy is None:
                    continue
                if not dy.flags.c_contiguous:
                    dy = np.ascontiguousarray(dy)
                need = nd.need[0]
                dx = nd.bwd(nd.state, dy, need) if kind == KERNEL else nd.layer.backward(dy, need)
                if need:
                    self._accumulate(nd.ins[0], dx)
            elif kind == MULTI:
                dy = grads[nd.outs[0]]
                if dy is None:
                    continue
                if not dy.flags.c_contiguous:
                    dy = np.ascontiguousarray(dy)
                for s, dx in zip(nd.ins, nd.layer._backward_many(nd.state, dy, nd.need)):
                    if dx is not None:
                        self._accumulate(s, dx)
            else:
                self._tape_backward(nd, grads)
            for v, g in nd.shared:
                np.add(v.grad, g, out=v.grad)

    def _tape_backward(self, nd, grads):
        tape, xs, out = nd.tape
        nd.tape = None
        from .functional import flatten

        outs = flatten(out)
        seeds = [grads[s] if grads[s] is not None else np.zeros(unwrap(o).shape, unwrap(o).dtype)
                 for s, o in zip(nd.outs, outs)]
        srcs = [x for x, need in zip(xs, nd.need) if need]
        train = nd.train
        weights = list(nd.layer.trainable_weights) if train else []
        sources = srcs + weights
        if not sources:
            return
        got = tape.gradient(outs, sources, output_gradients=seeds)
        it = iter(got)
        for s, need in zip(nd.ins, nd.need):
            if need:
                g = next(it)
                if g is not None:
                    self._accumulate(s, np.asarray(unwrap(g)))
        if train:
            private = dict((id(v), p) for v, p in nd.shared)
            for v in weights:
                g = next(it)
                dst = private.get(id(v), v.grad)
                if g is None:
                    dst[...] = 0
                else:
                    np.copyto(dst, unwrap(g))

    def _accumulate(self, slot, g):
        cur = self.grads[slot]
        if cur is None:
            self.grads[slot] = g
            return
        acc = self._acc.get(slot)
        if acc is None or acc.shape != g.shape or acc.dtype != g.dtype:
            acc = self._acc[slot] = np.empty(g.shape, g.dtype)
        np.add(cur, g, out=acc)
        self.grads[slot] = acc

    # --------------------------------------------------------------- buffers
    def states(self):
        return [nd.state for nd in self.nodes if nd.state is not None]

    def keep_batch(self, n) -> None:
        self.keep[0] = n

    def drop_batch(self, n) -> None:
        for st in self.states():
            st.drop_batch(n)
        for key in [k for k, a in self._acc.items() if a.shape[:1] == (n,)]:
            del self._acc[key]
