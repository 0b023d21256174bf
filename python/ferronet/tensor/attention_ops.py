"""Scaled dot-product attention as one differentiable primitive on the tape.

The forward and first-order backward are the fused Rust kernels
(:func:`ferronet.ops.dot_product_attention` and its backward): the forward
keeps each row's log-sum-exp for the backward, which recomputes the scores
tile by tile. The differentiable twin, used when a higher derivative is
taken, is the same attention written with elementary ops (full score matrix,
softmax, products), so both give the same gradients.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from ..ops import attention as _att
from . import array_ops as A
from . import math_ops as M
from . import nn_ops
from .core import Primitive, as_tensor, unwrap
from .symbolic import symbolic_aware

__all__ = ["dot_product_attention", "attention_probabilities"]

# Logit of a hidden key in the elementary form: exp() of it is exactly 0 next to any visible logit, and a row of
# hidden keys only is uniform, as in the fused kernel.
_HIDDEN = -1e30


class _Saved:
    """What the forward leaves for the fast backward (one per call, passed as a parameter)."""

    __slots__ = ("out", "lse")

    def __init__(self):
        self.out = self.lse = None


def _fwd(q, k, v, mask, bias, scale, causal, saved):
    q, k, v, bias, mask, scale = _att.prepare(q, k, v, bias, mask, scale)
    saved.out, saved.lse = _core.attention(q, k, v, scale, causal, mask=mask, bias=bias)
    return saved.out


def _fast(g, y, q, k, v, mask, bias, scale, causal, saved):
    q, k, v, bias, mask, scale = _att.prepare(q, k, v, bias, mask, scale)
    lse = saved.lse
    if saved.out is not y:  # not this output's forward (a replayed graph): recompute its log-sum-exp
        _, lse = _core.attention(q, k, v, scale, causal, mask=mask, bias=bias)
    g = np.ascontiguousarray(g, dtype=q.dtype)
    y = np.ascontiguousarray(y, dtype=q.dtype)
    dq, dk, dv = _core.attention_backward(q, k, v, y, lse, g, scale, causal, mask=mask, bias=bias)
    return dq, dk, dv, None, None


def _visible(mask, causal, t, s):
    """The boolean (…, t, s) array of keys each query sees, or None when all are."""
    vis = None if mask is None else np.asarray(unwrap(mask)).astype(bool)
    if causal:
        tri = np.tril(np.ones((t, s), bool))
        vis = tri if vis is None else np.logical_and(vis, tri)
    return vis


def attention_probabilities(q, k, mask=None, bias=None, scale=None, causal=False):
    """The ``(batch, heads, tokens, kv_tokens)`` softmax weights, in elementary differentiable ops.

    ``q`` is ``(batch, tokens, heads, head_dim)`` and ``k`` ``(batch, kv_tokens,
    heads, head_dim)``; ``mask``, ``bias``, ``scale`` and ``causal`` as in
    :func:`dot_product_attention`.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.attention_ops import attention_probabilities
        >>> q = fn.ones((1, 3, 1, 2))  # equal scores: each query spreads evenly over the keys it sees
        >>> p = attention_probabilities(q, q, causal=True)
        >>> p.shape
        (1, 1, 3, 3)
        >>> np.round(p.numpy()[0, 0], 4)
        array([[1.    , 0.    , 0.    ],
               [0.5   , 0.5   , 0.    ],
               [0.3333, 0.3333, 0.3333]], dtype=float32)
    """
    h = q.shape[-1]
    scale = 1.0 / np.sqrt(h) if scale is None else float(scale)
    qt = A.transpose(q, (0, 2, 1, 3))
    kt = A.transpose(k, (0, 2, 3, 1))
    s = M.multiply(A.matmul(qt, kt), np.asarray(scale, unwrap(q).dtype))
    if bias is not None:
        s = M.add(s, bias)
    vis = _visible(mask, causal, q.shape[1], k.shape[1])
    if vis is not None:
        vis = np.broadcast_to(vis.reshape((1,) * (4 - vis.ndim) + vis.shape), s.shape)
        s = M.where(vis, s, np.asarray(_HIDDEN, unwrap(q).dtype))
    return nn_ops.softmax(s, axis=-1)


def _formula(q, k, v, mask, bias, scale, causal, saved):
    p = attention_probabilities(q, k, mask, bias, scale, causal)
    return A.transpose(A.matmul(p, A.transpose(v, (0, 2, 1, 3))), (0, 2, 1, 3))


_attention = Primitive("dot_product_attention", _fwd, nn_ops._twin(_formula), _fast)


@symbolic_aware
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Keras 3's ``ops.dot_product_attention`` on tensors, differentiable (see the module docstring).

    Shapes as :func:`ferronet.ops.dot_product_attention`; ``mask`` and ``bias``
    are constants (no gradient flows to them).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.attention_ops import dot_product_attention
        >>> q = fn.ones((1, 3, 1, 2))  # (batch, tokens, heads, head_dim)
        >>> v = fn.constant(np.arange(6.0, dtype="float32").reshape(1, 3, 1, 2))
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(v)
        ...     out = dot_product_attention(q, q, v, is_causal=True)  # token i averages values 0..i
        ...     loss = fn.reduce_sum(out)
        >>> out.numpy()[0, :, 0]
        array([[0., 1.],
               [1., 2.],
               [2., 3.]], dtype=float32)
        >>> np.round(tape.gradient(loss, v).numpy()[0, :, 0, 0], 4)  # 1 + 1/2 + 1/3 reach value 0
        array([1.8333, 0.8333, 0.3333], dtype=float32)
    """
    if attn_logits_soft_cap is not None:
        raise ValueError(f"dot_product_attention: attn_logits_soft_cap is not supported. "
                         f"Received: attn_logits_soft_cap={attn_logits_soft_cap!r}")
    q = as_tensor(query)
    m = None if mask is None else np.asarray(unwrap(mask)).astype(bool)
    b = None if bias is None else np.asarray(unwrap(bias), dtype=q.dtype)
    return _attention(q, as_tensor(key), as_tensor(value), m, b, scale=None if scale is None else float(scale),
                      causal=bool(is_causal), saved=_Saved())
