"""Tensor as a NumPy citizen: protocols, operators, methods, conversions; Variable as a mutable tensor."""

import copy
import pickle

import numpy as np
import pytest

import ferronet as fn
from ferronet.errors import ShapeError
from ferronet.tensor import GradientTape, grad, value_and_grad

from .gradcheck import check_grad

A = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_zero_copy_both_ways():
    a = np.arange(6.0).reshape(2, 3)
    t = fn.Tensor(a)
    assert t.numpy() is a and np.asarray(t) is a
    assert np.shares_memory(np.array(t, copy=False), a)
    assert not np.shares_memory(np.array(t), a)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert (t.shape, t.dtype, t.ndim, t.size) == ((2, 3), np.float64, 2, 6)
    assert fn.Tensor(t).numpy() is a
    assert fn.Tensor([1.0]).dtype == np.float32 and fn.Tensor([1]).dtype == np.int32
    assert fn.Tensor([1.0], dtype="float64").dtype == np.float64


def test_constant_dtype_and_shape():
    assert fn.constant(1.5).dtype == np.float32 and fn.constant(1).dtype == np.int32
    assert fn.constant(np.float64(1.5)).dtype == np.float64
    assert fn.constant(True).dtype == np.bool_
    a = np.ones(3)
    c = fn.constant(a)
    assert c.numpy() is not a  # a constant owns its data
    np.testing.assert_array_equal(fn.constant(0.0, shape=(2, 3)).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(fn.constant([1, 2, 3, 4], shape=[2, 2]).numpy(), [[1, 2], [3, 4]])
    with pytest.raises(ShapeError, match=r"3 values cannot take shape \(2, 2\)"):
        fn.constant([1, 2, 3], shape=(2, 2))


UFUNCS = [np.exp, np.log, np.sqrt, np.square, np.sin, np.cos, np.tanh, np.negative, np.abs, np.expm1, np.log1p,
          np.arctan, np.sinh, np.cosh]


@pytest.mark.parametrize("uf", UFUNCS, ids=lambda u: u.__name__)
def test_numpy_ufuncs_return_differentiable_tensors(uf):
    out = uf(fn.constant(A))
    assert isinstance(out, fn.Tensor)
    np.testing.assert_allclose(out.numpy(), uf(A))
    check_grad(lambda t: uf(t), A)


@pytest.mark.parametrize("fname", ["sum", "mean", "max", "min", "prod", "var", "std", "cumsum"])
def test_numpy_reductions_return_differentiable_tensors(fname):
    f = getattr(np, fname)
    for kw in ({}, {"axis": 0}, {"axis": 1}) + (({"keepdims": True},) if fname != "cumsum" else ()):
        out = f(fn.constant(A), **kw)
        assert isinstance(out, fn.Tensor), (fname, kw)
        np.testing.assert_allclose(out.numpy(), f(A, **kw))
        check_grad(lambda t: f(t, **kw), A)


def test_numpy_array_functions_return_differentiable_tensors():
    t, u = fn.constant(A), fn.constant(np.array([[5.0, 6.0]]))
    cases = [
        (lambda x, y: np.concatenate([x, y]), lambda x, y: np.concatenate([x, y])),
        (lambda x, y: np.stack([x, x * 2.0], axis=1), None),
        (lambda x, y: np.matmul(x, x), None),
        (lambda x, y: np.dot(x, x), None),
        (lambda x, y: np.dot(y[0], x[0]), None),
        (lambda x, y: np.where(A > 2, x, 0.0), None),
        (lambda x, y: np.clip(x, 1.5, 3.5), None),
        (lambda x, y: np.reshape(x, (4,)), None),
        (lambda x, y: np.transpose(x), None),
        (lambda x, y: np.expand_dims(x, 1), None),
        (lambda x, y: np.squeeze(y), None),
        (lambda x, y: np.tensordot(x, y, axes=([1], [1])), None),
        (lambda x, y: np.einsum("ij,kj->ik", x, y), None),
        (lambda x, y: np.tile(x, 2), None),
        (lambda x, y: np.tile(x, (2, 1, 3)), None),
        (lambda x, y: np.linalg.norm(x), None),
        (lambda x, y: np.linalg.norm(x, axis=1), None),
        (lambda x, y: np.maximum(x, 2.5), None),
        (lambda x, y: x @ np.ones((2, 3)), None),
        (lambda x, y: np.moveaxis(x, 0, 1), None),
        (lambda x, y: np.flip(x, 1), None),
        (lambda x, y: np.outer(x, y), None),
        (lambda x, y: np.trace(x), None),
        (lambda x, y: np.ones((3, 2)) @ x, None),
    ]
    for k, (f, _) in enumerate(cases):
        out = f(t, u)
        assert isinstance(out, fn.Tensor)
        np.testing.assert_allclose(out.numpy(), f(A, u.numpy()))
        check_grad(f, A, u.numpy(), wrt=[0, 1] if k in (0, 4, 11, 12, 21) else [1] if k == 10 else [0])


def test_jax_style_grad_is_exported_from_ferronet_ops():
    assert fn.ops.grad is grad and fn.ops.value_and_grad is value_and_grad
    assert float(fn.ops.grad(lambda x: x ** 3)(fn.constant(2.0))) == 12.0


def test_unsupported_numpy_functions_return_arrays():
    t = fn.constant(A)
    for out, ref in ((np.sort(t), np.sort(A)), (np.argsort(t), np.argsort(A)), (np.linalg.inv(t), np.linalg.inv(A)),
                     (np.isfinite(t), np.isfinite(A)), (np.sum(t, dtype=np.float64), A.sum()),
                     (np.einsum("ij", t), A), (np.var(t, ddof=1), A.var(ddof=1))):
        assert not isinstance(out, fn.Tensor)
        np.testing.assert_allclose(out, ref, rtol=1e-6)
    o = np.empty((2, 2), np.float32)
    assert np.exp(t, out=o) is o
    # integer means follow NumPy here (a float), unlike reduce_mean
    assert float(np.mean(fn.constant([1, 2]))) == 1.5


def test_numpy_call_under_a_tape_is_recorded():
    x = fn.constant(np.array([0.5, 1.0]))
    with GradientTape() as tape:
        tape.watch(x)
        y = np.sum(np.exp(x) * np.sin(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.exp(x.numpy()) * (np.sin(x.numpy()) + np.cos(x.numpy())))


OPS = [
    ("add", lambda x, y: x + y), ("radd", lambda x, y: 2.0 + x), ("sub", lambda x, y: x - y),
    ("rsub", lambda x, y: 1.0 - x), ("mul", lambda x, y: x * y), ("rmul", lambda x, y: 3.0 * x),
    ("div", lambda x, y: x / y), ("rdiv", lambda x, y: 1.0 / x), ("pow", lambda x, y: x ** 3),
    ("rpow", lambda x, y: 2.0 ** x), ("powt", lambda x, y: x ** y), ("neg", lambda x, y: -x), ("pos", lambda x, y: +x),
    ("abs", lambda x, y: abs(x)), ("matmul", lambda x, y: x @ y), ("array_radd", lambda x, y: np.ones(2) + x),
    ("array_rmul", lambda x, y: np.full((2, 2), 2.0) * x),
]


@pytest.mark.parametrize("name,f", OPS, ids=[o[0] for o in OPS])
def test_arithmetic_operators(name, f):
    b = np.array([[0.5, 1.5], [2.0, 0.7]])
    out = f(fn.constant(A), fn.constant(b))
    assert isinstance(out, fn.Tensor)
    np.testing.assert_allclose(out.numpy(), f(A, b))
    check_grad(f, A, b) if name in ("add", "sub", "mul", "div", "matmul", "powt") else check_grad(lambda x: f(x, b), A)


def test_comparison_and_integer_operators_give_no_gradient():
    t, b = fn.constant(A), np.array([[1.0, 3.0], [3.0, 0.0]])
    for f in (lambda x: x < b, lambda x: x <= b, lambda x: x > b, lambda x: x >= b, lambda x: x == b,
              lambda x: x != b, lambda x: x // 2, lambda x: x % 2, lambda x: 7.0 // x, lambda x: 7.0 % x):
        np.testing.assert_array_equal(f(t).numpy(), f(A))
        with GradientTape() as tape:
            tape.watch(t)
            y = f(t)
        assert tape.gradient(y, t) is None
    m, n = fn.constant([True, False]), fn.constant([True, True])
    np.testing.assert_array_equal((m & n).numpy(), [True, False])
    np.testing.assert_array_equal((m | n).numpy(), [True, True])
    np.testing.assert_array_equal((m ^ n).numpy(), [False, True])
    np.testing.assert_array_equal((~m).numpy(), [False, True])
    with pytest.raises(TypeError):
        hash(fn.constant(1.0))


def test_methods():
    t = fn.constant(A)
    assert t.T.numpy().tolist() == A.T.tolist()
    for name, kw in (("sum", {}), ("mean", {"axis": 0}), ("max", {"axis": 1}), ("min", {}), ("prod", {}),
                     ("std", {"keepdims": True}), ("var", {"axis": 0})):
        np.testing.assert_allclose(getattr(t, name)(**kw).numpy(), getattr(A, name)(**kw), rtol=1e-6)
    assert t.reshape(4).shape == t.reshape(1, 4).shape[1:] == t.reshape((4,)).shape == (4,)
    assert t.transpose().shape == t.transpose(1, 0).shape == (2, 2)
    assert t.astype("float64").dtype == np.float64 and t.astype(np.int32).dtype == np.int32
    assert t.flatten().shape == t.ravel().shape == (4,)
    assert fn.constant([[1.0], [2.0]]).squeeze().shape == (2,)
    assert int(t.argmax()) == 3 and t.argmin(axis=1).numpy().tolist() == [0, 0]
    assert t[1, 1].item() == 4.0 and t.tolist() == A.tolist()
    assert t.copy().numpy() is not t.numpy()
    assert t.get_shape() == (2, 2)
    check_grad(lambda x: x.T.reshape(4).sum() * x.mean() + x.max(axis=0).prod(), A)


def test_python_conversions_and_iteration():
    t = fn.constant(A)
    assert len(t) == 2
    rows = list(t)
    assert all(isinstance(r, fn.Tensor) for r in rows) and rows[1].numpy().tolist() == [3.0, 4.0]
    s = fn.constant(2.5)
    assert float(s) == 2.5 and int(s) == 2 and bool(s) and complex(s) == 2.5
    assert [0, 1, 2][fn.constant(1)] == 1
    assert f"{s:.3f}" == "2.500"
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s).__next__()
    with pytest.raises(ValueError):
        bool(t)
    assert "shape=(2, 2)" in repr(t) and "float64" in repr(t)
    assert str(t) == str(A)


def test_copy_and_pickle():
    t = fn.constant(A)
    assert copy.copy(t) is t
    d = copy.deepcopy(t)
    assert d.numpy() is not t.numpy() and d.numpy().tolist() == A.tolist()
    p = pickle.loads(pickle.dumps(t))
    assert isinstance(p, fn.Tensor) and p.numpy().tolist() == A.tolist()


def test_iteration_is_differentiable():
    check_grad(lambda x: sum(row * float(i + 1) for i, row in enumerate(x)), A)


# ------------------------------------------------------------------- Variable
def test_variable_assign_family():
    v = fn.Variable([1.0, 2.0], name="w")
    arr = v.value
    assert v.dtype == np.float32 and v.shape == (2,) and v.trainable
    assert v.assign([3.0, 4.0]) is v
    assert v.numpy().tolist() == [3.0, 4.0]
    v.assign_add(fn.constant([1.0, 1.0]))
    v.assign_sub(np.array([0.5, 0.5]))
    assert v.numpy().tolist() == [3.5, 4.5]
    assert v.value is arr  # updated in place
    assert v.numpy() is not arr  # numpy() is a snapshot
    snap = v.read_value()
    v.assign([0.0, 0.0])
    assert snap.numpy().tolist() == [3.5, 4.5]
    v.assign(np.array([1, 2]))  # cast to the variable's dtype
    assert v.dtype == np.float32 and v.numpy().tolist() == [1.0, 2.0]


def test_variable_shape_errors_name_the_variable():
    v = fn.Variable(np.zeros((2, 3)), name="kernel", path="dense/kernel")
    for method in (v.assign, v.assign_add, v.assign_sub):
        with pytest.raises(ShapeError, match=r"'dense/kernel' of shape \(2, 3\).*\(3, 2\)"):
            method(np.zeros((3, 2)))
    assert v.numpy().tolist() == np.zeros((2, 3)).tolist()  # nothing half-written


def test_variable_in_expressions_and_numpy():
    v = fn.Variable(np.array([1.0, 2.0]))
    y = v * 2.0 + np.exp(v) - fn.constant(1.0, dtype="float64")
    assert isinstance(y, fn.Tensor) and not isinstance(y, fn.Variable)
    np.testing.assert_allclose(y.numpy(), [1.0, 2.0] * np.array(2.0) + np.exp([1.0, 2.0]) - 1)
    assert np.asarray(v) is v.value and np.sum(v).numpy() == 3.0
    assert v[1].numpy() == 2.0 and (v @ v).numpy() == 5.0
    with GradientTape() as tape:
        z = fn.reduce_sum(np.sin(v) * v)
    np.testing.assert_allclose(tape.gradient(z, v).numpy(), np.sin([1.0, 2.0]) + np.cos([1.0, 2.0]) * [1.0, 2.0])
    state = {v: 1}  # variables are hashable by identity (optimizer slots), unlike tensors
    assert state[v] == 1 and fn.Variable(np.array([1.0, 2.0])) not in state


def test_variable_from_initializer_and_copy():
    v = fn.Variable("zeros", shape=(2, 2), dtype="float64", trainable=False)
    assert v.dtype == np.float64 and not v.trainable and not v.numpy().any()
    with pytest.raises(ValueError, match="shape"):
        fn.Variable("ones")
    with pytest.raises(ValueError, match="initial_value"):
        fn.Variable()
    w = fn.Variable([1.0, 2.0], name="b")
    d = copy.deepcopy(w)
    d.assign([5.0, 5.0])
    assert w.numpy().tolist() == [1.0, 2.0] and d.name == "b"
    p = pickle.loads(pickle.dumps(w))
    assert isinstance(p, fn.Variable) and p.numpy().tolist() == [1.0, 2.0]
