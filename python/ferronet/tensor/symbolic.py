"""Tensor ops on symbolic inputs (``ferronet.Input``'s KerasTensors) become layers of a functional graph.

Keras 3 lets ``keras.ops.sum(x, axis=1)`` or ``tf.nn.relu(x)`` take the
symbolic tensors of a functional model; here such a call is recorded as a
``Lambda`` layer running the same op on the real tensors later.
"""

from __future__ import annotations

import functools

__all__ = ["has_symbolic", "defer", "symbolic_aware", "symbolic_namespace"]


def _is_sym(x) -> bool:
    return getattr(x, "_is_symbolic", False) is True


def has_symbolic(args, kwargs=None) -> bool:
    """Whether a KerasTensor is among ``args`` (or one level inside a list/tuple/dict argument) or ``kwargs``."""
    for a in args:
        if _is_sym(a):
            return True
        if isinstance(a, (list, tuple)) and any(_is_sym(v) for v in a):
            return True
        if isinstance(a, dict) and any(_is_sym(v) for v in a.values()):
            return True
    return bool(kwargs) and has_symbolic(kwargs.values())


def defer(fn, name, args, kwargs):
    """``fn(*args, **kwargs)`` as a Lambda layer called on the symbolic tensors among the arguments."""
    from ..layers.lambda_layer import Lambda
    from .tape import _flatten

    leaves, rebuild = _flatten((list(args), dict(kwargs)))
    symbolic = [leaf for leaf in leaves if _is_sym(leaf)]

    def run(xs):
        it = iter(xs if isinstance(xs, (list, tuple)) else [xs])
        a, kw = rebuild([next(it) if _is_sym(leaf) else leaf for leaf in leaves])
        return fn(*a, **kw)

    return Lambda(run, _symbolic_op=name)(symbolic)


def symbolic_aware(fn):
    """``fn`` that records a Lambda layer when given symbolic tensors, and runs unchanged otherwise."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (TypeError, AttributeError, ValueError):
            # A KerasTensor has no values: the op fails on it before computing anything; record it instead.
            if has_symbolic(args, kwargs):
                return defer(fn, getattr(fn, "__name__", "op"), args, kwargs)
            raise

    return op


def symbolic_namespace(namespace, skip=()) -> None:
    """Wrap every public function of a module namespace with :func:`symbolic_aware` (primitives handle it already)."""
    import types

    for key, value in list(namespace.items()):
        if key.startswith("_") or key in skip or not isinstance(value, types.FunctionType):
            continue
        if hasattr(value, "primitive") or hasattr(value, "__wrapped__"):
            continue  # element-wise ops defer through their primitive; wrapped functions already do
        namespace[key] = symbolic_aware(value)
