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
    """Whether a KerasTensor is among ``args`` (or one level inside a list/tuple/dict argument) or ``kwargs``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.symbolic import has_symbolic
        >>> inputs = fn.Input((3,))
        >>> has_symbolic([inputs]), has_symbolic([[inputs, 1.0]]), has_symbolic([fn.constant(1.0)])
        (True, True, False)
    """
    for a in args:
        if _is_sym(a):
            return True
        if isinstance(a, (list, tuple)) and any(_is_sym(v) for v in a):
            return True
        if isinstance(a, dict) and any(_is_sym(v) for v in a.values()):
            return True
    return bool(kwargs) and has_symbolic(kwargs.values())


def defer(fn, name, args, kwargs):
    """``fn(*args, **kwargs)`` as a Lambda layer called on the symbolic tensors among the arguments.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.symbolic import defer
        >>> inputs = fn.Input((3,))
        >>> total = defer(fn.reduce_sum, "reduce_sum", (inputs,), {"axis": 1, "keepdims": True})
        >>> model = fn.Model(inputs, total)
        >>> model.predict(np.array([[1.0, 2.0, 3.0]], dtype=np.float32), verbose=0)
        array([[6.]], dtype=float32)
    """
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
    """``fn`` that records a Lambda layer when given symbolic tensors, and runs unchanged otherwise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.symbolic import symbolic_aware
        >>> total = symbolic_aware(lambda x: fn.reduce_sum(x, axis=1, keepdims=True))
        >>> total(fn.constant([[1.0, 2.0]])).numpy()  # real tensors: computed now
        array([[3.]], dtype=float32)
        >>> inputs = fn.Input((2,))
        >>> model = fn.Model(inputs, total(inputs))  # a symbolic input: recorded as a layer
        >>> model.predict(np.array([[1.0, 2.0]], dtype=np.float32), verbose=0)
        array([[3.]], dtype=float32)
    """

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
    """Wrap every public function of a module namespace with :func:`symbolic_aware` (primitives handle it already).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.symbolic import symbolic_namespace
        >>> def total(x):
        ...     return fn.reduce_sum(x, axis=1, keepdims=True)
        >>> namespace = {"total": total}
        >>> symbolic_namespace(namespace)
        >>> inputs = fn.Input((3,))
        >>> model = fn.Model(inputs, namespace["total"](inputs))
        >>> model.predict(np.ones((1, 3), dtype=np.float32), verbose=0)
        array([[3.]], dtype=float32)
    """
    import types

    for key, value in list(namespace.items()):
        if key.startswith("_") or key in skip or not isinstance(value, types.FunctionType):
            continue
        if hasattr(value, "primitive") or hasattr(value, "__wrapped__"):
            continue  # element-wise ops defer through their primitive; wrapped functions already do
        namespace[key] = symbolic_aware(value)
