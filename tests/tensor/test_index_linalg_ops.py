"""Index-driven ops (take_along_axis, gather_nd, boolean_mask, scatter_nd, sort, top_k, meshgrid) and linear algebra."""

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ShapeError
from ferronet.tensor import index_ops as I
from ferronet.tensor import linalg_ops as L

from .gradcheck import check_grad, check_second

RNG = np.random.default_rng(8)
X = RNG.permutation(24).reshape(2, 3, 4) * 0.25 - 3.0  # distinct values: sorting is differentiable here


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_take_along_axis(axis):
    src = X if axis is not None else X.reshape(-1)
    idx = np.argsort(src, axis=-1 if axis is None else axis)
    if axis is not None:
        idx = np.take(idx, [0, 0, -1][: idx.shape[axis]] if idx.shape[axis] >= 2 else [0], axis=axis)
    np.testing.assert_array_equal(I.take_along_axis(fn.constant(X), idx, axis).numpy(),
                                  np.take_along_axis(X, idx, axis))
    check_grad(lambda t: I.take_along_axis(t, idx, axis), X)
    check_second(lambda t: I.take_along_axis(t, idx, axis) ** 2, X)


def test_take_along_axis_broadcasts_and_checks_rank():
    idx = np.array([[[1], [0], [2]]])  # broadcast over axis 0
    np.testing.assert_array_equal(I.take_along_axis(fn.constant(X), idx, 2).numpy(), np.take_along_axis(X, idx, 2))
    with pytest.raises(ShapeError, match="same rank"):
        I.take_along_axis(fn.constant(X), np.array([0, 1]), 1)
    with pytest.raises(TypeError, match="integers"):
        I.take_along_axis(fn.constant(X), np.zeros((2, 3, 1)), 1)


def test_gather_nd_and_boolean_mask():
    idx = np.array([[0, 1], [1, 2], [0, 1]])
    np.testing.assert_array_equal(I.gather_nd(fn.constant(X), idx).numpy(), X[idx[:, 0], idx[:, 1]])
    check_grad(lambda t: I.gather_nd(t, idx), X)
    with pytest.raises(ShapeError, match="index depth 4"):
        I.gather_nd(fn.constant(X), np.zeros((1, 4), int))
    mask = X[..., 0] > -1.0
    np.testing.assert_array_equal(I.boolean_mask(fn.constant(X), mask).numpy(), X[mask])
    m1 = np.array([True, False, True])
    np.testing.assert_array_equal(I.boolean_mask(fn.constant(X), m1, axis=1).numpy(), X[:, m1])
    check_grad(lambda t: I.boolean_mask(t, m1, axis=1), X)
    with pytest.raises(ShapeError, match="mask shape"):
        I.boolean_mask(fn.constant(X), np.array([True, False]), axis=1)


def test_scatter_nd_adds_repeats():
    idx = np.array([[1], [3], [1]])
    upd = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(I.scatter_nd(idx, fn.constant(upd), [5]).numpy(), [0, 4, 0, 2, 0])
    check_grad(lambda u: I.scatter_nd(idx, u, [5]), upd)
    rows = np.array([[0], [2]])
    up2 = RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(I.scatter_nd(rows, fn.constant(up2), (4, 3)).numpy()[[0, 2]], up2)
    check_grad(lambda u: I.scatter_nd(rows, u, (4, 3)), up2)
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        I.scatter_nd(rows, fn.constant(upd), (4, 3))


@pytest.mark.parametrize("direction", ["ASCENDING", "DESCENDING"])
def test_sort_argsort_top_k(direction):
    ref = np.sort(X, axis=1)
    ref = ref[:, ::-1] if direction == "DESCENDING" else ref
    np.testing.assert_array_equal(I.sort(fn.constant(X), 1, direction).numpy(), ref)
    a = I.argsort(fn.constant(X), 1, direction)
    assert a.dtype == np.int32
    np.testing.assert_array_equal(np.take_along_axis(X, a.numpy(), 1), ref)
    check_grad(lambda t: I.sort(t, -1, direction), X)
    v, i = I.top_k(fn.constant(X), 2)
    np.testing.assert_array_equal(v.numpy(), np.sort(X, -1)[..., ::-1][..., :2])
    np.testing.assert_array_equal(i.numpy(), np.argsort(-X, -1)[..., :2])
    check_grad(lambda t: I.top_k(t, 3)[0], X)
    # stable order for ties, as TensorFlow
    np.testing.assert_array_equal(I.argsort([1, 2, 2, 1], direction="DESCENDING").numpy(), [1, 2, 0, 3])
    with pytest.raises(ValueError, match="direction"):
        I.argsort(X, direction="UP")


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid(indexing):
    a, b, c = np.arange(3.0), np.arange(4.0) + 10, np.arange(2.0) - 5
    for args in ((a, b), (a, b, c)):
        got = I.meshgrid(*[fn.constant(v) for v in args], indexing=indexing)
        for g, r in zip(got, np.meshgrid(*args, indexing=indexing)):
            np.testing.assert_array_equal(g.numpy(), r)
    check_grad(lambda u, v: I.meshgrid(u, v, indexing=indexing)[0] * I.meshgrid(u, v, indexing=indexing)[1] ** 2, a, b)


def test_sequence_mask_and_add_n():
    np.testing.assert_array_equal(I.sequence_mask([1, 3]).numpy(), [[True, False, False], [True, True, True]])
    assert I.sequence_mask([[2]], 4, dtype="float32").numpy().tolist() == [[[1.0, 1.0, 0.0, 0.0]]]
    check_grad(lambda u, v: I.add_n([u, v, u]), X, X)
    with pytest.raises(ShapeError, match="one shape"):
        I.add_n([fn.constant(X), fn.constant(X[0])])


A2 = np.array([[2.0, 0.5, 0.1], [0.3, 3.0, -0.4], [0.2, -0.1, 1.5]])
BATCH = np.stack([A2, A2.T + np.eye(3)])


@pytest.mark.parametrize("a", [A2, BATCH], ids=["single", "batch"])
def test_inv_det_logdet(a):
    np.testing.assert_allclose(L.inv(fn.constant(a)).numpy(), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(L.det(fn.constant(a)).numpy(), np.linalg.det(a), rtol=1e-12)
    np.testing.assert_allclose(L.logdet(fn.constant(a)).numpy(), np.linalg.slogdet(a)[1], rtol=1e-12)
    for op in (L.inv, L.det, L.logdet):
        check_grad(op, a, rtol=1e-5, atol=1e-7)
        check_second(op, a, rtol=1e-4, atol=1e-6)


def test_solve_trace_diagonals():
    b = RNG.standard_normal((3, 2))
    np.testing.assert_allclose(L.solve(fn.constant(A2), fn.constant(b)).numpy(), np.linalg.solve(A2, b), rtol=1e-12)
    np.testing.assert_allclose(L.solve(A2, b, adjoint=True).numpy(), np.linalg.solve(A2.T, b), rtol=1e-12)
    check_grad(L.solve, A2, b)
    assert float(L.trace(fn.constant(A2))) == np.trace(A2)
    np.testing.assert_array_equal(L.diag_part(fn.constant(BATCH)).numpy(), np.diagonal(BATCH, axis1=1, axis2=2))
    check_grad(L.trace, BATCH)
    np.testing.assert_array_equal(L.diag(fn.constant([1.0, 2.0])).numpy(), np.diag([1.0, 2.0]))
    check_grad(L.diag, np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert L.matrix_transpose(fn.constant(BATCH)).shape == (2, 3, 3)
    with pytest.raises(ShapeError, match="square"):
        L.inv(fn.constant(np.ones((2, 3))))
    with pytest.raises(ShapeError, match="3 rows"):
        L.solve(A2, np.ones((2, 1)))
