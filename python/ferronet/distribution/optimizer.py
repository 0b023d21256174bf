"""``DistributedOptimizer``: average the gradients of all processes, then take the wrapped optimizer's step.

The gradients of all trainable variables live in one contiguous buffer (each
variable's ``.grad`` becomes a view into it), so a step costs one in-place
``Allreduce`` and no copies. The result is the wrapped optimizer's own class
(``Adam`` stays ``Adam`` to ``save``, ``get_config`` and callbacks), with its
update step preceded by the allreduce: ``model.fit``, ``train_on_batch`` and
custom loops calling ``apply_gradients``/``apply`` all average.
"""

from __future__ import annotations

import numpy as np

from .. import optimizers as optimizers_module
from ..optimizers.base import Optimizer
from .communicator import aligned_zeros

__all__ = ["DistributedOptimizer"]

# Each variable's gradient starts on a 64-byte boundary of the buffer (full SIMD vectors).
_ALIGN = 16


class _GradientBuffer:
    """One contiguous buffer per dtype holding the ``.grad`` of every variable in a list (from
    ``comm.gradient_buffer``: in node-shared memory when that pays)."""

    def __init__(self, variables, comm):
        self.source = variables
        self.variables = list(variables)
        self.flats, self.views = [], []
        by_dtype = {}
        for v in self.variables:
            by_dtype.setdefault(np.dtype(v.dtype), []).append(v)
        placed = {}
        for dtype, group in by_dtype.items():
            offsets, total = [], 0
            for v in group:
                offsets.append(total)
                total += -(-v.size // _ALIGN) * _ALIGN
            make = getattr(comm, "gradient_buffer", None)
            flat = make(total, dtype) if make is not None else aligned_zeros(total, dtype)
            self.flats.append(flat)
            for v, off in zip(group, offsets):
                placed[id(v)] = flat[off:off + v.size].reshape(v.shape)
        self.views = [placed[id(v)] for v in self.variables]
        self.rebind()

    def rebind(self) -> bool:
        """Point every variable's ``.grad`` at its view (copying what it holds); True if any moved."""
        moved = False
        for v, view in zip(self.variables, self.views):
            if v._grad is not view:
                if v._grad is not None:
                    np.copyto(view, v._grad)
                v._grad = view
                moved = True
        return moved


class _AllreduceGradients:
    """Mixin placed before an optimizer class: averages gradients over the group before each update."""

    _comm = None
    _grad_buffer = None
    _strategy = None  # the DataParallel whose data source tells each step's share of the global batch

    def _fuses_into_gradient(self) -> bool:
        # The fused Adam path updates Dense kernels inside their backward, before any allreduce.
        return False

    def _apply_variables(self, variables, lr=None) -> None:
        buf = self._grad_buffer
        if buf is None or (buf.source is not variables and buf.variables != variables):
            buf = self._grad_buffer = _GradientBuffer(variables, self._comm)
            self._known = None  # gradient buffers moved: the base class caches them
        elif buf.rebind():
            self._known = None
        comm = self._comm
        share = None
        if self._strategy is not None:
            share, self._strategy._share = self._strategy._share, None  # valid for this step only
        scale = 1.0 / comm.size if share is None else share
        for flat in buf.flats:
            # Pre-scaling by this process's share of the batch makes the sum the global batch's mean gradient.
            if scale != 1.0:
                np.multiply(flat, scale, out=flat)
            comm.allreduce_sum_(flat)
        super()._apply_variables(variables, lr)

    def __reduce__(self):
        # Pickles as the wrapped optimizer (the communicator belongs to this process).
        base = next(c for c in type(self).__mro__[1:] if issubclass(c, Optimizer) and not issubclass(c, _AllreduceGradients))
        state = {k: v for k, v in self.__dict__.items() if k not in ("_comm", "_grad_buffer", "_strategy")}
        return (_rebuild, (base, state))


def _rebuild(cls, state):
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


_CLASSES: dict = {}


def _distributed_class(base):
    cls = _CLASSES.get(base)
    if cls is None:
        # Same name and module as the wrapped class: serialize() records "Adam", and a saved model loads
        # back in one process as a plain Adam.
        cls = type(base.__name__, (_AllreduceGradients, base), {"__module__": base.__module__,
                                                                  "__qualname__": base.__qualname__})
        _CLASSES[base] = cls
    return cls


def DistributedOptimizer(optimizer="rmsprop", communicator=None, strategy=None):
    """An optimizer that averages the gradients of all processes before each update.

    Args:
        optimizer: an optimizer name (``"adam"``) or instance; the result takes over its state
            (learning rate, slots, iterations), so use the returned object from then on.
        communicator: the group to average over (default: the strategy's, else
            :func:`ferronet.distribution.communicator`).
        strategy: the :class:`DataParallel` whose data sources tell each process's share of every global
            batch (for batches that do not split evenly); without it, gradients are averaged with equal weights.

    Returns:
        An instance of the wrapped optimizer's class (``isinstance(opt, ferronet.optimizers.Adam)``) whose
        updates first average the gradients with one in-place allreduce.

    Example:

    >>> model.compile(optimizer=ferronet.distribution.DistributedOptimizer("adam"),
    ...               loss="sparse_categorical_crossentropy")
    """
    from .context import communicator as default_communicator

    inner = optimizers_module.get(optimizer)
    if communicator is None:
        communicator = strategy.communicator if strategy is not None else default_communicator()
    if isinstance(inner, _AllreduceGradients):
        wrapped = inner
    else:
        cls = _distributed_class(type(inner))
        wrapped = cls.__new__(cls)
        wrapped.__dict__.update(inner.__dict__)
        wrapped._known = None
    wrapped._comm = communicator
    wrapped._strategy = strategy
    return wrapped
