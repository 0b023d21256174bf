"""``GradientTape``: reverse-mode automatic differentiation with TensorFlow's semantics.

Inside ``with GradientTape() as tape:`` every primitive applied to a watched
tensor (``tape.watch(x)``, or any trainable Variable read while the tape is
active) is recorded; ``tape.gradient(target, sources)`` then walks the record
backwards. Tapes nest: a tape that is recording while another computes its
gradient records that computation, so it can be differentiated again.

Example:
    >>> import ferronet as fn
    >>> x = fn.constant(3.0)
    >>> with fn.GradientTape() as outer:
    ...     outer.watch(x)
    ...     with fn.GradientTape() as inner:
    ...         inner.watch(x)
    ...         y = x * x * x
    ...     dy = inner.gradient(y, x)      # 3 x^2
    >>> float(dy), float(outer.gradient(dy, x))   # 27, 6 x
    (27.0, 18.0)
"""

from __future__ import annotations

import enum
import warnings

import numpy as np

from ..errors import ArgumentError
from . import core
from .core import Tensor, _wrap

__all__ = ["GradientTape", "UnconnectedGradients", "grad", "value_and_grad", "stop_gradient"]


class UnconnectedGradients(enum.Enum):
    """What ``gradient`` returns for a source the target does not depend on.

    Example:
        >>> import ferronet as fn
        >>> a, b = fn.constant(2.0), fn.constant(5.0)
        >>> with fn.GradientTape() as tape:
        ...     tape.watch([a, b])
        ...     y = a * a
        >>> tape.gradient(y, b) is None
        True
        >>> with fn.GradientTape() as tape:
        ...     tape.watch([a, b])
        ...     y = a * a
        >>> float(tape.gradient(y, b, unconnected_gradients=fn.tensor.UnconnectedGradients.ZERO))
        0.0
    """

    NONE = "none"
    ZERO = "zero"


def _flatten(structure):
    """Leaves of nested lists/tuples/dicts, and a function rebuilding the structure from new leaves."""
    if isinstance(structure, dict):
        keys = sorted(structure)
        parts = [_flatten(structure[k]) for k in keys]

        def rebuild(leaves, parts=parts, keys=keys):
            out, i = {}, 0
            for k, (lv, rb) in zip(keys, parts):
                out[k] = rb(leaves[i:i + len(lv)])
                i += len(lv)
            return type(structure)(out) if type(structure) is not dict else out

        return [x for lv, _ in parts for x in lv], rebuild
    if isinstance(structure, (list, tuple)) and not isinstance(structure, Tensor):
        parts = [_flatten(s) for s in structure]

        def rebuild(leaves, parts=parts):
            out, i = [], 0
            for lv, rb in parts:
                out.append(rb(leaves[i:i + len(lv)]))
                i += len(lv)
            if isinstance(structure, tuple):
                return type(structure)(*out) if hasattr(structure, "_fields") else tuple(out)
            return out

        return [x for lv, _ in parts for x in lv], rebuild
    return [structure], lambda leaves: leaves[0]


class GradientTape:
    """Records operations for automatic differentiation (TensorFlow's ``tf.GradientTape``).

    Args:
        persistent: allow several ``gradient``/``jacobian`` calls (the record
            is kept until the tape is deleted or :meth:`reset`).
        watch_accessed_variables: watch every trainable Variable read while
            the tape is active (default True); with False, only what
            :meth:`watch` is given.

    Example:
        >>> import ferronet as fn
        >>> w = fn.Variable([[1.0], [2.0]])
        >>> x = fn.constant([[3.0, 4.0]])
        >>> with fn.GradientTape() as tape:
        ...     loss = fn.reduce_sum(fn.square(x @ w))
        >>> tape.gradient(loss, w).numpy().ravel()     # 2 (x.w) x
        array([66., 88.], dtype=float32)
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._tracked: dict = {}     # id -> watched or derived tensor (kept alive)
        self._watched: list = []     # explicitly watched or accessed variables, in order
        self._nodes: list = []       # (primitive, output, inputs, params) in execution order
        self._recording = False
        self._active = False
        self._used = False

    # ----------------------------------------------------------------- context
    def __enter__(self):
        if self._active:
            raise RuntimeError("This GradientTape is already recording. Received: a nested `with` on the same tape")
        self._active = True
        self._recording = True
        core._STACK.append(self)
        return self

    def __exit__(self, *exc):
        self._recording = False
        self._active = False
        if self in core._STACK:
            core._STACK.remove(self)
        return False

    # ------------------------------------------------------------------ watch
    def _watch_one(self, t):
        if id(t) not in self._tracked:
            self._tracked[id(t)] = t
            self._watched.append(t)

    def watch(self, tensor) -> None:
        """Record operations on ``tensor`` (or each tensor of a nested structure).

        Non-float tensors cannot have gradients: watching one warns and does nothing, as in TensorFlow.
        """
        leaves, _ = _flatten(tensor)
        for t in leaves:
            if not isinstance(t, Tensor):
                raise ArgumentError(
                    "GradientTape.watch takes tensors or variables (convert arrays with ferronet.constant first: "
                    f"watching a NumPy array cannot track its later uses). Received: {type(t).__name__}"
                )
            if t.dtype.kind not in "fc":
                warnings.warn(
                    f"The dtype of the watched tensor must be floating (e.g. float32), got {t.dtype.name}: it will "
                    "have no gradient.", UserWarning, stacklevel=2)
                continue
            self._watch_one(t)

    def watched_variables(self) -> tuple:
        """The variables this tape watched (explicitly or because they were read), in order."""
        return tuple(t for t in self._watched if hasattr(t, "assign"))

    def stop_recording(self):
        """A context manager inside which nothing is recorded on this tape."""
        return _Paused(self)

    def reset(self) -> None:
        """Forget everything recorded so far (the tape keeps recording if active)."""
        self._tracked.clear()
        self._watched.clear()
        self._nodes.clear()
        self._used = False

    # --------------------------------------------------------------- gradient
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients=UnconnectedGradients.NONE):
        """Gradient of ``target`` (summed over its elements) with respect to ``sources``.

        Args:
            target: a tensor or nested structure of tensors (their sum is differentiated).
            sources: a tensor/variable or nested structure of them; the result has the same structure.
            output_gradients: optional upstream gradients, one per target, shaped like it.
            unconnected_gradients: ``"none"`` (default) or ``"zero"`` for sources the target does not depend on.

        Raises:
            RuntimeError: on a second call of a non-persistent tape.
            ValueError: for an unknown ``unconnected_gradients`` or a misshaped ``output_gradients``.
        """
        if self._used and not self._persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians). "
                "Received: a second gradient() call; use GradientTape(persistent=True)"
            )
        mode = UnconnectedGradients(unconnected_gradients if not isinstance(unconnected_gradients, str)
                                    else unconnected_gradients.lower())
        if self._active and not self._persistent:
            warnings.warn(
                "Calling GradientTape.gradient on a non-persistent tape inside its context is inefficient and does "
                "not record the gradient computation; call it after the `with` block.", UserWarning, stacklevel=2)
        targets, _ = _flatten(target)
        src, rebuild = _flatten(sources)
        for s in src:
            if not isinstance(s, Tensor):
                raise ArgumentError(f"gradient() sources must be tensors or variables. Received: {type(s).__name__}")
        seeds = [None] * len(targets)
        if output_gradients is not None:
            og, _ = _flatten(output_gradients)
            if len(og) != len(targets):
                raise ValueError(f"output_gradients must hold one gradient per target ({len(targets)}). "
                                 f"Received: {len(og)}")
            seeds = og
        self._used = True
        # A persistent tape still in its context records its own gradient computation (second derivatives).
        keep = self._recording and self._persistent
        self._recording = keep
        try:
            grads = _backprop(list(self._nodes), self._tracked, targets, seeds, src)
        finally:
            self._recording = self._active
        if not self._persistent:
            self._nodes.clear()
            self._tracked.clear()
        out = []
        for s, g in zip(src, grads):
            if g is None and mode is UnconnectedGradients.ZERO:
                g = _wrap(np.zeros(s.shape, s.dtype))
            out.append(g)
        return rebuild(out)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE, parallel_iterations=None,
                 experimental_use_pfor=True):
        """Jacobian ``d target[i...] / d source[j...]``, shaped ``target.shape + source.shape`` per source."""
        from . import array_ops

        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of gradients "
                               "(or jacobians). Received: a jacobian() call after a gradient")
        src, rebuild = _flatten(sources)
        t = core.as_tensor(target)
        n = t.size
        rows = [[] for _ in src]
        self._used = True
        persistent, self._persistent = self._persistent, True
        try:
            flat = t._v.reshape(-1)
            for i in range(n):
                seed = np.zeros(n, flat.dtype)
                seed[i] = 1
                gs = self.gradient(t, src, output_gradients=[_wrap(seed.reshape(t.shape))],
                                   unconnected_gradients=unconnected_gradients)
                for k, g in enumerate(gs):
                    rows[k].append(g)
        finally:
            self._persistent = persistent
        out = []
        for s, r in zip(src, rows):
            if any(g is None for g in r):
                out.append(None)
                continue
            out.append(array_ops.reshape(array_ops.stack(r, 0), tuple(t.shape) + tuple(s.shape)))
        if not persistent:
            self._nodes.clear()
            self._tracked.clear()
        return rebuild(out)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example Jacobians ``(batch, *target.shape[1:], *source.shape[1:])``.

        Assumes, as TensorFlow does, that ``target[b]`` depends only on ``source[b]``.
        """
        from . import array_ops

        t = core.as_tensor(target)
        if t.ndim < 1 or source.ndim < 1 or t.shape[0] != source.shape[0]:
            raise ValueError(f"batch_jacobian needs target and source with the same first (batch) dimension. "
                             f"Received: target.shape={t.shape}, source.shape={source.shape}")
        b = t.shape[0]
        m = int(np.prod(t.shape[1:], dtype=np.int64))
        persistent, self._persistent = self._persistent, True
        cols = []
        try:
            for j in range(m):
                seed = np.zeros((b, m), t.dtype)
                seed[:, j] = 1
                g = self.gradient(t, source, output_gradients=[_wrap(seed.reshape(t.shape))],
                                  unconnected_gradients=unconnected_gradients)
                if g is None:
                    return None
                cols.append(g)
        finally:
            self._persistent = persistent
            self._used = True
        out = array_ops.stack(cols, 1)
        out = array_ops.reshape(out, (b,) + tuple(t.shape[1:]) + tuple(source.shape[1:]))
        if not persistent:
            self._nodes.clear()
            self._tracked.clear()
        return out


class _Paused:
    def __init__(self, tape):
        self.tape = tape

    def __enter__(self):
        self.was = self.tape._recording
        self.tape._recording = False

    def __exit__(self, *exc):
        self.tape._recording = self.was and self.tape._active
        return False


def _backprop(nodes, tracked, targets, seeds, sources):
    """Reverse accumulation over ``nodes`` from ``targets`` to ``sources``; None where unconnected."""
    from . import math_ops

    # Only nodes on a path from a source carry gradients worth computing; a source the tape did not
    # watch (nor derive from a watched tensor) has no gradient, as in TensorFlow.
    relevant = {id(s) for s in sources if tracked.get(id(s)) is s}
    live = []
    for node in nodes:
        for a in node[2]:
            if isinstance(a, Tensor) and id(a) in relevant:
                relevant.add(id(node[1]))
                live.append(node)
                break
    grads: dict = {}
    for t, seed in zip(targets, seeds):
        if not isinstance(t, Tensor):
            continue
        if seed is None:
            g = _wrap(np.ones(t.shape, t.dtype))
        else:
            g = core.as_tensor(seed)
            if g.shape != t.shape:
                raise ValueError(f"output_gradients must match the target's shape {t.shape}. Received: {g.shape}")
        k = id(t)
        grads[k] = grads[k] + g if k in grads else g
    fast = not core.recording()
    # Gradient buffers only the tape holds (new arrays from a fast rule marked `fresh`, or the tape's
    # own sums), by id: a rule marked `takes_acc` may add its first argument's gradient into one
    # (`acc`) instead of returning a new array to be summed. A buffer leaves the set once the node
    # that produced its tensor is visited: rules may return views of the gradient they are given.
    owned = {}
    for prim, out, args, params in reversed(live):
        g = grads.get(id(out))
        if g is None:
            continue
        owned.pop(id(g._v), None)
        acc = None
        if fast and prim.fast_vjp is not None:
            rule = prim.fast_vjp
            if getattr(rule, "takes_needs", False):  # skip gradients nothing asks for (a first layer's dx)
                params = dict(params, needs=tuple(isinstance(a, Tensor) and id(a) in relevant for a in args))
            if getattr(rule, "takes_acc", False) and args and isinstance(args[0], Tensor):
                prev = grads.get(id(args[0]))
                acc = None if prev is None else owned.get(id(prev._v))
                if acc is not None:
                    params = dict(params, acc=acc)
            gs = rule(g._v, out._v, *[a._v if isinstance(a, Tensor) else a for a in args], **params)
            gs = [None if x is None else _wrap(x) for x in gs]
            fresh = getattr(rule, "fresh", False)
        else:
            gs = prim.vjp(g, out, *args, **params)
            fresh = False
        for i, (a, ga) in enumerate(zip(args, gs)):
            if ga is None or not isinstance(a, Tensor) or id(a) not in relevant:
                continue
            k = id(a)
            if i == 0 and acc is not None and ga._v is acc:
                continue  # already added into the gradient so far, inside the rule
            if ga.shape != a.shape:
                raise _shape_error(prim, a, ga)
            if ga._v.dtype != a._v.dtype:  # a gradient has its input's dtype (float32 stays float32)
                ga = math_ops.cast(ga, a._v.dtype)
            prev = grads.get(k)
            if prev is not None:
                owned.pop(id(prev._v), None)
                ga, fresh_sum = math_ops.add(prev, ga), True
            else:
                fresh_sum = fresh
            grads[k] = ga
            if fast and fresh_sum:
                owned[id(ga._v)] = ga._v
    return [grads.get(id(s)) for s in sources]


def _shape_error(prim, a, ga):
    from ..errors import ShapeError

    return ShapeError(f"Internal gradient rule of '{prim.name}' returned shape {ga.shape} for an input of shape "
                      f"{a.shape}. Received: a gradient of the wrong shape")


def stop_gradient(x):
    """``x`` as a new tensor that no tape traces through (its gradient is zero/None).

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant(3.0)
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * fn.tensor.stop_gradient(x)  # d/dx sees the second x as a constant
        >>> float(tape.gradient(y, x))
        3.0
    """
    return _wrap(core.unwrap(core.as_tensor(x)))


def value_and_grad(fun, argnums=0, has_aux=False):
    """JAX's ``value_and_grad``: ``f(*args) -> (value, gradient w.r.t. args[argnums])``.

    ``fun`` must return a scalar tensor (or ``(scalar, aux)`` with ``has_aux=True``).
    ``argnums`` may be an int or a tuple of ints (then the gradients are a tuple).

    Example:
        >>> import ferronet as fn
        >>> v, g = fn.ops.value_and_grad(lambda x: fn.reduce_sum(x ** 3))(fn.constant([1.0, 2.0]))
        >>> float(v), g.numpy()
        (9.0, array([ 3., 12.], dtype=float32))
    """

    def wrapped(*args, **kwargs):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise ArgumentError(f"argnums={argnums} but the function got {len(args)} positional arguments. "
                                    f"Received: argnums={argnums}")
            args[i] = _leaves_as_tensors(args[i])
        with GradientTape() as tape:
            for i in nums:
                tape.watch(args[i])
            res = fun(*args, **kwargs)
        value, aux = (res[0], res[1]) if has_aux else (res, None)
        value = core.as_tensor(value)
        if value.ndim != 0:
            raise ValueError(f"value_and_grad needs a function returning a scalar. Received: shape {value.shape}")
        gs = tape.gradient(value, [args[i] for i in nums], unconnected_gradients="zero")
        g = gs[0] if isinstance(argnums, int) else tuple(gs)
        return ((value, aux), g) if has_aux else (value, g)

    return wrapped


def grad(fun, argnums=0, has_aux=False):
    """JAX's ``grad``: a function returning the gradient of scalar-valued ``fun`` (nests for higher orders).

    Example:
        >>> import ferronet as fn
        >>> d2 = fn.ops.grad(fn.ops.grad(fn.sin))
        >>> round(float(d2(fn.constant(0.5, dtype="float64"))), 6)    # -sin(0.5)
        -0.479426
    """
    vg = value_and_grad(fun, argnums, has_aux)

    def wrapped(*args, **kwargs):
        res, g = vg(*args, **kwargs)
        return (g, res[1]) if has_aux else g

    return wrapped


def _leaves_as_tensors(x):
    leaves, rebuild = _flatten(x)
    return rebuild([leaf if isinstance(leaf, Tensor) else core.as_tensor(np.asarray(leaf)) for leaf in leaves])
