"""Physics-informed networks: one-pass input derivatives, L-BFGS, Burgers' exact solution."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers

RNG = np.random.default_rng(3)


def _net(dtype="float64", width=6, depth=2, last="linear"):
    return fn.Sequential([fn.Input((2,), dtype=dtype)]
                         + [layers.Dense(width, activation="tanh", dtype=dtype) for _ in range(depth)]
                         + [layers.Dense(1, activation=None if last == "linear" else last, dtype=dtype)])


def _nested(net, x):
    """u, du/dx (all inputs) and d2u/dx0^2 by nested tapes (the reference)."""
    xt = fn.constant(x)
    with fn.GradientTape() as outer:
        outer.watch(xt)
        with fn.GradientTape() as inner:
            inner.watch(xt)
            u = net(xt)
        du = inner.gradient(u, xt)
        first = du[:, 0]
    d2 = outer.gradient(first, xt)[:, 0]
    return u.numpy(), du.numpy(), d2.numpy()


def test_values_and_derivatives_match_nested_tapes():
    net = _net()
    x = RNG.standard_normal((7, 2))
    u, du, d2u = fn.pinn.mlp_taylor(net, x, second=1)
    ru, rdu, rd2 = _nested(net, x)
    np.testing.assert_allclose(u.numpy(), ru, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(du.numpy()[:, :, 0].T, rdu, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d2u.numpy()[0, :, 0], rd2, rtol=1e-10, atol=1e-13)


def test_weight_gradients_match_central_differences_and_the_twin():
    net = _net()
    x = RNG.standard_normal((5, 2))
    probe = RNG.standard_normal((4, 5, 1))

    def objective():
        u, du, d2u = fn.pinn.mlp_taylor(net, x, second=1)
        stacked = fn.concat([fn.expand_dims(u, 0), du, d2u], 0)
        return fn.reduce_sum(stacked * probe)

    variables = net.trainable_weights
    with fn.GradientTape() as tape:
        loss = objective()
    fast = tape.gradient(loss, variables)
    with fn.GradientTape() as outer:  # an outer recording tape selects the differentiable twin
        with fn.GradientTape() as tape:
            loss = objective()
        twin = tape.gradient(loss, variables)
    eps = 1e-6
    for v, g, t in zip(variables, fast, twin):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-10, atol=1e-12)
        base = v.numpy()
        ref = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            for sign in (1, -1):
                w = base.copy()
                w[i] += sign * eps
                v.assign(w)
                ref[i] += sign * float(objective()) / (2 * eps)
        v.assign(base)
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-6, atol=1e-8)


def test_numpy_fallback_of_the_stage_matches_the_kernel(monkeypatch):
    from ferronet.pinn import taylor

    net = _net(width=5, depth=3)
    x = RNG.standard_normal((9, 2))
    with fn.GradientTape() as tape:
        out = fn.pinn.mlp_taylor(net, x, second=2)
        loss = sum(fn.reduce_sum(fn.square(t)) for t in out)
    kernel_grads = [g.numpy() for g in tape.gradient(loss, net.trainable_weights)]
    monkeypatch.delattr(taylor._core, "taylor_tanh_forward")
    monkeypatch.delattr(taylor._core, "taylor_tanh_backward")
    with fn.GradientTape() as tape:
        out2 = fn.pinn.mlp_taylor(net, x, second=2)
        loss2 = sum(fn.reduce_sum(fn.square(t)) for t in out2)
    for a, b in zip(out, out2):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)
    for a, b in zip(kernel_grads, tape.gradient(loss2, net.trainable_weights)):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-11, atol=1e-13)


def test_kernel_refuses_mismatched_planes():
    from ferronet import _core

    h = np.zeros((4, 3))
    with pytest.raises(fn.ShapeError, match="zx must have shape"):
        _core.taylor_tanh_forward(h, np.zeros((2, 4, 2)), np.zeros((1, 4, 3)))
    with pytest.raises(fn.DTypeError):
        _core.taylor_tanh_forward(h, np.zeros((2, 4, 3), np.float32), np.zeros((1, 4, 3)))


def test_unsupported_models_and_shapes_are_refused():
    with pytest.raises(fn.ArgumentError, match="tanh or linear"):
        fn.pinn.mlp_taylor(fn.Sequential([fn.Input((2,)), layers.Dense(3, activation="relu")]), np.zeros((2, 2)))
    with pytest.raises(fn.ShapeError, match=r"\(n, 2\)"):
        fn.pinn.mlp_taylor(_net(), np.zeros((3, 3)))


def test_burgers_solution_meets_its_conditions_and_converges():
    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(fn.datasets.burgers_solution(x, np.zeros(11)), -np.sin(np.pi * x), atol=1e-15)
    t = np.full(2, 0.6)
    np.testing.assert_allclose(fn.datasets.burgers_solution(np.array([-1.0, 1.0]), t), 0.0, atol=1e-12)
    pts, ts = np.linspace(-0.9, 0.9, 7), np.full(7, 0.4)
    a = fn.datasets.burgers_solution(pts, ts)
    b = fn.datasets.burgers_solution(pts, ts, nodes=8001)
    np.testing.assert_allclose(a, b, atol=1e-8)
    # odd symmetry of the solution in x
    np.testing.assert_allclose(a, -a[::-1], atol=1e-10)


def test_lbfgs_minimizes_a_model_loss():
    pytest.importorskip("scipy")
    net = fn.Sequential([fn.Input((1,), dtype="float64"), layers.Dense(8, activation="tanh", dtype="float64"),
                         layers.Dense(1, dtype="float64")])
    x = np.linspace(-1, 1, 40)[:, None]
    y = np.sin(2 * x)

    def loss_fn():
        return fn.reduce_mean(fn.square(net(x) - y))

    before = float(loss_fn())
    result = fn.pinn.lbfgs_minimize(loss_fn, net.trainable_variables, maxiter=200)
    assert float(loss_fn()) < 1e-3 * before
    assert result.nit > 0
