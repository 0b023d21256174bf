"""Shape, indexing and linear-algebra primitives: forward against NumPy, gradients and HVPs by finite differences."""

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ShapeError
from ferronet.tensor import GradientTape
from ferronet.tensor import array_ops as A

from .gradcheck import check_grad, check_second

RNG = np.random.default_rng(4)
X = RNG.standard_normal((3, 4, 5))
M2 = RNG.standard_normal((4, 5))

INDICES = [
    1, -1, (slice(None), 2), (Ellipsis, 1), (slice(0, 3, 2), slice(None, None, -1)), (None, 1, slice(1, 3)),
    np.array([2, 0, 2]), [0, 0, 1], (slice(None), np.array([3, 1, 3, 3])), (np.array([0, 2]), np.array([1, 3])),
    X[:, 0, 0] > 0, (X[..., 0] > 0), (1, Ellipsis, np.array([4, 0, 4])), (np.array([[0, 1], [2, 2]]), slice(1, 3)),
]


@pytest.mark.parametrize("index", INDICES, ids=lambda i: repr(i)[:40])
def test_getitem_basic_and_advanced(index):
    t = fn.constant(X)
    np.testing.assert_array_equal(t[index].numpy(), X[index])
    np.testing.assert_array_equal(A.getitem(t, index).numpy(), X[index])
    check_grad(lambda a: a[index], X)          # repeated indices add their gradients
    check_second(lambda a: a[index] ** 3, X)


def test_getitem_with_tensor_indices():
    t = fn.constant(X)
    idx = fn.constant(np.array([2, 0]))
    np.testing.assert_array_equal(t[idx].numpy(), X[[2, 0]])
    np.testing.assert_array_equal(t[fn.constant(1), idx].numpy(), X[1, [2, 0]])
    with GradientTape() as tape:
        tape.watch(t)
        y = fn.reduce_sum(t[np.array([1, 1, 1])])
    g = np.zeros_like(X)
    g[1] = 3
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), g)


@pytest.mark.parametrize("shape", [(20, 3), (-1,), (5, -1, 2), 60])
def test_reshape(shape):
    np.testing.assert_array_equal(A.reshape(fn.constant(X), shape).numpy(), X.reshape(shape))
    check_grad(lambda a: A.reshape(a, shape), X)
    check_second(lambda a: A.reshape(a, shape) ** 2, X)


def test_reshape_error_names_shapes():
    with pytest.raises(ShapeError, match=r"\(3, 4, 5\).*60 values.*\(7, 8\)"):
        A.reshape(fn.constant(X), (7, 8))


@pytest.mark.parametrize("perm", [None, (2, 0, 1), [1, 0, 2], (-1, 0, 1)])
def test_transpose(perm):
    np.testing.assert_array_equal(A.transpose(fn.constant(X), perm).numpy(),
                                  np.transpose(X, None if perm is None else [p % 3 for p in perm]))
    check_grad(lambda a: A.transpose(a, perm), X)
    np.testing.assert_array_equal(A.swapaxes(fn.constant(X), 0, 2).numpy(), np.swapaxes(X, 0, 2))


def test_expand_squeeze_broadcast():
    t = fn.constant(M2)
    for ax in (0, 1, 2, -1, -3):
        np.testing.assert_array_equal(A.expand_dims(t, ax).numpy(), np.expand_dims(M2, ax))
    y = fn.constant(np.ones((1, 3, 1)))
    assert A.squeeze(y).shape == (3,)
    assert A.squeeze(y, 0).shape == (3, 1)
    assert A.squeeze(y, [0, -1]).shape == (3,)
    with pytest.raises(ShapeError, match="size 3"):
        A.squeeze(y, 1)
    check_grad(lambda a: A.squeeze(A.expand_dims(a, 1) * 2.0, 1), M2)
    b = A.broadcast_to(fn.constant(M2[0]), (3, 5))
    np.testing.assert_array_equal(b.numpy(), np.broadcast_to(M2[0], (3, 5)))
    check_grad(lambda a: A.broadcast_to(a, (2, 4, 5)), M2)
    check_grad(lambda a: A.broadcast_to(a, (4, 3, 5)), M2[:, None, :].copy())


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_stack_split_unstack(axis):
    a, b = X, X[:, :, :2] if axis in (-1, 2) else X
    if axis == 0:
        b = X[:1]
    elif axis == 1:
        b = X[:, :2]
    cat = A.concat([fn.constant(a), fn.constant(b)], axis)
    np.testing.assert_array_equal(cat.numpy(), np.concatenate([a, b], axis))
    check_grad(lambda u, v: A.concat([u, v], axis), a, b)
    st = A.stack([fn.constant(X), fn.constant(-X)], axis)
    np.testing.assert_array_equal(st.numpy(), np.stack([X, -X], axis))
    check_grad(lambda u, v: A.stack([u, v * v], axis), X, X)
    parts = A.split(fn.constant(X), [1, -1] if axis == 0 else [2, 2] if axis == 1 else [1, 3, 1], axis)
    ref = np.split(X, [1] if axis == 0 else [2] if axis == 1 else [1, 4], axis)
    for p, r in zip(parts, ref):
        np.testing.assert_array_equal(p.numpy(), r)
    check_grad(lambda u: A.split(u, 1 if axis == 0 else 2 if axis == 1 else 5, axis)[-1] * 3.0, X)
    us = A.unstack(fn.constant(X), axis=axis)
    assert len(us) == X.shape[axis]
    np.testing.assert_array_equal(us[1].numpy(), np.take(X, 1, axis))
    check_grad(lambda u: A.unstack(u, axis=axis)[0], X)


def test_concat_stack_split_errors_name_shapes():
    with pytest.raises(ShapeError, match=r"\(3, 4, 5\).*\(2, 4, 6\)|\(2, 4, 6\)"):
        A.concat([fn.constant(X), fn.constant(np.ones((2, 4, 6)))], 0)
    with pytest.raises(ShapeError, match=r"shapes"):
        A.stack([fn.constant(X), fn.constant(X[:2])])
    with pytest.raises(ShapeError, match="size 4 cannot be split into 3"):
        A.split(fn.constant(X), 3, axis=1)
    with pytest.raises(ShapeError, match="add up"):
        A.split(fn.constant(X), [1, 1], axis=1)
    with pytest.raises(ValueError):
        A.concat([])


@pytest.mark.parametrize("mult", [(1, 1, 1), (2, 1, 3), (1, 3, 1)])
def test_tile(mult):
    np.testing.assert_array_equal(A.tile(fn.constant(X), mult).numpy(), np.tile(X, mult))
    check_grad(lambda a: A.tile(a, mult), X)
    check_second(lambda a: A.tile(a, mult) ** 2, X)
    with pytest.raises(ShapeError, match="one multiple per axis"):
        A.tile(fn.constant(X), (2, 2))


def test_repeat():
    np.testing.assert_array_equal(A.repeat(fn.constant(M2), 2, axis=1).numpy(), np.repeat(M2, 2, axis=1))
    np.testing.assert_array_equal(A.repeat(fn.constant(M2), 3).numpy(), np.repeat(M2, 3))
    check_grad(lambda a: A.repeat(a, [1, 0, 2, 1], axis=0), M2)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(axis):
    idx = np.array([[0, 2], [1, 0], [-1, 0]])
    np.testing.assert_array_equal(A.gather(fn.constant(X), idx, axis=axis).numpy(), np.take(X, idx, axis=axis))
    check_grad(lambda a: A.gather(a, idx, axis=axis), X)
    check_second(lambda a: A.gather(a, idx, axis=axis) ** 2, X)


def test_gather_errors():
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        A.gather(fn.constant(X), [0, 3])
    with pytest.raises(TypeError, match="integers"):
        A.gather(fn.constant(X), np.array([0.5]))


def test_one_hot_tensorflow_behaviour():
    oh = A.one_hot([0, 2, 5, -1], 3)
    np.testing.assert_array_equal(oh.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert oh.dtype == np.float32
    oh = A.one_hot(np.array([[1], [0]]), 2, on_value=5.0, off_value=-1.0, axis=0, dtype="float64")
    assert oh.shape == (2, 2, 1) and oh.dtype == np.float64
    np.testing.assert_array_equal(oh.numpy()[:, :, 0], [[-1, 5], [5, -1]])


def test_pad_and_reverse():
    pads = [[1, 0], [0, 2], [2, 1]]
    np.testing.assert_array_equal(A.pad(fn.constant(X), pads, constant_values=1.5).numpy(),
                                  np.pad(X, pads, constant_values=1.5))
    check_grad(lambda a: A.pad(a, pads), X)
    with pytest.raises(NotImplementedError, match="CONSTANT"):
        A.pad(fn.constant(X), pads, mode="REFLECT")
    np.testing.assert_array_equal(A.reverse(fn.constant(X), [0, -1]).numpy(), X[::-1, :, ::-1])
    check_grad(lambda a: A.reverse(a, 1), X)


def test_identity_and_stop_gradient():
    t = fn.constant(M2)
    with GradientTape(persistent=True) as tape:
        tape.watch(t)
        y = fn.reduce_sum(A.identity(t) * A.stop_gradient(t))
    np.testing.assert_allclose(tape.gradient(y, t).numpy(), M2)
    check_grad(lambda a: A.identity(a) ** 2, M2)


def test_constructors_and_shape_queries():
    assert A.zeros((2, 3)).dtype == np.float32 and A.zeros(4).shape == (4,)
    assert A.ones([2], dtype="int32").dtype == np.int32
    assert A.zeros_like(fn.constant([1, 2])).dtype == np.int32
    assert A.ones_like(fn.constant(M2), dtype="float32").dtype == np.float32
    np.testing.assert_array_equal(A.fill([2, 2], 7).numpy(), np.full((2, 2), 7))
    assert A.fill([2], 7.0).dtype == np.float32 and A.fill([2], 7).dtype == np.int32
    np.testing.assert_array_equal(A.eye(3, 2).numpy(), np.eye(3, 2))
    assert A.eye(2, batch_shape=[4]).shape == (4, 2, 2)
    assert A.range(5).dtype == np.int32 and A.range(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(A.range(2, 10, 3).numpy(), [2, 5, 8])
    np.testing.assert_allclose(A.linspace(0.0, 1.0, 5).numpy(), np.linspace(0, 1, 5))
    assert A.linspace(0.0, 1.0, 5).dtype == np.float32
    s = A.shape(fn.constant(X))
    assert s.dtype == np.int32 and s.numpy().tolist() == [3, 4, 5]
    assert int(A.size(X)) == 60 and int(A.rank(X)) == 3
    assert A.zeros(A.shape(fn.constant(X))).shape == X.shape


MATMUL_SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
                 ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((5, 1, 3, 4), (2, 4, 1)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_matmul_broadcasting_and_1d(shapes, dt):
    a = RNG.standard_normal(shapes[0]).astype(dt)
    b = RNG.standard_normal(shapes[1]).astype(dt)
    out = A.matmul(fn.constant(a), fn.constant(b))
    assert out.dtype == dt
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-5 if dt == np.float32 else 1e-12, atol=1e-6)
    np.testing.assert_allclose((fn.constant(a) @ b).numpy(), a @ b, rtol=1e-5, atol=1e-6)
    if dt == np.float64:
        check_grad(A.matmul, a, b)
        check_second(lambda x: A.matmul(x, b) ** 2, a)
        check_second(lambda y: A.matmul(a, y) ** 2, b)


def test_matmul_transposes_and_errors():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((2, 4))
    np.testing.assert_allclose(A.matmul(a, b, transpose_a=True, transpose_b=True).numpy(), a.T @ b.T)
    check_grad(lambda x, y: A.matmul(x, y, transpose_a=True, transpose_b=True), a, b)
    with pytest.raises(ShapeError, match=r"\(4, 3\) and \(2, 4\)"):
        A.matmul(a, b)
    with pytest.raises(ShapeError, match="rank >= 1"):
        A.matmul(fn.constant(2.0), fn.constant(3.0))
    np.testing.assert_array_equal(A.matmul(np.ones((2, 3), np.int32), np.ones((3, 2), np.int32)).numpy(),
                                  np.full((2, 2), 3))


def test_matmul_hvp_of_quadratic_form():
    # f(x) = x^T S x has Hessian 2 S: the HVP is exact.
    s = RNG.standard_normal((5, 5))
    s = s + s.T
    h = check_second(lambda x: A.matmul(x, A.matmul(fn.constant(s), x)), RNG.standard_normal(5))
    assert h.shape == (5,)


@pytest.mark.parametrize("axes", [2, 1, ([1, 2], [0, 1]), ([0], [1]), (2, 0)])
def test_tensordot(axes):
    b = RNG.standard_normal((4, 5, 3)) if axes in (2, 1) or axes == ([1, 2], [0, 1]) else None
    if axes == 1:
        b = RNG.standard_normal((5, 2))
    if axes == ([0], [1]):
        b = RNG.standard_normal((2, 3))
    if axes == (2, 0):
        b = RNG.standard_normal((5, 2))
    if axes == 2:
        b = RNG.standard_normal((4, 5, 2))
    np.testing.assert_allclose(A.tensordot(fn.constant(X), fn.constant(b), axes).numpy(), np.tensordot(X, b, axes),
                               rtol=1e-12, atol=1e-12)
    check_grad(lambda u, v: A.tensordot(u, v, axes), X, b)


EINSUMS = [("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij->ji", [(3, 4)]),
           ("ij->i", [(3, 4)]), ("i,j->ij", [(3,), (4,)]), ("ij,ij->", [(3, 4), (3, 4)]),
           ("bi,ij,j->b", [(2, 3), (3, 4), (4,)]), ("ijk->kj", [(2, 3, 4)])]


@pytest.mark.parametrize("spec,shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum(spec, shapes):
    ops = [RNG.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(A.einsum(spec, *[fn.constant(o) for o in ops]).numpy(), np.einsum(spec, *ops),
                               rtol=1e-12, atol=1e-12)
    check_grad(lambda *ts: A.einsum(spec, *ts), *ops)
    check_second(lambda t: A.einsum(spec, t, *ops[1:]) ** 2, ops[0])


def test_einsum_needs_explicit_output():
    with pytest.raises(ValueError, match="explicit output"):
        A.einsum("ij,jk", fn.constant(M2), fn.constant(M2.T))
