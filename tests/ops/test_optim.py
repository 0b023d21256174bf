"""In-place optimizer updates vs a NumPy transcription of Keras 3's update steps."""

import inspect

import numpy as np
import pytest

import ferronet
from ferronet import ops

FLOATS = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
SIZES = [(1,), (7, 3), (0,), (100_003,)]  # the last runs in parallel blocks


# --- Keras 3 update steps, transcribed (float64 state) -----------------------------


def keras_sgd(p, g, s, lr, momentum, nesterov):
    if momentum == 0:
        p -= g * lr
        return
    m = s["m"]
    m[:] = m * momentum - g * lr
    if nesterov:
        p += m * momentum - g * lr
    else:
        p += m


def keras_adam(p, g, s, step, lr, b1, b2, eps, amsgrad, weight_decay=None):
    if weight_decay is not None:  # BaseOptimizer._apply_weight_decay, before update_step
        p[:] = p - p * weight_decay * lr
    alpha = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
    s["m"] += (g - s["m"]) * (1 - b1)
    s["v"] += (np.square(g) - s["v"]) * (1 - b2)
    v = s["v"]
    if amsgrad:
        s["vhat"][:] = np.maximum(s["vhat"], s["v"])
        v = s["vhat"]
    p -= (s["m"] * alpha) / (np.sqrt(v) + eps)


def keras_rmsprop(p, g, s, lr, rho, momentum, eps, centered):
    s["vel"][:] = rho * s["vel"] + (1 - rho) * np.square(g)
    if centered:
        s["avg"][:] = rho * s["avg"] + (1 - rho) * g
        denominator = s["vel"] - np.square(s["avg"]) + eps
    else:
        denominator = s["vel"] + eps
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        s["mom"][:] = momentum * s["mom"] + increment
        p -= s["mom"]
    else:
        p -= increment


def keras_adagrad(p, g, s, lr, eps):
    s["acc"] += np.square(g)
    p -= lr * g / np.sqrt(s["acc"] + eps)


# -----------------------------------------------------------------------------------


def close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


def run(rng, shape, dtype, steps, update, reference, state_names, init=0.0):
    """Applies `steps` updates with ferronet and with the reference; compares all arrays."""
    p = rng.standard_normal(shape).astype(dtype)
    ours = {k: np.full(shape, init, dtype) for k in state_names}
    ref_p = p.astype(np.float64)
    ref = {k: v.astype(np.float64) for k, v in ours.items()}
    for step in range(1, steps + 1):
        g = rng.standard_normal(shape).astype(dtype)
        assert update(p, g, ours, step) is None
        reference(ref_p, g.astype(np.float64), ref, step)
    close(p, ref_p, dtype)
    for k in state_names:
        close(ours[k], ref[k], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd(rng, dtype, shape, momentum, nesterov):
    names = [] if momentum == 0 else ["m"]

    def update(p, g, s, step):
        return ops.sgd_update(p, g, s.get("m"), learning_rate=0.05, momentum=momentum, nesterov=nesterov)

    run(rng, shape, dtype, 5, update, lambda p, g, s, t: keras_sgd(p, g, s, 0.05, momentum, nesterov), names)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(rng, dtype, shape, amsgrad):
    names = ["m", "v"] + (["vhat"] if amsgrad else [])

    def update(p, g, s, step):
        return ops.adam_update(p, g, s["m"], s["v"], step, learning_rate=0.01, vhat=s.get("vhat"))

    def reference(p, g, s, step):
        keras_adam(p, g, s, step, 0.01, 0.9, 0.999, 1e-7, amsgrad)

    run(rng, shape, dtype, 6, update, reference, names)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw(rng, dtype, shape, amsgrad):
    names = ["m", "v"] + (["vhat"] if amsgrad else [])

    def update(p, g, s, step):
        return ops.adamw_update(p, g, s["m"], s["v"], step, learning_rate=0.02, weight_decay=0.1, vhat=s.get("vhat"))

    def reference(p, g, s, step):
        keras_adam(p, g, s, step, 0.02, 0.9, 0.999, 1e-7, amsgrad, weight_decay=0.1)

    run(rng, shape, dtype, 6, update, reference, names)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.9, False), (0.0, True), (0.5, True)])
def test_rmsprop(rng, dtype, shape, momentum, centered):
    names = ["vel"] + (["mom"] if momentum > 0 else []) + (["avg"] if centered else [])

    def update(p, g, s, step):
        return ops.rmsprop_update(
            p, g, s["vel"], learning_rate=0.01, rho=0.8, momentum=momentum,
            momentum_buf=s.get("mom"), average_grad=s.get("avg"),
        )

    def reference(p, g, s, step):
        keras_rmsprop(p, g, s, 0.01, 0.8, momentum, 1e-7, centered)

    run(rng, shape, dtype, 5, update, reference, names)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SIZES)
def test_adagrad(rng, dtype, shape):
    def update(p, g, s, step):
        return ops.adagrad_update(p, g, s["acc"], learning_rate=0.1)

    run(rng, shape, dtype, 5, update, lambda p, g, s, t: keras_adagrad(p, g, s, 0.1, 1e-7), ["acc"], init=0.1)


def test_defaults_are_keras_defaults():
    def defaults(f):
        return {k: v.default for k, v in inspect.signature(f).parameters.items() if v.default is not v.empty}

    assert defaults(ops.sgd_update) == dict(velocity=None, learning_rate=0.01, momentum=0.0, nesterov=False)
    assert defaults(ops.adam_update) == dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, vhat=None)
    assert defaults(ops.adamw_update) == dict(
        learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, vhat=None
    )
    assert defaults(ops.rmsprop_update) == dict(
        learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, momentum_buf=None, average_grad=None
    )
    assert defaults(ops.adagrad_update) == dict(learning_rate=0.001, epsilon=1e-7)


def test_keras_rmsprop_docstring_example():
    # keras.optimizers.RMSprop(learning_rate=0.1) on loss var²/2 from 10.0 gives 9.683772.
    var, vel = np.array([10.0], np.float32), np.zeros(1, np.float32)
    ops.rmsprop_update(var, var.copy(), vel, learning_rate=0.1)
    assert var[0] == pytest.approx(9.683772, abs=1e-6)


def test_updates_are_in_place_and_cast_the_gradient():
    p = np.ones((2, 3), np.float32)
    v = np.zeros_like(p)
    ref = p
    ops.sgd_update(p, np.full((2, 3), 2.0), v, learning_rate=0.5, momentum=0.5)  # float64 grad is cast
    assert p is ref and p.dtype == np.float32
    np.testing.assert_array_equal(p, np.zeros((2, 3)))
    np.testing.assert_array_equal(v, np.full((2, 3), -1.0))
    ops.sgd_update(p, [[1, 1, 1], [1, 1, 1]], learning_rate=1.0)  # lists work for grad
    np.testing.assert_array_equal(p, -np.ones((2, 3)))


def test_nan_gradient_stays_local():
    p = np.ones(40)
    m, v = np.zeros(40), np.zeros(40)
    g = np.ones(40)
    g[17] = np.nan
    ops.adam_update(p, g, m, v, step=1)
    assert np.isnan(p[17]) and np.isnan(m[17]) and np.isfinite(np.delete(p, 17)).all()


def test_bitwise_identical_across_thread_counts(rng):
    shape = (300_001,)
    g = rng.standard_normal(shape).astype(np.float32)
    p0 = rng.standard_normal(shape).astype(np.float32)
    n0 = ferronet.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            ferronet.set_num_threads(n)
            p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
            for step in (1, 2):
                ops.adam_update(p, g, m, v, step)
            results.append(p)
    finally:
        ferronet.set_num_threads(n0)
    assert all(np.array_equal(results[0], r) for r in results[1:])


def test_errors_are_clear():
    p = np.zeros((4, 3), np.float32)
    g = np.zeros((4, 3), np.float32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    with pytest.raises(ferronet.DTypeError, match=r"adam_update: param .*float32 or float64 NumPy array. Received: param.type=list"):
        ops.adam_update([1.0, 2.0], [1.0, 2.0], m, v, 1)
    with pytest.raises(ferronet.DTypeError, match=r"param.dtype=int64"):
        ops.sgd_update(np.zeros(3, np.int64), np.zeros(3))
    with pytest.raises(ferronet.DTypeError, match=r"adam_update: m is updated in place, so it must be a NumPy array of param's dtype \(float32\). Received: m.dtype=float64"):
        ops.adam_update(p, g, np.zeros((4, 3)), v, 1)
    with pytest.raises(ferronet.ShapeError, match=r"adam_update: v must have param's shape \(4, 3\). Received: v.shape=\(3, 4\)"):
        ops.adam_update(p, g, m, np.zeros((3, 4), np.float32), 1)
    with pytest.raises(ferronet.ShapeError, match=r"grad must have param's shape \(4, 3\). Received: grad.shape=\(12,\)"):
        ops.adagrad_update(p, np.zeros(12, np.float32), m)
    with pytest.raises(ferronet.ArgumentError, match=r"sgd_update: param is updated in place and must be C-contiguous"):
        ops.sgd_update(p.T, g.T)
    ro = np.zeros((4, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ferronet.ArgumentError, match=r"rmsprop_update: velocity is updated in place but is read-only"):
        ops.rmsprop_update(p, g, ro)
    with pytest.raises(ferronet.ArgumentError, match=r"m and v share memory"):
        ops.adam_update(p, g, m, m, 1)
    with pytest.raises(ferronet.ArgumentError, match=r"momentum needs a velocity buffer. Received: momentum=0.9, velocity=None"):
        ops.sgd_update(p, g, momentum=0.9)
    with pytest.raises(ferronet.ArgumentError, match=r"momentum must be in \[0, 1\]. Received: momentum=1.5"):
        ops.sgd_update(p, g, v, momentum=1.5)
    with pytest.raises(ferronet.ArgumentError, match=r"momentum_buf=None"):
        ops.rmsprop_update(p, g, v, momentum=0.9)
    with pytest.raises(ferronet.ArgumentError, match=r"step is the 1-based iteration count .*Received: step=0"):
        ops.adam_update(p, g, m, v, 0)
    with pytest.raises(ferronet.ArgumentError, match=r"step must be an int"):
        ops.adamw_update(p, g, m, v, 1.5)
    with pytest.raises(ferronet.ArgumentError, match=r"beta_2 must be in \[0, 1\). Received: beta_2=1"):
        ops.adam_update(p, g, m, v, 1, beta_2=1.0)
    with pytest.raises(ferronet.ArgumentError, match=r"(?i)learning_rate must be finite. Received: learning_rate=nan"):
        ops.adagrad_update(p, g, m, learning_rate=float("nan"))
    assert not p.any() and not m.any()  # nothing was written by a rejected call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,inner,units", [(32, 784, 64), (7, 9, 33), (600, 40, 20), (128, 100, 10), (3, 50, 1)])
def test_dense_backward_with_fused_adam_equals_gradient_then_update(rng, dtype, rows, inner, units):
    from ferronet import _core

    x = rng.standard_normal((rows, inner)).astype(dtype)
    dy = rng.standard_normal((rows, units)).astype(dtype)
    w = rng.standard_normal((inner, units)).astype(dtype)
    m = (0.1 * rng.standard_normal((inner, units))).astype(dtype)
    v = (0.1 * rng.random((inner, units))).astype(dtype)
    hyper = (4, 0.01, 0.9, 0.999, 1e-7)
    dx_want, dw, db_want = _core.linear_backward(dy, x, w)
    w1, m1, v1 = w.copy(), m.copy(), v.copy()
    _core.adam_update(w1, dw, m1, v1, *hyper)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    db = np.empty(units, dtype)
    dx, db_out = _core.linear_backward_adam(dy, x, w2, m2, v2, *hyper, db_out=db)
    assert db_out is db
    for got, want in [(w2, w1), (m2, m1), (v2, v1), (dx, dx_want), (db, db_want)]:
        np.testing.assert_array_equal(got, want)
    dx, db = _core.linear_backward_adam(dy, x, w2, m2, v2, *hyper, need_dx=False)
    assert dx is None and db is None


def test_dense_backward_with_fused_adam_rejects_bad_state(rng):
    from ferronet import _core

    x, dy = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    w = np.ones((3, 2), np.float32)
    with pytest.raises(ferronet.ShapeError, match="m and v must have as many elements as the kernel"):
        _core.linear_backward_adam(dy, x, w, np.zeros(5, np.float32), np.zeros(6, np.float32), 1, 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ferronet.ArgumentError, match="must not share memory"):
        _core.linear_backward_adam(dy, x, w, w, np.zeros_like(w), 1, 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ferronet.ArgumentError, match="step is the 1-based iteration count"):
        _core.linear_backward_adam(dy, x, w, np.zeros_like(w), np.zeros_like(w), 0, 0.1, 0.9, 0.999, 1e-7)
