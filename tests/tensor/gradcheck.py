"""Float64 finite-difference checks for tensor ops: gradients, second derivatives, Hessian-vector products.

Every check differentiates ``sum(w * f(x))`` for a fixed random ``w``, so a
wrong gradient cannot hide behind a symmetric output.
"""

import numpy as np

import ferronet as fn
from ferronet.tensor import GradientTape


def _weights(out, seed=7):
    return np.random.default_rng(seed).standard_normal(np.shape(out))


def scalarize(f, w):
    """``x -> sum(w * f(x))`` (a scalar Tensor)."""
    return lambda *xs: fn.reduce_sum(f(*xs) * w) if np.ndim(w) else f(*xs) * w


def numeric_grad(fs, arrays, i, eps=1e-6):
    """Central differences of the scalar function ``fs`` of float64 ``arrays`` along ``arrays[i]``."""
    x = arrays[i]
    g = np.zeros_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = float(fs(*[fn.constant(a) for a in arrays]))
        flat[k] = old - eps
        lo = float(fs(*[fn.constant(a) for a in arrays]))
        flat[k] = old
        gf[k] = (hi - lo) / (2 * eps)
    return g


def tape_grad(fs, arrays, wrt=None):
    """Gradients of the scalar ``fs`` w.r.t. ``arrays[i]`` for i in ``wrt`` (default: all), by the tape."""
    wrt = range(len(arrays)) if wrt is None else wrt
    ts = [fn.constant(a) for a in arrays]
    with GradientTape() as tape:
        for i in wrt:
            tape.watch(ts[i])
        y = fs(*ts)
    return tape.gradient(y, [ts[i] for i in wrt])


def check_grad(f, *arrays, wrt=None, rtol=1e-6, atol=1e-8, eps=1e-6):
    """Assert the tape's gradient of ``sum(w * f(*arrays))`` equals central differences (float64).

    Returns the forward output (a Tensor) for further checks.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out = f(*[fn.constant(a) for a in arrays])
    fs = scalarize(f, _weights(out))
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    grads = tape_grad(fs, arrays, wrt)
    for i, g in zip(wrt, grads):
        assert g is not None, f"no gradient for input {i}"
        assert g.shape == arrays[i].shape and g.dtype == np.float64
        np.testing.assert_allclose(g.numpy(), numeric_grad(fs, arrays, i, eps), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return out


def hvp(fs, x, v):
    """Hessian-vector product of the scalar ``fs`` at ``x`` along ``v`` by nested tapes (reverse over reverse)."""
    t = fn.constant(x)
    vt = fn.constant(v)
    with GradientTape() as outer:
        outer.watch(t)
        with GradientTape() as inner:
            inner.watch(t)
            y = fs(t)
        g = inner.gradient(y, t)
        gv = fn.reduce_sum(g * vt)
    return outer.gradient(gv, t, unconnected_gradients="zero")


def check_second(f, x, rtol=1e-5, atol=1e-7, eps=1e-5, seed=3):
    """Assert the HVP of ``sum(w * f(x))`` by nested tapes equals finite differences of the tape's gradient."""
    x = np.array(x, dtype=np.float64)
    out = f(fn.constant(x))
    fs = scalarize(f, _weights(out))
    v = np.random.default_rng(seed).standard_normal(x.shape)
    h = hvp(fs, x, v)
    assert h is not None and h.shape == x.shape

    def grad_at(xx):
        return tape_grad(fs, [xx])[0].numpy()

    ref = (grad_at(x + eps * v) - grad_at(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(h.numpy(), ref, rtol=rtol, atol=atol)
    return h
