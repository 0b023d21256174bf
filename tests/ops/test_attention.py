"""ops.dot_product_attention and its backward: a NumPy reference, float64 central differences, thread counts."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import ops
from ferronet.errors import ArgumentError, DTypeError, ShapeError
from ferronet.tensor import attention_ops

from .gradcheck import numerical_grad


def reference(q, k, v, mask=None, bias=None, scale=None, causal=False):
    """Attention with the full score matrix; a row that sees no key averages all values."""
    b, t, n, h = q.shape
    s_len = k.shape[1]
    scale = 1 / np.sqrt(h) if scale is None else scale
    s = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        s = s + bias
    vis = np.ones((b, n, t, s_len), bool)
    if mask is not None:
        vis &= np.broadcast_to(mask, vis.shape)
    if causal:
        vis &= np.tril(np.ones((t, s_len), bool))
    s = np.where(vis, s, -np.inf)
    m = s.max(-1, keepdims=True)
    none = ~np.isfinite(m)
    e = np.where(vis, np.exp(s - np.where(none, 0, m)), 0)
    p = np.where(none, 1.0 / s_len, e / np.where(none, 1, e.sum(-1, keepdims=True)))
    return np.einsum("bnts,bsnd->btnd", p, v)


def operands(b=2, t=5, s=7, n=3, h=4, hv=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, t, n, h)).astype(dtype), rng.standard_normal((b, s, n, h)).astype(dtype),
            rng.standard_normal((b, s, n, hv)).astype(dtype))


MASKS = {
    "none": lambda b, n, t, s, rng: None,
    "keys": lambda b, n, t, s, rng: rng.random((b, 1, 1, s)) > 0.3,
    "per_query": lambda b, n, t, s, rng: rng.random((t, s)) > 0.4,
    "per_head": lambda b, n, t, s, rng: rng.random((b, n, t, s)) > 0.5,
}


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("mask_kind", sorted(MASKS))
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sizes", [(2, 5, 7, 3, 4, 3), (1, 70, 150, 2, 16, 8)])
def test_forward_matches_reference(dtype, tol, mask_kind, causal, sizes):
    b, t, s, n, h, hv = sizes
    q, k, v = operands(b, t, s, n, h, hv, dtype)
    rng = np.random.default_rng(1)
    mask = MASKS[mask_kind](b, n, t, s, rng)
    bias = rng.standard_normal((1, n, 1, s)).astype(dtype)
    got = ops.dot_product_attention(q, k, v, bias=bias, mask=mask, is_causal=causal)
    want = reference(*(a.astype(np.float64) for a in (q, k, v)), mask, bias, causal=causal)
    assert got.dtype == dtype and got.shape == (b, t, n, hv)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_row_that_sees_no_key_averages_the_values():
    q, k, v = operands()
    mask = np.ones((2, 1, 5, 7), bool)
    mask[0, 0, 2] = False
    out, lse = ops.dot_product_attention(q, k, v, mask=mask, return_lse=True)
    np.testing.assert_allclose(out[0, 2], v[0].mean(0), rtol=1e-13)
    assert np.isinf(lse[0, :, 2]).all() and np.isfinite(lse[1]).all()


@pytest.mark.parametrize("causal", [False, True])
def test_backward_matches_central_differences(causal):
    q, k, v = operands()
    rng = np.random.default_rng(2)
    mask = rng.random((2, 1, 5, 7)) > 0.3
    mask[1, 0, 3] = False  # a row that sees no key
    bias = rng.standard_normal((2, 3, 5, 7))
    w = rng.standard_normal((2, 5, 3, 3))
    out, lse = ops.dot_product_attention(q, k, v, bias, mask, 0.7, causal, return_lse=True)
    grads = ops.dot_product_attention_backward(w, q, k, v, out, lse, bias, mask, 0.7, causal)

    def loss():
        return float((ops.dot_product_attention(q, k, v, bias, mask, 0.7, causal) * w).sum())

    for g, x in zip(grads, (q, k, v)):
        np.testing.assert_allclose(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-8)


def test_tape_gradients_match_the_elementary_twin_and_go_to_second_order():
    q, k, v = (fn.Variable(a) for a in operands(t=6, s=6))
    mask = np.random.default_rng(3).random((2, 1, 6, 6)) > 0.3
    w = np.random.default_rng(4).standard_normal((2, 6, 3, 3))
    with fn.GradientTape() as tape:
        loss = fn.keras.ops.sum(fn.keras.ops.dot_product_attention(q, k, v, mask=mask, is_causal=True) * w)
    fast = tape.gradient(loss, [q, k, v])
    with fn.GradientTape() as tape:
        loss = fn.keras.ops.sum(attention_ops._formula(q, k, v, mask, None, None, True, None) * w)
    twin = tape.gradient(loss, [q, k, v])
    for a, b in zip(fast, twin):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)
    # Second order: d/dq of sum(dL/dv) through the twin, checked by central differences.
    def grad_v_sum():
        with fn.GradientTape() as t1:
            out = fn.keras.ops.dot_product_attention(q, k, v, is_causal=True)
            inner = fn.keras.ops.sum(out * w)
        return fn.keras.ops.sum(t1.gradient(inner, v) ** 2)

    with fn.GradientTape() as outer:
        val = grad_v_sum()
    g2 = np.asarray(outer.gradient(val, q))
    qa = q.numpy()

    def f():
        q.assign(qa)
        return float(grad_v_sum())

    np.testing.assert_allclose(g2, numerical_grad(f, qa), rtol=1e-5, atol=1e-8)


def test_same_bits_for_any_thread_count():
    q, k, v = operands(b=3, t=100, s=90, n=4, h=16, hv=16, dtype=np.float32)
    w = np.random.default_rng(5).standard_normal((3, 100, 4, 16)).astype(np.float32)
    n0 = fn.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            fn.set_num_threads(threads)
            out, lse = ops.dot_product_attention(q, k, v, is_causal=True, return_lse=True)
            results.append((out, *ops.dot_product_attention_backward(w, q, k, v, out, lse, is_causal=True)))
    finally:
        fn.set_num_threads(n0)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_bad_inputs_raise_clear_errors():
    q, k, v = operands()
    with pytest.raises(ShapeError, match=r"must be 4-D .*Received: query.shape=\(5, 3, 4\)"):
        ops.dot_product_attention(q[0], k, v)
    with pytest.raises(ShapeError, match=r"Received: query.shape=\(2, 5, 3, 4\), key.shape=\(2, 7, 3, 5\)"):
        ops.dot_product_attention(q, np.zeros((2, 7, 3, 5)), v)
    with pytest.raises(ShapeError, match=r"mask must broadcast to .* \(2, 3, 5, 7\). Received: mask.shape=\(5, 5\)"):
        ops.dot_product_attention(q, k, v, mask=np.ones((5, 5), bool))
    with pytest.raises(ArgumentError, match="attn_logits_soft_cap is not supported"):
        ops.dot_product_attention(q, k, v, attn_logits_soft_cap=30.0)
    with pytest.raises(ArgumentError, match="scale must be finite"):
        ops.dot_product_attention(q, k, v, scale=float("nan"))
    with pytest.raises(DTypeError, match="query must be a float32 or float64 array"):
        ops.dot_product_attention(q.astype(np.complex64), k, v)
    out, lse = ops.dot_product_attention(q, k, v, return_lse=True)
    with pytest.raises(ShapeError, match=r"lse must have shape \(2, 3, 5\)"):
        ops.dot_product_attention_backward(out, q, k, v, out, lse[0])
