"""``MultiHeadAttention``: Keras 3's multi-head attention, on the fused attention kernel."""

from __future__ import annotations

import math

import numpy as np

from .. import initializers, regularizers
from ..errors import ArgumentError, ShapeError
from ..tensor import array_ops as A
from ..tensor import attention_ops, nn_ops
from ..tensor.core import unwrap
from .base import Layer, fmt_shape
from .dropout import Dropout

__all__ = ["MultiHeadAttention"]

_PARTS = ("query", "key", "value")


def _positive(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"MultiHeadAttention: {name} must be a positive integer. Received: {name}={v!r}")
    return int(v)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al. 2017) with Keras 3's arguments, defaults and weight layouts.

    Each of ``num_heads`` heads projects the query, key and value to
    ``key_dim``/``key_dim``/``value_dim`` features, attends with
    ``softmax(q·kᵀ / sqrt(key_dim))``, and the heads' outputs are projected
    back to the query's width (or ``output_shape``). Without attention
    dropout in training and without ``return_attention_scores``, attention
    runs as one fused kernel whose softmax is computed tile by tile, so no
    ``queries × keys`` array is stored, forward or backward.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default ``key_dim``).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the four projections have biases.
        output_shape: size of the output's last axis (int or 1-tuple); default the query's last axis.
        attention_axes: axes attention is applied over; only the default (every axis between batch and
            features, flattened into one token axis) is supported, given as None or explicitly.
        kernel_initializer, bias_initializer: initializers of the projections.
        kernel_regularizer, bias_regularizer: optional regularizers of the projections.
        seed: optional seed of the attention dropout.
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        query: ``(batch, tokens, query_dim)`` (or more token axes).
        value: ``(batch, kv_tokens, value_dim)``.
        key: optional ``(batch, kv_tokens, key_dim)``; default ``value``.
        attention_mask: optional boolean ``(batch, tokens, kv_tokens)`` (broadcastable); False hides a key from a
            query. A query that sees no key attends uniformly to all keys, as Keras does in float32.
        return_attention_scores: also return the ``(batch, heads, tokens, kv_tokens)`` probabilities.
        training: applies the attention dropout.
        use_causal_mask: hide key ``j`` from query ``i`` when ``j > i``.

    Weights, in Keras' order and layouts: ``query_kernel (query_dim, heads, key_dim)``, ``query_bias (heads,
    key_dim)``, the same for key and value (``value_dim``), ``output_kernel (heads, value_dim, output_dim)``,
    ``output_bias (output_dim,)``; ``set_weights`` takes Keras' ``get_weights()`` unchanged.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.ones((2, 10, 16), np.float32)
        >>> fn.layers.MultiHeadAttention(num_heads=4, key_dim=8)(x, x).shape
        (2, 10, 16)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _positive(num_heads, "num_heads")
        self.key_dim = _positive(key_dim, "key_dim")
        self.value_dim = self.key_dim if value_dim is None else _positive(value_dim, "value_dim")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1). Received: dropout={dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape is not None:
            dims = [output_shape] if isinstance(output_shape, (int, np.integer)) else list(output_shape)
            if len(dims) != 1:
                raise ArgumentError(f"MultiHeadAttention supports an output_shape of one axis (an int). "
                                    f"Received: output_shape={output_shape!r}")
            output_shape = _positive(dims[0], "output_shape")
        self._output_dim = output_shape
        if attention_axes is not None:
            attention_axes = (int(attention_axes),) if isinstance(attention_axes, (int, np.integer)) else tuple(
                int(a) for a in attention_axes)
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = seed
        self._dropout_layer = Dropout(self.dropout, seed=seed, dtype=self.dtype,
                                                  name=f"{self.name}_dropout") if self.dropout else None

    # ------------------------------------------------------------------ calling
    def __call__(self, query, value=None, key=None, attention_mask=None, **kwargs):
        """``layer(query, value, key=None, attention_mask=None, ...)`` as in Keras; the inputs travel as one
        list ``[query, value, key, attention_mask]`` (shortened at the end) through functional models."""
        if isinstance(query, (list, tuple)) and value is None:
            parts = list(query)
            if not 2 <= len(parts) <= 4:
                raise ValueError(f'Layer "{self.name}" (MultiHeadAttention) takes [query, value, key, '
                                 f"attention_mask]. Received: a list of {len(parts)} inputs")
            query, value = parts[0], parts[1]
            key = parts[2] if len(parts) > 2 else key
            attention_mask = parts[3] if len(parts) > 3 else attention_mask
        if value is None:
            raise TypeError(f'Layer "{self.name}" (MultiHeadAttention) needs a value: call it as layer(query, '
                            f"value). Received: value=None")
        inputs = [query, value, value if key is None else key]
        if attention_mask is not None:
            inputs.append(attention_mask)
        elif key is None:
            inputs.pop()
        return super().__call__(inputs, **kwargs)

    def _check_axes(self, rank):
        default = tuple(range(1, rank - 1))
        if self.attention_axes is not None and tuple(a % rank for a in self.attention_axes) != default:
            raise ArgumentError(f"MultiHeadAttention supports attention over all axes between batch and features "
                                f"(attention_axes=None or {default} for rank-{rank} inputs). "
                                f"Received: attention_axes={self.attention_axes}")

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None and isinstance(query_shape, (list, tuple)) and query_shape and \
                isinstance(query_shape[0], (list, tuple)):
            shapes = [tuple(s) for s in query_shape]
            query_shape, value_shape = shapes[0], shapes[1]
            key_shape = shapes[2] if len(shapes) > 2 else None
        key_shape = value_shape if key_shape is None else key_shape
        q, v, k = tuple(query_shape), tuple(value_shape), tuple(key_shape)
        if len(q) < 3 or len(v) != len(q) or len(k) != len(q):
            raise ShapeError(f'Layer "{self.name}" (MultiHeadAttention) needs query, value and key of one rank, at '
                             f"least 3 (batch, tokens, features). Received: query {fmt_shape(q)}, value "
                             f"{fmt_shape(v)}, key {fmt_shape(k)}")
        self._check_axes(len(q))
        n, h, hv = self.num_heads, self.key_dim, self.value_dim
        out = self._output_dim or q[-1]
        for part, dim, width in (("query", q[-1], h), ("key", k[-1], h), ("value", v[-1], hv)):
            setattr(self, f"{part}_kernel", self._add(f"{part}_kernel", (dim, n, width), True))
            setattr(self, f"{part}_bias", self._add(f"{part}_bias", (n, width), False) if self.use_bias else None)
        self.output_kernel = self._add("output_kernel", (n, hv, out), True)
        self.output_bias = self._add("output_bias", (out,), False) if self.use_bias else None
        self._shapes = tuple((None,) + s[1:] for s in (q, v, k))

    def _add(self, name, shape, kernel):
        if kernel:
            return self.add_weight(shape, self.kernel_initializer, regularizer=self.kernel_regularizer, name=name)
        return self.add_weight(shape, self.bias_initializer, regularizer=self.bias_regularizer, name=name)

    def compute_output_shape(self, input_shape):
        q = tuple(input_shape[0]) if isinstance(input_shape[0], (list, tuple)) else tuple(input_shape)
        return q[:-1] + (self._output_dim or q[-1],)

    def _check_call(self, q, v, k):
        bq, bv, bk = self._shapes
        for name, got, want in (("query", q, bq), ("value", v, bv), ("key", k, bk)):
            if len(got) != len(want) or got[-1] != want[-1]:
                raise ShapeError(f'Layer "{self.name}" (MultiHeadAttention) was built for {name} {fmt_shape(want)}. '
                                 f"Received: {name} {fmt_shape(got)}")
        if not (q[0] == v[0] == k[0]) or v[1:-1] != k[1:-1]:
            raise ShapeError(f'Layer "{self.name}" (MultiHeadAttention) needs one batch size, and key and value '
                             f"with the same tokens. Received: query {fmt_shape(q)}, value {fmt_shape(v)}, key "
                             f"{fmt_shape(k)}")

    def _project(self, x, part, tokens):
        """``x (batch, ..., dim)`` through the ``part`` projection, as ``(batch, tokens, heads, width)``."""
        kernel = getattr(self, f"{part}_kernel")
        if x.ndim != 3:  # several token axes: flattened into one
            x = A.reshape(x, (x.shape[0], tokens, kernel.shape[0]))
        return nn_ops.dense(x, kernel, getattr(self, f"{part}_bias"))

    def _mask(self, mask, q, k, tq, tk):
        """The attention mask as a boolean ``(batch | 1, 1, tq, tk)`` array (token axes flattened)."""
        m = np.asarray(unwrap(mask)) != 0
        full = (q[0],) + q[1:-1] + k[1:-1]
        try:
            m = np.broadcast_to(m, full)
        except ValueError:
            raise ShapeError(f'Layer "{self.name}" (MultiHeadAttention) needs attention_mask broadcastable to '
                             f"(batch, tokens, kv_tokens) = {full}. Received: attention_mask.shape={m.shape}") from None
        return np.ascontiguousarray(m.reshape(q[0], 1, tq, tk))

    def _tensor_call(self, x, training, attention_mask=None, return_attention_scores=False, use_causal_mask=False,
                     **kwargs):
        if kwargs.pop("mask", None) is not None or kwargs:
            raise TypeError(f'Layer "{self.name}" (MultiHeadAttention) got unexpected arguments. Received: '
                            f"{sorted(kwargs) or ['mask']}")
        query, value, key = x[0], x[1], x[2] if len(x) > 2 else x[1]
        if len(x) > 3:
            attention_mask = x[3]
        q, v, k = tuple(query.shape), tuple(value.shape), tuple(key.shape)
        self._check_call(q, v, k)
        tq, tk = math.prod(q[1:-1]), math.prod(k[1:-1])
        qh, kh, vh = (self._project(t, p, n) for t, p, n in ((query, "query", tq), (key, "key", tk),
                                                               (value, "value", tk)))
        mask = None if attention_mask is None else self._mask(attention_mask, q, k, tq, tk)
        scale = 1.0 / math.sqrt(self.key_dim)
        drop = self._dropout_layer is not None and training
        scores = None
        if drop or return_attention_scores:
            # The probabilities are needed as an array: the elementary form materializes them.
            scores = attention_ops.attention_probabilities(qh, kh, mask, None, scale, bool(use_causal_mask))
            p = self._dropout_layer._tensor_call(scores, True) if drop else scores
            o = A.transpose(A.matmul(p, A.transpose(vh, (0, 2, 1, 3))), (0, 2, 1, 3))
        else:
            o = attention_ops.dot_product_attention(qh, kh, vh, mask=mask, scale=scale,
                                                    is_causal=bool(use_causal_mask))
        out = self.output_kernel.shape[-1]
        y = nn_ops.dense(o, self.output_kernel, self.output_bias, axes=2)
        if len(q) != 3:
            y = A.reshape(y, q[:-1] + (out,))
        if return_attention_scores:
            return y, A.reshape(scores, (q[0], self.num_heads) + q[1:-1] + k[1:-1])
        return y

    def get_config(self):
        def reg(r):
            return None if r is None else regularizers.serialize(r)

        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_dim,
                "attention_axes": None if self.attention_axes is None else list(self.attention_axes),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": reg(self.kernel_regularizer), "bias_regularizer": reg(self.bias_regularizer),
                "seed": self.seed}

    def _get_state(self):
        return {} if self._dropout_layer is None else self._dropout_layer._get_state()

    def _set_state(self, state):
        if self._dropout_layer is not None and state:
            self._dropout_layer._set_state(state)

