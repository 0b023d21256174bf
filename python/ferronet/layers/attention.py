"""``Attention``: Keras 3's dot-product (Luong-style) attention layer, on the fused attention kernel;
``AdditiveAttention``: Bahdanau-style attention, ``Σ scale · tanh(query + key)`` scores."""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import array_ops as A
from ..tensor import attention_ops
from ..tensor import activation_ops as F
from ..tensor import math_ops as M
from ..tensor import reduce_ops as R
from ..tensor.core import unwrap
from .base import Layer, fmt_shape
from .dropout import Dropout

__all__ = ["Attention", "AdditiveAttention"]


class Attention(Layer):
    """Dot-product attention: ``softmax(scale · query·keyᵀ) · value`` (single head, no projections).

    Args:
        use_scale: learn a scalar ``scale`` (initialized to 1) multiplying the scores.
        score_mode: ``"dot"`` (the only mode supported; Keras' ``"concat"`` raises).
        dropout: dropout rate on the attention weights (training only).
        seed: optional seed of that dropout.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]``: ``(batch, Tq, dim)``, ``(batch, Tv, dim_v)``,
            ``(batch, Tv, dim)``; ``key`` defaults to ``value``.
        mask: optional ``[query_mask, value_mask]`` booleans ``(batch, Tq)`` and ``(batch, Tv)`` (either may be
            None): masked values are hidden from every query, and masked queries give zero outputs.
        return_attention_scores: also return the ``(batch, Tq, Tv)`` attention weights.
        training: applies the dropout.
        use_causal_mask: hide value ``j`` from query ``i`` when ``j > i``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> q, v = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)
        >>> fn.layers.Attention()([q, v]).shape
        (2, 3, 4)
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode != "dot":
            raise ArgumentError(f"Attention supports score_mode='dot' only. Received: score_mode={score_mode!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Attention: dropout must be in [0, 1). Received: dropout={dropout!r}")
        self.use_scale, self.score_mode, self.dropout, self.seed = bool(use_scale), score_mode, float(dropout), seed
        self.scale = None
        self._dropout_layer = Dropout(self.dropout, seed=seed, dtype=self.dtype,
                                      name=f"{self.name}_dropout") if self.dropout else None

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if isinstance(input_shape, (list, tuple)) and input_shape and \
            isinstance(input_shape[0], (list, tuple)) else None
        if shapes is None or len(shapes) not in (2, 3):
            raise ValueError(f'Layer "{self.name}" (Attention) takes [query, value] or [query, value, key]. '
                             f"Received: input_shape={input_shape}")
        if self.use_scale:
            self.scale = self.add_weight(self._scale_shape(shapes), self._scale_initializer, name="scale")

    # The learned scale: one scalar on the scores (AdditiveAttention: one per feature of the query).
    _scale_initializer = "ones"

    def _scale_shape(self, shapes):
        return ()

    @staticmethod
    def _mask_queries(out, q_mask):
        """``out`` with the masked queries' rows zero (as Keras)."""
        if q_mask is None:
            return out
        qm = np.asarray(unwrap(q_mask)).astype(unwrap(out).dtype).reshape(out.shape[0], out.shape[1], 1)
        return M.multiply(out, qm)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def compute_mask(self, inputs, mask=None):
        """The query mask, as Keras: masked queries stay masked in the output."""
        if isinstance(mask, (list, tuple)):
            return mask[0] if mask else None
        return None

    def _unpack(self, x, mask, kwargs):
        """``(query, value, key, query_mask, value_mask)`` of a call, checked."""
        name = type(self).__name__
        if kwargs:
            raise TypeError(f'Layer "{self.name}" ({name}) got unexpected arguments. Received: {sorted(kwargs)}')
        q, v = x[0], x[1]
        k = x[2] if len(x) > 2 else v
        if q.ndim != 3 or v.ndim != 3 or k.ndim != 3 or q.shape[-1] != k.shape[-1] or k.shape[:2] != v.shape[:2] \
                or q.shape[0] != v.shape[0]:
            raise ShapeError(f'Layer "{self.name}" ({name}) needs query (batch, Tq, dim), value (batch, Tv, '
                             f"dim_v) and key (batch, Tv, dim). Received: query {fmt_shape(q.shape)}, value "
                             f"{fmt_shape(v.shape)}, key {fmt_shape(k.shape)}")
        q_mask, v_mask = (list(mask) + [None, None])[:2] if mask is not None else (None, None)
        return q, v, k, q_mask, v_mask

    def _tensor_call(self, x, training, mask=None, return_attention_scores=False, use_causal_mask=False, **kwargs):
        q, v, k, q_mask, v_mask = self._unpack(x, mask, kwargs)
        keys = None
        if v_mask is not None:
            keys = np.asarray(unwrap(v_mask)).astype(bool).reshape(v.shape[0], 1, 1, v.shape[1])
        if self.scale is not None:
            q = M.multiply(q, self.scale)
        q4, k4, v4 = (A.expand_dims(t, 2) for t in (q, k, v))  # one head
        causal = bool(use_causal_mask)
        drop = self._dropout_layer is not None and training
        if drop or return_attention_scores:
            p = attention_ops.attention_probabilities(q4, k4, keys, None, 1.0, causal)
            w = self._dropout_layer._tensor_call(p, True) if drop else p
            out = A.squeeze(A.matmul(w, A.transpose(v4, (0, 2, 1, 3))), 1)
        else:
            out = A.squeeze(attention_ops.dot_product_attention(q4, k4, v4, mask=keys, scale=1.0,
                                                                 is_causal=causal), 2)
        out = self._mask_queries(out, q_mask)
        if return_attention_scores:
            return out, A.squeeze(p, 1)
        return out

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}

    def _get_state(self):
        return {} if self._dropout_layer is None else self._dropout_layer._get_state()

    def _set_state(self, state):
        if self._dropout_layer is not None and state:
            self._dropout_layer._set_state(state)


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores ``Σ_d scale_d · tanh(query_id + key_jd)``, then as
    :class:`Attention`: masked keys get ``-1e9`` before the softmax over them, dropout on the weights, and
    ``weights · value``.

    Args:
        use_scale: learn the ``(dim,)`` ``scale`` (Glorot-uniform initialized); without it the sum is plain.
        dropout: dropout rate on the attention weights (training only).
        **kwargs: base layer arguments (and ``seed``).

    The call takes :class:`Attention`'s arguments. The scores are formed for every (query, key) pair and
    feature, ``(batch, Tq, Tv, dim)`` values, so long sequences cost memory.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> q, v = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 6), np.float32)
        >>> k = np.zeros((2, 5, 4), np.float32)
        >>> out, weights = fn.layers.AdditiveAttention()([q, v, k], return_attention_scores=True)
        >>> out.shape, weights.shape, bool(np.allclose(weights.numpy(), 0.2))  # equal keys, equal weights
        ((2, 3, 6), (2, 3, 5), True)
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        kwargs.pop("score_mode", None)
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    _scale_initializer = "glorot_uniform"

    def _scale_shape(self, shapes):
        return (shapes[0][-1],)

    def _tensor_call(self, x, training, mask=None, return_attention_scores=False, use_causal_mask=False, **kwargs):
        q, v, k, q_mask, v_mask = self._unpack(x, mask, kwargs)
        t = F.tanh(M.add(A.expand_dims(q, 2), A.expand_dims(k, 1)))
        scores = R.reduce_sum(t if self.scale is None else M.multiply(t, self.scale), axis=-1)
        keep = None
        if v_mask is not None:
            keep = np.asarray(unwrap(v_mask)).astype(bool).reshape(v.shape[0], 1, v.shape[1])
        if use_causal_mask:
            tq, tv = q.shape[1], v.shape[1]
            causal = np.tril(np.ones((tq, tv), bool))[None]  # value j is hidden from query i when j > i
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = M.where(keep, scores, M.subtract(scores, 1.0e9))
        weights = F.softmax(scores, axis=-1)
        used = self._dropout_layer._tensor_call(weights, True) if self._dropout_layer is not None and training \
            else weights
        out = A.matmul(used, v)
        out = self._mask_queries(out, q_mask)
        return (out, weights) if return_attention_scores else out

    def get_config(self):
        config = super().get_config()
        config.pop("score_mode", None)
        return config
