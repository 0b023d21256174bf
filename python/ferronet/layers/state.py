"""``CallState``: what one call of a built-in layer keeps between its forward and its backward.

Built-in layers with Rust kernels implement two methods on arrays:

- ``_forward(state, x, training) -> y``
- ``_backward(state, dy, need_dx) -> dx``

Everything a call saves for its backward (the input, the pre-activation,
a dropout mask, batch statistics) and every reusable output buffer lives on
the ``state``, not on the layer, so one layer can be called several times in
a graph (shared layers) and a training plan owns its buffers. The plan also
uses the state to tell the layer how it is being run (see the attributes):
those decisions are made once, when the plan is built, instead of being
switched on and off around each batch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CallState"]


class CallState:
    """Saved tensors, reusable buffers and the plan's decisions for one call of a layer.

    Attributes:
        train: compute the gradients of the layer's weights in ``_backward``.
        logits: skip the layer's output activation (the loss applies it, fused with the cross-entropy).
        act_grad_done: the next layer's backward already applies this layer's activation gradient.
        through_relu: this (max-pooling) layer's backward also applies the previous layer's ReLU gradient.
        adam: ``(optimizer, step, learning_rate)`` when the kernel's Adam step runs inside the weight-gradient
            kernel (its gradient is then never stored), else None.

    Example:
        >>> import numpy as np
        >>> from ferronet.layers.state import CallState
        >>> state = CallState(np.float32)
        >>> y = state.buf("y", (2, 3))  # the output buffer of a batch of 2
        >>> state.buf("y", (2, 3)) is y, state.buf("y", (4, 3)) is y  # reused for the same shape only
        (True, False)
        >>> sorted(state.buffers())  # at most two shapes per name are kept
        [('y', (2, 3)), ('y', (4, 3))]
    """

    logits = False
    act_grad_done = False
    through_relu = False
    adam = None

    def __init__(self, dtype, train=True, keep=None):
        self.dtype = np.dtype(dtype)
        self.train = train
        self._bufs: dict = {}
        self._keep = keep if keep is not None else [None]  # shared with the plan: the batch size fit keeps
        self._grads = None  # {id(variable): array} where a shared layer's later calls write their gradients

    def buf(self, name, shape, dtype=None):
        """A reusable array for ``name`` at ``shape`` (kept for at most two shapes).

        ``fit`` marks its batch size as the one to keep: a third shape replaces
        the other one, so the training batch's buffers survive the partial
        batches of training, validation and prediction, which share the second
        slot. Without a mark the smaller buffer is replaced.
        """
        key = (name, shape)
        a = self._bufs.get(key)
        if a is None:
            same = [k for k in self._bufs if k[0] == name]
            if len(same) >= 2:
                keep = self._keep[0]
                others = [k for k in same if k[1][:1] != (keep,)]
                victim = min(others or same, key=lambda k: self._bufs[k].size)
                del self._bufs[victim]
            a = self._bufs[key] = np.empty(shape, dtype or self.dtype)
        return a

    def grad(self, variable):
        """The array ``_backward`` writes ``variable``'s gradient into (its ``grad`` unless the plan redirects)."""
        g = self._grads
        if g is not None:
            a = g.get(id(variable))
            if a is not None:
                return a
        return variable.grad

    def drop_batch(self, n) -> None:
        """Forget the buffers whose leading dimension is ``n`` (after a one-off large call)."""
        for key in [k for k in self._bufs if k[1][:1] == (n,)]:
            del self._bufs[key]

    def clear(self) -> None:
        self._bufs.clear()

    def buffers(self) -> dict:
        """``{(name, shape): array}`` of the buffers held now."""
        return dict(self._bufs)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_bufs"] = {}
        return state
