"""Products of :mod:`ferronet.tensor.array_ops`: ``matmul`` (the Rust GEMM for large float products, with
TensorFlow's ``transpose_a``/``transpose_b``), ``tensordot`` and ``einsum``, each differentiable, and the
``@`` operator of tensors."""

from __future__ import annotations

import builtins

import numpy as np

from ..errors import ShapeError
from .array_ops import broadcast_to, expand_dims, reshape, swapaxes, transpose
from .core import _STACK, ARRAY_OUT, Tensor, _wrap, as_tensor, primitive, unwrap

__all__ = ["matmul", "tensordot", "einsum"]

_SMALL_GEMM = 32 ** 3  # below this many multiply-adds NumPy's call is cheaper than the Rust kernel's checks


def _matmul_fwd(a, b):
    if (b.ndim > 1 and a.ndim >= 1 and a.size * b.shape[-1] > _SMALL_GEMM and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64)):
        from .. import ops

        return ops.matmul(a, b)
    return _np_matmul(a, b, out=...) if ARRAY_OUT else _np_matmul(a, b)


_np_matmul = np.matmul


def _matmul_vjp(g, y, a, b):
    from .math_ops import _unbroadcast

    av, bv = unwrap(a), unwrap(b)
    if av.ndim == 1 and bv.ndim == 1:
        from .math_ops import multiply

        return multiply(g, b), multiply(g, a)
    if av.ndim == 1:
        a2 = reshape(a, (1, -1))
        g2 = expand_dims(g, -2)
        ga = reshape(_unbroadcast(matmul(g2, swapaxes(b, -1, -2)), (1, av.shape[0])), av.shape)
        gb = _unbroadcast(matmul(swapaxes(a2, -1, -2), g2), bv.shape)
        return ga, gb
    if bv.ndim == 1:
        b2 = reshape(b, (-1, 1))
        g2 = expand_dims(g, -1)
        ga = _unbroadcast(matmul(g2, swapaxes(b2, -1, -2)), av.shape)
        gb = reshape(_unbroadcast(matmul(swapaxes(a, -1, -2), g2), (bv.shape[0], 1)), bv.shape)
        return ga, gb
    return (_unbroadcast(matmul(g, swapaxes(b, -1, -2)), av.shape),
            _unbroadcast(matmul(swapaxes(a, -1, -2), g), bv.shape))


_matmul = primitive("matmul", _matmul_fwd, _matmul_vjp)


def matmul(a, b, transpose_a=False, transpose_b=False):
    """Matrix product with NumPy's ``matmul`` rules (batched, broadcast); Rust GEMM for float32/float64.

    Raises:
        ShapeError: when the inner dimensions differ (the message gives both shapes).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.matmul(x, fn.transpose(x)).numpy()
        array([[ 5., 14.],
               [14., 50.]], dtype=float32)
        >>> fn.matmul(x, x, transpose_b=True).numpy()
        array([[ 5., 14.],
               [14., 50.]], dtype=float32)
    """
    if not _STACK and type(a) is Tensor and type(b) is Tensor and not transpose_a and not transpose_b:
        try:
            return _wrap(_matmul_fwd(a._v, b._v))  # outside a tape: no checks unless NumPy objects
        except ValueError:
            pass  # the checked path below raises the error
    a, b = as_tensor(a), as_tensor(b)
    if transpose_a:
        a = swapaxes(a, -1, -2)
    if transpose_b:
        b = swapaxes(b, -1, -2)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul needs tensors of rank >= 1. Received: shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ShapeError(f"matmul: inner dimensions differ ({ka} vs {kb}). Received: shapes {a.shape} and {b.shape}")
    return _matmul(a, b)


def _tensor_matmul(self, other):
    if type(other) is Tensor and not _STACK:
        try:
            return _wrap(_matmul_fwd(self._v, other._v))  # outside a tape: one NumPy call for small products
        except ValueError:
            pass  # the checked path below raises the error
    if getattr(other, "_is_symbolic", False):
        return NotImplemented
    return matmul(self, other)


Tensor.__matmul__ = _tensor_matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)


def tensordot(a, b, axes=2):
    """``np.tensordot`` built from transposes, reshapes and one matmul (so it is differentiable).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.tensordot(x, x, axes=2).numpy()
        array(55., dtype=float32)
        >>> fn.tensordot(x, fn.ones((3, 4)), axes=1).shape
        (2, 4)
    """
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(builtins.range(a.ndim - int(axes), a.ndim))
        ax_b = list(builtins.range(int(axes)))
    else:
        ax_a, ax_b = [list(x) if isinstance(x, (list, tuple)) else [x] for x in axes]
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    free_a = [i for i in np.arange(a.ndim) if i not in ax_a]
    free_b = [i for i in np.arange(b.ndim) if i not in ax_b]
    k = int(np.prod([a.shape[i] for i in ax_a], dtype=np.int64))
    at = reshape(transpose(a, free_a + ax_a), (-1, k))
    bt = reshape(transpose(b, ax_b + free_b), (k, -1))
    return reshape(matmul(at, bt), tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b))


def _einsum_fwd(*arrays, subscripts):
    return np.einsum(subscripts, *arrays, optimize=True)


def _einsum_vjp(g, y, *arrays, subscripts):
    ins, out = subscripts.replace(" ", "").split("->")
    parts = ins.split(",")
    grads = []
    for i, p in enumerate(parts):
        others = [parts[j] for j in np.arange(len(parts)) if j != i]
        # letters of operand i that appear nowhere else were summed out: restore them by broadcasting
        spec = ",".join([out] + others) + "->" + "".join(dict.fromkeys(c for c in p if c in out + "".join(others)))
        gi = einsum(spec, g, *[arrays[j] for j in np.arange(len(parts)) if j != i])
        missing = [c for c in p if c not in out + "".join(others)]
        if missing:
            have = "".join(dict.fromkeys(c for c in p if c in out + "".join(others)))
            shape = np.shape(unwrap(arrays[i]))
            gi = reshape(gi, tuple(shape[p.index(c)] if c in have else 1 for c in p)) if len(set(p)) == len(p) else gi
            gi = broadcast_to(gi, shape)
        elif "".join(dict.fromkeys(p)) != p or any(p.count(c) > 1 for c in p):
            raise NotImplementedError(f"einsum gradient with a repeated index in one operand. Received: {subscripts}")
        else:
            have = "".join(dict.fromkeys(c for c in p if c in out + "".join(others)))
            if have != p:
                gi = transpose(gi, [have.index(c) for c in p])
        grads.append(gi)
    return tuple(grads)


_einsum = primitive("einsum", _einsum_fwd, _einsum_vjp)


def einsum(subscripts, *operands):
    """``np.einsum`` with an explicit output (``"ij,jk->ik"``); differentiable when no index repeats in one operand.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.einsum("ij,ij->i", x, x).numpy()
        array([ 5., 50.], dtype=float32)
    """
    if "->" not in subscripts:
        raise ValueError(f"einsum needs an explicit output ('ij,jk->ik'). Received: {subscripts!r}")
    return _einsum(*[as_tensor(o) for o in operands], subscripts=subscripts)
