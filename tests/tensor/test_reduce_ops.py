"""Reductions: forward against NumPy for every axis form, gradients and HVPs against finite differences."""

import numpy as np
import pytest
from scipy.special import logsumexp

import ferronet as fn
from ferronet.errors import ShapeError
from ferronet.tensor import GradientTape
from ferronet.tensor import reduce_ops as R

from .gradcheck import check_grad, check_second

X = np.random.default_rng(2).standard_normal((3, 4, 5))
AXES = [None, 0, 1, -1, (0, 2), [1, 2], (0, 1, 2)]

REDUCTIONS = {
    "reduce_sum": (R.reduce_sum, np.sum),
    "reduce_mean": (R.reduce_mean, np.mean),
    "reduce_max": (R.reduce_max, np.max),
    "reduce_min": (R.reduce_min, np.min),
    "reduce_prod": (R.reduce_prod, np.prod),
    "reduce_variance": (R.reduce_variance, np.var),
    "reduce_std": (R.reduce_std, np.std),
    "reduce_logsumexp": (R.reduce_logsumexp, logsumexp),
}


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_forward_and_gradient(name, axis, keepdims):
    op, ref = REDUCTIONS[name]
    x = X if name != "reduce_prod" else X[:2, :3, :2]  # small products keep differences well conditioned
    out = op(fn.constant(x), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.numpy(), ref(x, axis=_np_axis(axis), keepdims=keepdims), rtol=1e-12)
    assert out.dtype == np.float64
    check_grad(lambda t: op(t, axis=axis, keepdims=keepdims), x, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_second_derivatives(name):
    op, _ = REDUCTIONS[name]
    # well-separated values: finite differences must not cross a tie of max/min
    x = (np.random.default_rng(5).permutation(12).reshape(2, 3, 2) - 5.5) * 0.2
    check_second(lambda t: op(t, axis=1) ** 2 if name in ("reduce_sum", "reduce_max", "reduce_min")
                 else op(t, axis=1), x, rtol=1e-4, atol=1e-6)


def test_float32_reductions_keep_dtype():
    x = X.astype(np.float32)
    for name, (op, ref) in REDUCTIONS.items():
        out = op(fn.constant(x), axis=1)
        assert out.dtype == np.float32, name
        np.testing.assert_allclose(out.numpy(), ref(x.astype(np.float64), axis=1), rtol=1e-5, atol=1e-6)


def test_max_ties_share_the_gradient_equally():
    x = fn.constant([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with GradientTape() as tape:
        tape.watch(x)
        y = fn.reduce_sum(R.reduce_max(x, axis=1))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


def test_prod_gradient_with_zeros():
    for x in (np.array([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]]), np.array([[0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])):
        for axis in (None, 0, 1):
            check_grad(lambda t: R.reduce_prod(t, axis=axis), x)
        check_second(lambda t: R.reduce_prod(t, axis=1), x, rtol=1e-4, atol=1e-6)


def test_integer_reductions_follow_tensorflow():
    i = fn.constant([[1, 2], [4, 6]])
    assert R.reduce_sum(i).dtype == np.int32 and int(R.reduce_sum(i)) == 13
    assert R.reduce_prod(i, axis=1).dtype == np.int32
    m = R.reduce_mean(i, axis=0)
    assert m.dtype == np.int32
    np.testing.assert_array_equal(m.numpy(), [2, 4])


def test_logsumexp_is_stable_for_large_and_infinite_inputs():
    x = np.array([[1000.0, 1000.0], [-np.inf, 0.0]])
    out = R.reduce_logsumexp(fn.constant(x), axis=1).numpy()
    np.testing.assert_allclose(out, [1000 + np.log(2), 0.0])
    with np.errstate(divide="ignore"):  # log(0) = -inf is the answer here
        allneg = R.reduce_logsumexp(fn.constant(np.array([-np.inf, -np.inf])))
    assert float(allneg) == -np.inf


@pytest.mark.parametrize("ord_", ["euclidean", 2, 1, np.inf])
def test_norm(ord_):
    x = X[0]
    ref = np.linalg.norm(x.reshape(-1), ord=2 if ord_ == "euclidean" else ord_)
    np.testing.assert_allclose(float(R.norm(fn.constant(x), ord=ord_)), ref)
    np.testing.assert_allclose(R.norm(fn.constant(x), ord=ord_, axis=1).numpy(),
                               np.linalg.norm(x, ord=2 if ord_ == "euclidean" else ord_, axis=1))
    check_grad(lambda t: R.norm(t, ord=ord_, axis=1), x)
    with pytest.raises(ValueError, match="ord"):
        R.norm(fn.constant(x), ord=3)


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum(exclusive, reverse):
    x = X[0]
    ref = np.flip(x, 1) if reverse else x
    ref = np.cumsum(ref, axis=1) - (ref if exclusive else 0)
    ref = np.flip(ref, 1) if reverse else ref
    np.testing.assert_allclose(R.cumsum(fn.constant(x), axis=1, exclusive=exclusive, reverse=reverse).numpy(), ref)
    check_grad(lambda t: R.cumsum(t, axis=1, exclusive=exclusive, reverse=reverse), x)
    check_second(lambda t: R.cumsum(t, axis=-1, exclusive=exclusive, reverse=reverse) ** 2, x)


def test_arg_reductions_and_boolean_reductions_have_no_gradient():
    x = fn.constant(X)
    with GradientTape() as tape:
        tape.watch(x)
        am = R.argmax(x, axis=1)
        an = R.argmin(x)
        cnt = R.count_nonzero(x > 0, axis=0)
    np.testing.assert_array_equal(am.numpy(), np.argmax(X, axis=1))
    np.testing.assert_array_equal(an.numpy(), np.argmin(X, axis=0))  # default axis 0, as TensorFlow
    assert am.dtype == np.int64
    assert R.argmax(x, axis=1, output_type=np.int32).dtype == np.int32
    np.testing.assert_array_equal(cnt.numpy(), np.count_nonzero(X > 0, axis=0))
    np.testing.assert_array_equal(R.reduce_any(x > 2, axis=[0, 1]).numpy(), np.any(X > 2, axis=(0, 1)))
    np.testing.assert_array_equal(R.reduce_all(x > -5).numpy(), np.all(X > -5))


def test_argmax_is_not_recorded():
    x = fn.constant(X)
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        am = R.argmax(x, axis=1)
    assert tape.gradient(am, x) is None
    np.testing.assert_array_equal(tape.gradient(am, x, unconnected_gradients="zero").numpy(), np.zeros_like(X))


def test_axis_out_of_range_names_the_axis_and_rank():
    with pytest.raises(ShapeError, match=r"axis 3 .* rank 3"):
        R.reduce_sum(fn.constant(X), axis=3)
    with pytest.raises(ValueError):
        R.reduce_mean(fn.constant(X), axis=-4)
