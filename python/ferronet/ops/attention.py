"""Scaled dot-product attention on NumPy arrays, by the fused Rust kernel.

Arrays are laid out as Keras 3's ``keras.ops.dot_product_attention`` takes
them: ``(batch, tokens, heads, head_dim)``. The softmax over keys is computed
online, tile by tile, so no ``queries × keys`` array is ever allocated; the
backward recomputes the scores from the forward's log-sum-exp.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np

from .. import _core
from ..errors import ArgumentError, ShapeError
from ._util import _common, _contiguous

__all__ = ["dot_product_attention", "dot_product_attention_backward"]

_OP = "dot_product_attention"


def _shapes(op, q, k, v):
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ShapeError(f"{op}: query, key and value must be 4-D (batch, tokens, heads, head_dim). Received: "
                         f"query.shape={q.shape}, key.shape={k.shape}, value.shape={v.shape}")
    (b, _, n, h), (bk, s, nk, hk), (bv, sv, nv, _) = q.shape, k.shape, v.shape
    if bk != b or bv != b or nk != n or nv != n or hk != h or sv != s:
        raise ShapeError(f"{op}: key must be (batch, kv_tokens, heads, head_dim) matching query (batch, tokens, heads, "
                         f"head_dim), and value (batch, kv_tokens, heads, value_dim). Received: query.shape={q.shape}, "
                         f"key.shape={k.shape}, value.shape={v.shape}")


def _broadcast4(op, name, a, full):
    """``a`` as a C-contiguous 4-D array whose axes each have ``full``'s size or 1."""
    a = np.asarray(a)
    if a.ndim > 4:
        raise ShapeError(f"{op}: {name} must broadcast to (batch, heads, tokens, kv_tokens) = {full}. "
                         f"Received: {name}.shape={a.shape}")
    a4 = a.reshape((1,) * (4 - a.ndim) + a.shape)
    if any(d not in (1, f) for d, f in zip(a4.shape, full)):
        raise ShapeError(f"{op}: {name} must broadcast to (batch, heads, tokens, kv_tokens) = {full}. "
                         f"Received: {name}.shape={a.shape}")
    return _contiguous(a4)


def prepare(query, key, value, bias=None, mask=None, scale=None, op=_OP):
    """Checked, contiguous operands of one attention call: ``(q, k, v, bias, mask, scale)``.

    ``mask`` becomes a 4-D bool array and ``bias`` a 4-D array of the
    operands' dtype, each with size-1 axes where it broadcasts.
    """
    q, k, v = (_contiguous(a) for a in _common(op, query=query, key=key, value=value))
    _shapes(op, q, k, v)
    b, t, n, h = q.shape
    full = (b, n, t, k.shape[1])
    if mask is not None:
        mask = _broadcast4(op, "mask", np.asarray(mask).astype(bool, copy=False), full)
    if bias is not None:
        bias = _broadcast4(op, "bias", np.asarray(bias, dtype=q.dtype), full)
    if scale is None:
        scale = 1.0 / math.sqrt(h) if h else 1.0
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise ArgumentError(f"{op}: scale must be a float or None. Received: scale={scale!r}") from None
    if not math.isfinite(scale):
        raise ArgumentError(f"{op}: scale must be finite. Received: scale={scale!r}")
    return q, k, v, bias, mask, scale


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None, return_lse=False):
    """``softmax(scale · query·keyᵀ + bias, masked) · value`` per batch and head (Keras 3's op).

    Args:
        query: ``(batch, tokens, heads, head_dim)``, float32 or float64.
        key: ``(batch, kv_tokens, heads, head_dim)``.
        value: ``(batch, kv_tokens, heads, value_dim)``.
        bias: optional additive bias of the logits, broadcastable to
            ``(batch, heads, tokens, kv_tokens)``.
        mask: optional boolean array broadcastable to
            ``(batch, heads, tokens, kv_tokens)``; False hides a key from a
            query. A query that sees no key gets the mean of all values
            (what Keras' additive large-negative mask gives in float32).
        scale: multiplies the logits; default ``1 / sqrt(head_dim)``.
        is_causal: hide key ``j`` from query ``i`` when ``j > i``.
        flash_attention: accepted for Keras compatibility; the kernel is
            always the fused, tiled one.
        attn_logits_soft_cap: must be None (not supported).
        return_lse: also return each row's log-sum-exp of its logits,
            ``(batch, heads, tokens)`` (``+inf`` for a row that sees no key),
            which :func:`dot_product_attention_backward` takes.

    Returns:
        ``(batch, tokens, heads, value_dim)``, the operands' dtype (and the
        log-sum-exp with ``return_lse=True``).

    Example:
        >>> import numpy as np
        >>> from ferronet import ops
        >>> q = np.ones((2, 5, 4, 8), np.float32)
        >>> ops.dot_product_attention(q, q, q, is_causal=True).shape
        (2, 5, 4, 8)
    """
    if attn_logits_soft_cap is not None:
        raise ArgumentError(f"{_OP}: attn_logits_soft_cap is not supported. "
                            f"Received: attn_logits_soft_cap={attn_logits_soft_cap!r}")
    if flash_attention not in (None, True, False):
        raise ArgumentError(f"{_OP}: flash_attention must be None, True or False. "
                            f"Received: flash_attention={flash_attention!r}")
    q, k, v, bias, mask, scale = prepare(query, key, value, bias, mask, scale)
    out, lse = _core.attention(q, k, v, scale, bool(is_causal), mask=mask, bias=bias)
    return (out, lse) if return_lse else out


def dot_product_attention_backward(dout, query, key, value, out, lse, bias=None, mask=None, scale=None,
                                   is_causal=False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dquery, dkey, dvalue)`` of :func:`dot_product_attention` for the output gradient ``dout``.

    Args:
        dout: gradient of the loss with respect to the output.
        query, key, value, bias, mask, scale, is_causal: as given to the forward.
        out, lse: the forward's output and log-sum-exp (``return_lse=True``).

    Returns:
        Arrays shaped like ``query``, ``key`` and ``value``. The mask and bias get no gradient.

    Example:
        >>> q = np.random.default_rng(0).normal(size=(1, 3, 1, 4)).astype(np.float32)
        >>> out, lse = dot_product_attention(q, q, q, return_lse=True)
        >>> dq, dk, dv = dot_product_attention_backward(np.ones_like(out), q, q, q, out, lse)
        >>> dq.shape, dk.shape, np.round(dv.sum(axis=1), 4)  # 3 queries, each with weights summing to 1
        ((1, 3, 1, 4), (1, 3, 1, 4), array([[[3., 3., 3., 3.]]], dtype=float32))
    """
    q, k, v, bias, mask, scale = prepare(query, key, value, bias, mask, scale, op="dot_product_attention_backward")
    b, t, n, _ = q.shape
    dv_shape = (b, t, n, v.shape[3])
    saved = {"dout": (dout, dv_shape), "out": (out, dv_shape), "lse": (lse, (b, n, t))}
    arrays = {}
    for name, (a, want) in saved.items():
        a = _contiguous(np.asarray(a, dtype=q.dtype))
        if a.shape != want:
            raise ShapeError(f"dot_product_attention_backward: {name} must have shape {want}. "
                             f"Received: {name}.shape={a.shape}")
        arrays[name] = a
    return _core.attention_backward(q, k, v, arrays["out"], arrays["lse"], arrays["dout"], scale, bool(is_causal),
                                    mask=mask, bias=bias)

