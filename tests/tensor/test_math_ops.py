"""Element-wise primitives: forward against NumPy, gradients and second derivatives against finite differences."""

import math

import numpy as np
import pytest

import ferronet as fn
from ferronet.tensor import GradientTape
from ferronet.tensor import math_ops as M

from .gradcheck import check_grad, check_second

RNG = np.random.default_rng(0)
X = RNG.uniform(-1.5, 1.5, (3, 4))
POS = RNG.uniform(0.3, 2.0, (3, 4))
UNIT = RNG.uniform(-0.8, 0.8, (3, 4))

# name -> (op, numpy reference, domain)
UNARY = {
    "negative": (M.negative, np.negative, X),
    "abs": (M.abs, np.abs, X),
    "square": (M.square, np.square, X),
    "sqrt": (M.sqrt, np.sqrt, POS),
    "rsqrt": (M.rsqrt, lambda a: 1 / np.sqrt(a), POS),
    "exp": (M.exp, np.exp, X),
    "expm1": (M.expm1, np.expm1, X),
    "log": (M.log, np.log, POS),
    "log1p": (M.log1p, np.log1p, POS),
    "sin": (M.sin, np.sin, X),
    "cos": (M.cos, np.cos, X),
    "tan": (M.tan, np.tan, UNIT),
    "asin": (M.asin, np.arcsin, UNIT),
    "acos": (M.acos, np.arccos, UNIT),
    "atan": (M.atan, np.arctan, X),
    "sinh": (M.sinh, np.sinh, X),
    "cosh": (M.cosh, np.cosh, X),
    "tanh": (M.tanh, np.tanh, X),
    "erf": (M.erf, np.vectorize(math.erf), X),
    "reciprocal": (M.reciprocal, np.reciprocal, POS),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_gradient_and_hvp(name):
    op, ref, dom = UNARY[name]
    for dt in (np.float32, np.float64):
        out = op(fn.constant(dom.astype(dt)))
        assert isinstance(out, fn.Tensor) and out.dtype == dt and out.shape == dom.shape
        np.testing.assert_allclose(out.numpy(), ref(dom.astype(dt)), rtol=2e-6 if dt == np.float32 else 1e-12)
    check_grad(op, dom)
    if name != "abs":  # |x| has a zero second derivative away from 0 (checked below)
        check_second(op, dom)


BINARY = {
    "add": (M.add, np.add),
    "subtract": (M.subtract, np.subtract),
    "multiply": (M.multiply, np.multiply),
    "divide": (M.divide, np.divide),
    "maximum": (M.maximum, np.maximum),
    "minimum": (M.minimum, np.minimum),
    "squared_difference": (M.squared_difference, lambda a, b: (a - b) ** 2),
}
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (3, 4)), ((5,), ())]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasting_gradients(name, shapes):
    op, ref = BINARY[name]
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, shapes[0]) * rng.choice([-1, 1], shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1]) + 0.01  # no ties for maximum/minimum
    out = op(fn.constant(a), fn.constant(b))
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-14)
    check_grad(op, a, b)
    check_second(lambda x: op(x, fn.constant(b)), a)
    check_second(lambda y: op(fn.constant(a), y), b)


def test_power_both_arguments_and_second_derivative():
    a = POS
    b = RNG.uniform(-1.5, 2.5, (3, 4))
    np.testing.assert_allclose(M.power(fn.constant(a), fn.constant(b)).numpy(), a ** b)
    check_grad(M.power, a, b)
    check_second(lambda x: M.power(x, fn.constant(b)), a)
    check_second(lambda y: M.power(fn.constant(a), y), b)
    # integer / Python exponents: only the base has a gradient, even at negative bases
    check_grad(lambda x: M.power(x, 3), X)
    check_second(lambda x: x ** 3, X)
    check_grad(lambda x: 2.0 ** x, X)


def test_power_exponent_gradient_is_finite_at_zero_base():
    x = fn.constant(np.array([0.0, 2.0]))
    p = fn.constant(np.array([2.0, 3.0]))
    with GradientTape() as tape:
        tape.watch(p)
        y = fn.reduce_sum(x ** p)
    g = tape.gradient(y, p).numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, [0.0, 8 * math.log(2.0)])


def test_abs_second_derivative_is_zero():
    x = fn.constant(X)
    with GradientTape() as outer:
        outer.watch(x)
        with GradientTape() as inner:
            inner.watch(x)
            y = fn.reduce_sum(M.abs(x))
        g = inner.gradient(y, x)
    np.testing.assert_array_equal(g.numpy(), np.sign(X))
    h = outer.gradient(g, x, unconnected_gradients="zero")
    np.testing.assert_array_equal(h.numpy(), np.zeros_like(X))


def test_second_derivatives_analytic_tanh_sin():
    x = fn.constant(np.linspace(-2, 2, 7))
    for op, d1, d2 in ((M.tanh, lambda v: 1 - np.tanh(v) ** 2, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
                       (M.sin, np.cos, lambda v: -np.sin(v)),
                       (M.exp, np.exp, np.exp)):
        with GradientTape() as t2:
            t2.watch(x)
            with GradientTape() as t1:
                t1.watch(x)
                y = op(x)
            g = t1.gradient(y, x)
        h = t2.gradient(g, x)
        np.testing.assert_allclose(g.numpy(), d1(x.numpy()), rtol=1e-13)
        np.testing.assert_allclose(h.numpy(), d2(x.numpy()), rtol=1e-12, atol=1e-15)


def test_third_derivative_of_sin():
    x = fn.constant(0.7, dtype="float64")
    with GradientTape(persistent=True) as t:
        t.watch(x)
        y = M.sin(x)
        d1 = t.gradient(y, x)
        d2 = t.gradient(d1, x)
        d3 = t.gradient(d2, x)
    np.testing.assert_allclose([float(d1), float(d2), float(d3)], [math.cos(0.7), -math.sin(0.7), -math.cos(0.7)])


def test_cast_float_passes_gradient_integer_stops_it():
    x = fn.constant(X)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y32 = M.cast(x, "float32")
        yi = M.cast(x, np.int32)
        s = fn.reduce_sum(M.cast(y32 * 2.0, fn.float64))
    assert y32.dtype == np.float32 and yi.dtype == np.int32
    np.testing.assert_array_equal(yi.numpy(), X.astype(np.int32))
    g = tape.gradient(s, x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.numpy(), 2.0)
    assert tape.gradient(yi, x) is None
    assert M.cast(x, "float64") is x
    check_grad(lambda a: M.cast(M.cast(a, "float32"), "float64") * a, X, rtol=1e-4, atol=1e-4, eps=1e-2)


def test_where_gradient_flows_to_chosen_side():
    a, b = X, RNG.standard_normal((3, 4))
    cond = a > 0
    out = M.where(cond, fn.constant(a), fn.constant(b))
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
    check_grad(lambda x, y: M.where(cond, x, y), a, b)
    check_grad(lambda x: M.where(cond, x, 0.0), a)  # Python scalar takes x's dtype
    assert M.where(cond, fn.constant(a.astype(np.float32)), 0.0).dtype == np.float32
    np.testing.assert_array_equal(M.where(fn.constant(cond)).numpy(), np.argwhere(cond))
    with pytest.raises(ValueError, match="both x and y"):
        M.where(cond, a)


def test_clip_by_value_forward_and_gradient():
    x = np.array([-2.0, -0.5, 0.1, 0.7, 3.0])
    out = M.clip_by_value(fn.constant(x), -1.0, 1.0)
    np.testing.assert_array_equal(out.numpy(), np.clip(x, -1, 1))
    check_grad(lambda t: M.clip_by_value(t, -1.0, 1.0), x)
    t = fn.constant(x)
    with GradientTape() as tape:
        tape.watch(t)
        y = fn.reduce_sum(M.clip_by_value(t, -1.0, 1.0))
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), [0, 1, 1, 1, 0])


def test_maximum_tie_sends_gradient_to_first_argument():
    a, b = fn.constant([1.0, 2.0]), fn.constant([1.0, 3.0])
    with GradientTape() as tape:
        tape.watch([a, b])
        y = fn.reduce_sum(M.maximum(a, b))
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [1, 0])
    np.testing.assert_array_equal(gb.numpy(), [0, 1])


NONDIFF = ["sign", "floor", "ceil", "round", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "is_nan", "is_finite", "is_inf", "floordiv", "mod"]


@pytest.mark.parametrize("name", NONDIFF)
def test_nondifferentiable_ops_give_no_gradient(name):
    op = getattr(M, name)
    x = fn.constant(X)
    binary = name in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "floordiv", "mod")
    ref = {"is_nan": np.isnan, "is_finite": np.isfinite, "is_inf": np.isinf, "floordiv": np.floor_divide,
           "round": np.round}.get(name, getattr(np, name, None))
    with GradientTape() as tape:
        tape.watch(x)
        y = op(x, 0.5) if binary else op(x)
    np.testing.assert_array_equal(y.numpy(), ref(X, 0.5) if binary else ref(X))
    assert tape.gradient(y, x) is None


def test_logical_ops():
    a = fn.constant([True, False, True])
    b = fn.constant([True, True, False])
    np.testing.assert_array_equal(M.logical_and(a, b).numpy(), [True, False, False])
    np.testing.assert_array_equal(M.logical_or(a, b).numpy(), [True, True, True])
    np.testing.assert_array_equal(M.logical_not(a).numpy(), [False, True, False])


def test_dtype_rules_follow_numpy_and_tensorflow():
    f32 = fn.constant([1.0, 2.0])
    assert f32.dtype == np.float32
    assert (f32 * 2.0).dtype == np.float32        # Python scalars are weak
    assert (f32 * 2).dtype == np.float32
    assert fn.constant([1, 2]).dtype == np.int32
    assert M.sqrt(f32).dtype == np.float32
    assert M.exp(fn.constant(np.float64(1.0))).dtype == np.float64


@pytest.mark.parametrize("lean", [True, False])
def test_a_documented_primitive_is_a_function_of_its_module_with_its_docstring(monkeypatch, lean):
    # With NumPy < 2.3 (no ufunc out=...) or a non-ufunc forward there is no lean path: the op is then a thin
    # wrapper, and must still be a plain function carrying its docstring, signature and module, and differentiate.
    import inspect

    from ferronet.tensor import core

    monkeypatch.setattr(core, "ARRAY_OUT", lean and core.ARRAY_OUT)
    def hypot_vjp(g, y, a, b):
        return M.multiply(g, M.divide(a, y)), M.multiply(g, M.divide(b, y))

    hyp = core.primitive("hypot", np.hypot, hypot_vjp, doc="``√(x² + y²)``.")
    assert inspect.isfunction(hyp) and hyp.__doc__ == "``√(x² + y²)``." and hyp.__module__ == __name__
    assert str(inspect.signature(hyp)) == "(x, y)" and hyp.primitive.name == "hypot"
    a, b = fn.constant([3.0]), fn.constant([4.0])
    with GradientTape() as tape:
        tape.watch([a, b])
        y = hyp(a, b)
    assert y.numpy().tolist() == [5.0]
    np.testing.assert_allclose([g.numpy() for g in tape.gradient(y, [a, b])], [[0.6], [0.8]], rtol=1e-6)
    undocumented = core.primitive("p", np.hypot, None)  # no doc: as before, a Primitive without the lean path
    assert inspect.isfunction(undocumented) if core.ARRAY_OUT else isinstance(undocumented, core.Primitive)
    same = core.nondiff(lambda x: x, doc="Same.", name="same")
    assert same.__name__ == "same" and same.__module__ == __name__ and str(inspect.signature(same)) == "(x)"


def test_public_ops_pickle_by_reference():
    import pickle

    from ferronet.tensor import nn_ops

    ops = [getattr(M, name) for name in M.__all__] + [getattr(nn_ops, name) for name in nn_ops.__all__]
    assert [op for op in ops if pickle.loads(pickle.dumps(op)) is not op] == []


def test_public_ops_have_their_own_docstrings():
    docs = {name: getattr(M, name).__doc__ for name in M.__all__ if callable(getattr(M, name))}
    aliases = {"truediv": "divide", "pow": "power"}
    for name, doc in docs.items():
        assert "Example:" in doc, name
        if name not in aliases:
            assert sum(d == doc for d in docs.values()) == 1 + list(aliases.values()).count(name), name
