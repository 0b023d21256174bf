"""GradientTape semantics as TensorFlow's, jacobians, and JAX-style grad/value_and_grad."""

import math
import warnings

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ArgumentError
from ferronet.tensor import GradientTape, grad, value_and_grad

from .gradcheck import numeric_grad


def test_gradient_of_variable_read_in_expression():
    w = fn.Variable([[1.0], [2.0]])
    x = fn.constant([[3.0, 4.0]])
    with GradientTape() as tape:
        loss = fn.reduce_sum(fn.square(x @ w))
    g = tape.gradient(loss, w)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.numpy().ravel(), [66.0, 88.0])
    assert tape.watched_variables() == (w,)


def test_second_gradient_call_on_non_persistent_tape_raises():
    x = fn.constant(2.0)
    with GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert float(tape.gradient(y, x)) == 4.0
    with pytest.raises(RuntimeError, match="non-persistent GradientTape.*persistent=True"):
        tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.jacobian(y, x)


def test_persistent_tape_allows_many_gradients():
    x = fn.constant(3.0)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert float(tape.gradient(y, x)) == 6.0
    assert float(tape.gradient(z, x)) == 108.0
    assert float(tape.gradient(z, y)) == 18.0
    del tape


def test_watching_an_integer_tensor_warns_and_gives_none():
    i = fn.constant([1, 2])
    with GradientTape() as tape:
        with pytest.warns(UserWarning, match=r"floating.*int32"):
            tape.watch(i)
        y = i * 2
    assert tape.gradient(y, i) is None


def test_watch_rejects_arrays_with_a_clear_message():
    with GradientTape() as tape:
        with pytest.raises(ArgumentError, match="ndarray"):
            tape.watch(np.ones(3))


def test_unconnected_gradients_none_and_zero():
    x, y = fn.constant([1.0, 2.0]), fn.constant([3.0])
    with GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = fn.reduce_sum(x * 2.0)
    assert tape.gradient(z, y) is None
    assert tape.gradient(z, y, unconnected_gradients="none") is None
    gz = tape.gradient(z, y, unconnected_gradients="zero")
    assert gz.shape == (1,) and gz.dtype == np.float32 and float(gz[0]) == 0.0
    gz = tape.gradient(z, [x, y], unconnected_gradients=fn.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(gz[0].numpy(), [2, 2])
    with pytest.raises(ValueError):
        tape.gradient(z, y, unconnected_gradients="sometimes")


def test_output_gradients_weight_the_target():
    x = fn.constant([1.0, 2.0, 3.0])
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=fn.constant([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, 0.0, 12.0])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        tape.gradient(y, x, output_gradients=fn.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="one gradient per target"):
        tape.gradient([y, y], x, output_gradients=[fn.constant([1.0, 1, 1])])


def test_nested_structures_of_sources_and_targets():
    a, b, c = fn.constant(1.0), fn.constant([2.0, 3.0]), fn.constant(4.0)
    with GradientTape(persistent=True) as tape:
        tape.watch({"a": a, "rest": [b, (c,)]})
        y = a * fn.reduce_sum(b) * c
        z = a + c
    g = tape.gradient(y, {"a": a, "rest": [b, (c,)]})
    assert set(g) == {"a", "rest"} and isinstance(g["rest"], list) and isinstance(g["rest"][1], tuple)
    assert float(g["a"]) == 20.0 and float(g["rest"][1][0]) == 5.0
    np.testing.assert_allclose(g["rest"][0].numpy(), [4.0, 4.0])
    # a list of targets is differentiated as their sum
    ga = tape.gradient([y, z], a)
    assert float(ga) == 21.0


def test_stop_recording_and_stop_gradient():
    x = fn.constant(2.0)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x
        w = fn.stop_gradient(y) * x
    assert tape.gradient(z, x) is None
    assert float(tape.gradient(w, x)) == 4.0
    assert tape._recording is False


def test_reset_forgets_the_record():
    x = fn.constant(2.0)
    with GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        z = x * 3.0
    assert float(tape.gradient(z, x)) == 3.0


def test_watch_accessed_variables_false_and_non_trainable_variables():
    w = fn.Variable(2.0)
    frozen = fn.Variable(5.0, trainable=False)
    x = fn.constant(3.0)
    with GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(x)
        y = w * x
    assert tape.gradient(y, w) is None
    assert float(tape.gradient(y, x)) == 2.0
    assert tape.watched_variables() == ()
    with GradientTape(persistent=True) as tape:
        y = w * frozen
    assert tape.gradient(y, frozen) is None
    assert float(tape.gradient(y, w)) == 5.0
    assert tape.watched_variables() == (w,)
    with GradientTape() as tape:
        tape.watch(frozen)
        y = w * frozen
    assert float(tape.gradient(y, frozen)) == 2.0


def test_gradient_inside_context_of_non_persistent_tape_warns():
    x = fn.constant(1.0)
    with GradientTape() as tape:
        tape.watch(x)
        y = x * 2.0
        with pytest.warns(UserWarning, match="inside its context"):
            assert float(tape.gradient(y, x)) == 2.0


def test_same_tape_cannot_be_entered_twice():
    tape = GradientTape()
    with tape:
        with pytest.raises(RuntimeError, match="already recording"):
            with tape:
                pass


def test_nested_tapes_give_higher_derivatives():
    x = fn.constant(3.0)
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == 27.0
    assert float(outer.gradient(dy, x)) == 18.0


def test_outer_tape_sees_through_inner_one():
    x = fn.constant(1.5)
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = fn.sin(x)
        y2 = y * y
    assert math.isclose(float(outer.gradient(y2, x)), 2 * math.sin(1.5) * math.cos(1.5), rel_tol=1e-6)


def test_mixed_second_derivative_and_gradient_wrt_variables():
    w = fn.Variable(np.array([0.5, -1.0]))
    x = fn.constant(np.array([2.0, 3.0]))
    with GradientTape() as outer:
        with GradientTape() as inner:
            inner.watch(x)
            y = fn.reduce_sum(fn.tanh(w * x))
        gx = inner.gradient(y, x)                   # w (1 - tanh^2(w x))
        penalty = fn.reduce_sum(gx * gx)
    gw = outer.gradient(penalty, w).numpy()

    def pen(wv):
        t = np.tanh(wv * x.numpy())
        return np.sum((wv * (1 - t ** 2)) ** 2)

    wv = w.numpy()
    ref = numeric_grad(lambda ww: pen(ww.numpy()), [wv], 0)
    np.testing.assert_allclose(gw, ref, rtol=1e-6)


def _fd_jacobian(f, x, eps=1e-6):
    y0 = np.asarray(f(x))
    jac = np.zeros(y0.shape + x.shape)
    for idx in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        jac[(Ellipsis,) + idx] = (np.asarray(f(x + d)) - np.asarray(f(x - d))) / (2 * eps)
    return jac


def test_jacobian_against_finite_differences():
    a = np.random.default_rng(0).standard_normal((3, 2))
    x = np.array([[0.3, -0.7], [1.1, 0.2]])

    def f(v):
        return fn.tanh(fn.matmul(fn.constant(a), v)) if isinstance(v, fn.Tensor) else np.tanh(a @ v)

    xt = fn.constant(x)
    other = fn.constant(1.0, dtype="float64")
    with GradientTape() as tape:
        tape.watch([xt, other])
        y = f(xt)
    jx, jo = tape.jacobian(y, [xt, other])
    assert jx.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(jx.numpy(), _fd_jacobian(f, x), rtol=1e-6, atol=1e-9)
    assert jo is None
    with pytest.raises(RuntimeError):
        tape.gradient(y, xt)


def test_jacobian_unconnected_zero_and_persistent():
    x, u = fn.constant([1.0, 2.0]), fn.constant([5.0])
    with GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = x * x
    j = tape.jacobian(y, u, unconnected_gradients="zero")
    assert j.shape == (2, 1) and not j.numpy().any()
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.diag([2.0, 4.0]))
    assert tape.gradient(y, x) is not None  # still usable


def test_batch_jacobian_against_finite_differences():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 4))
    x = rng.standard_normal((5, 3))

    def f(v):
        return fn.sin(fn.matmul(v, fn.constant(w))) if isinstance(v, fn.Tensor) else np.sin(v @ w)

    xt = fn.constant(x)
    with GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    bj = tape.batch_jacobian(y, xt)
    assert bj.shape == (5, 4, 3)
    full = _fd_jacobian(f, x)             # (5, 4, 5, 3)
    ref = np.stack([full[b, :, b, :] for b in range(5)])
    np.testing.assert_allclose(bj.numpy(), ref, rtol=1e-6, atol=1e-9)
    with GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    with pytest.raises(ValueError, match=r"target.shape=\(4,\), source.shape=\(5, 3\)"):
        tape.batch_jacobian(y[0], xt)


def test_hessian_as_jacobian_of_gradient():
    x = fn.constant(np.array([0.5, -0.3, 1.2]))
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = fn.reduce_sum(fn.sin(x) * fn.reduce_prod(x))
        g = inner.gradient(y, x)
    h = outer.jacobian(g, x).numpy()

    def gfun(v):
        return numeric_grad(lambda t: float(fn.reduce_sum(fn.sin(t) * fn.reduce_prod(t))), [v.copy()], 0)

    np.testing.assert_allclose(h, _fd_jacobian(gfun, x.numpy(), eps=1e-4), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h, h.T, rtol=1e-12)


def test_grad_and_value_and_grad():
    f = lambda x: fn.reduce_sum(x ** 3)  # noqa: E731
    v, g = value_and_grad(f)(fn.constant([1.0, 2.0]))
    assert float(v) == 9.0
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    d2 = grad(grad(fn.sin))
    assert math.isclose(float(d2(fn.constant(0.5, dtype="float64"))), -math.sin(0.5), rel_tol=1e-12)
    d3 = grad(grad(grad(lambda x: x ** 4)))
    assert float(d3(fn.constant(2.0, dtype="float64"))) == 48.0
    # several arguments, NumPy inputs, aux outputs, unconnected arguments get zeros
    h = lambda a, b, c: (fn.reduce_sum(a * b), "aux")  # noqa: E731
    (val, aux), (ga, gc) = value_and_grad(h, argnums=(0, 2), has_aux=True)(np.array([1.0, 2.0]),
                                                                          np.array([3.0, 4.0]), np.array(1.0))
    assert aux == "aux" and float(val) == 11.0
    np.testing.assert_allclose(ga.numpy(), [3.0, 4.0])
    assert float(gc) == 0.0
    gg, aux = grad(h, argnums=1, has_aux=True)(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 0)
    np.testing.assert_allclose(gg.numpy(), [1.0, 2.0])
    # structures as arguments
    gd = grad(lambda p: p["w"] * p["b"])({"w": 2.0, "b": 3.0})
    assert float(gd["w"]) == 3.0 and float(gd["b"]) == 2.0


def test_grad_errors():
    with pytest.raises(ValueError, match=r"scalar.*\(2,\)"):
        grad(lambda x: x * 2.0)(fn.constant([1.0, 2.0]))
    with pytest.raises(ArgumentError, match="argnums=1"):
        grad(lambda x: x, argnums=1)(fn.constant(1.0))


def test_no_recording_without_a_tape_and_no_leak_after_exit():
    from ferronet.tensor import core

    x = fn.constant(1.0)
    with GradientTape() as tape:
        tape.watch(x)
        _ = x * 2.0
    assert core._STACK == []
    n = len(tape._nodes)
    _ = x * 3.0
    assert len(tape._nodes) == n


def test_exception_inside_tape_leaves_no_active_tape():
    from ferronet.tensor import core

    with pytest.raises(ZeroDivisionError):
        with GradientTape():
            1 / 0
    assert core._STACK == []


def test_gradient_of_target_not_a_tensor_or_unwatched():
    x = fn.constant(1.0)
    with GradientTape() as tape:
        y = x * 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.gradient(y, x) is None


def test_gradient_takes_the_dtype_of_its_source():
    a = fn.constant([1.0, 2.0])  # float32
    with GradientTape() as tape:
        tape.watch(a)
        y = fn.reduce_sum(a * np.array([0.5, 0.25]))  # the computation widens to float64
    g = tape.gradient(y, a)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.numpy(), [0.5, 0.25])


def test_float64_constants_keep_their_digits():
    assert float(fn.constant(0.1, dtype="float64")) == 0.1
    assert fn.Tensor(0.3, dtype=np.float64).numpy() == 0.3
    assert fn.constant([1.7, -1.7], dtype="int32").numpy().tolist() == [1, -1]


def test_third_derivative_through_fused_activations():
    x0 = 0.3
    t, s = math.tanh(x0), 1 / (1 + math.exp(-x0))
    from ferronet.tensor import nn_ops

    d3t = grad(grad(grad(nn_ops.tanh)))(fn.constant(x0, dtype="float64"))
    d3s = grad(grad(grad(nn_ops.sigmoid)))(fn.constant(x0, dtype="float64"))
    assert math.isclose(float(d3t), -2 * (1 - t * t) * (1 - 3 * t * t), rel_tol=1e-12)
    assert math.isclose(float(d3s), s * (1 - s) * (1 - 6 * s + 6 * s * s), rel_tol=1e-12)
