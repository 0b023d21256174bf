"""``keras.ops`` with Keras 3's names and defaults: forward against NumPy, gradients against finite differences."""

import math

import numpy as np
import pytest
from scipy.special import log_softmax as np_log_softmax, logsumexp as np_logsumexp, softmax as np_softmax

import ferronet as fn
from ferronet.errors import ShapeError
from ferronet.keras import backend, ops
from ferronet.tensor import GradientTape

from .gradcheck import check_grad, check_second

RNG = np.random.default_rng(9)
X = RNG.uniform(0.2, 2.0, (3, 4)) * RNG.choice([-1, 1], (3, 4))
P = RNG.uniform(0.2, 2.0, (3, 4))


def _sig(x):
    return 1 / (1 + np.exp(-x))


# name -> (call, numpy reference, input, differentiable)
UNARY = {
    "sum": (lambda t: ops.sum(t, axis=1), lambda a: a.sum(1), X, True),
    "sum_keepdims": (lambda t: ops.sum(t, axis=(0, 1), keepdims=True), lambda a: a.sum((0, 1), keepdims=True), X, True),
    "mean": (lambda t: ops.mean(t, axis=0), lambda a: a.mean(0), X, True),
    "max": (lambda t: ops.max(t, axis=1), lambda a: a.max(1), X, True),
    "max_initial": (lambda t: ops.max(t, axis=1, initial=1.5), lambda a: np.max(a, 1, initial=1.5), X, True),
    "min": (lambda t: ops.min(t), lambda a: a.min(), X, True),
    "prod": (lambda t: ops.prod(t, axis=0), lambda a: a.prod(0), X, True),
    "std": (lambda t: ops.std(t, axis=1), lambda a: a.std(1), X, True),
    "var": (lambda t: ops.var(t), lambda a: a.var(), X, True),
    "square": (ops.square, np.square, X, True), "sqrt": (ops.sqrt, np.sqrt, P, True),
    "exp": (ops.exp, np.exp, X, True), "log": (ops.log, np.log, P, True), "abs": (ops.abs, np.abs, X, True),
    "absolute": (ops.absolute, np.abs, X, True), "negative": (ops.negative, np.negative, X, True),
    "log1p": (ops.log1p, np.log1p, P, True), "expm1": (ops.expm1, np.expm1, X, True),
    "sin": (ops.sin, np.sin, X, True), "cos": (ops.cos, np.cos, X, True), "arctan": (ops.arctan, np.arctan, X, True),
    "sign": (ops.sign, np.sign, X, False), "floor": (ops.floor, np.floor, X, False),
    "ceil": (ops.ceil, np.ceil, X, False), "round": (lambda t: ops.round(t, 1), lambda a: np.round(a, 1), X, False),
    "reshape": (lambda t: ops.reshape(t, (2, 6)), lambda a: a.reshape(2, 6), X, True),
    "transpose": (ops.transpose, np.transpose, X, True),
    "expand_dims": (lambda t: ops.expand_dims(t, -1), lambda a: a[..., None], X, True),
    "expand_dims_many": (lambda t: ops.expand_dims(t, (0, 3)), lambda a: np.expand_dims(a, (0, 3)), X, True),
    "squeeze": (lambda t: ops.squeeze(ops.reshape(t, (3, 1, 4))), lambda a: a, X, True),
    "tile": (lambda t: ops.tile(t, 2), lambda a: np.tile(a, 2), X, True),
    "tile_more": (lambda t: ops.tile(t, (2, 1, 2)), lambda a: np.tile(a, (2, 1, 2)), X, True),
    "take": (lambda t: ops.take(t, [5, -1, 0]), lambda a: np.take(a, [5, -1, 0]), X, True),
    "take_axis": (lambda t: ops.take(t, np.array([[2, 0]]), axis=1), lambda a: np.take(a, [[2, 0]], axis=1), X, True),
    "take_along_axis": (lambda t: ops.take_along_axis(t, np.argsort(X, 1)[:, :2], axis=1),
                        lambda a: np.take_along_axis(a, np.argsort(X, 1)[:, :2], 1), X, True),
    "clip": (lambda t: ops.clip(t, -1.0, 1.0), lambda a: np.clip(a, -1, 1), X, True),
    "logsumexp": (lambda t: ops.logsumexp(t, axis=1), lambda a: np_logsumexp(a, 1), X, True),
    "norm": (ops.norm, np.linalg.norm, X, True),
    "norm_1": (lambda t: ops.norm(t, ord=1, axis=1), lambda a: np.linalg.norm(a, 1, axis=1), X, True),
    "norm_3": (lambda t: ops.norm(t, ord=3, axis=0), lambda a: np.linalg.norm(a, 3, axis=0), X, True),
    "norm_fro": (lambda t: ops.norm(t, ord="fro", axis=(0, 1)), lambda a: np.linalg.norm(a, "fro"), X, True),
    "norm_inf": (lambda t: ops.norm(t, ord=np.inf, axis=1), lambda a: np.linalg.norm(a, np.inf, axis=1), X, True),
    "cumsum": (ops.cumsum, np.cumsum, X, True),
    "flip": (lambda t: ops.flip(t, 1), lambda a: np.flip(a, 1), X, True),
    "ravel": (ops.ravel, np.ravel, X, True),
    "moveaxis": (lambda t: ops.moveaxis(ops.reshape(t, (3, 2, 2)), 0, -1),
                 lambda a: np.moveaxis(a.reshape(3, 2, 2), 0, -1), X, True),
    "pad": (lambda t: ops.pad(t, ((1, 0), (0, 2))), lambda a: np.pad(a, ((1, 0), (0, 2))), X, True),
    "repeat": (lambda t: ops.repeat(t, 2, axis=0), lambda a: np.repeat(a, 2, 0), X, True),
    "sort": (lambda t: ops.sort(t, axis=0), lambda a: np.sort(a, 0), X, True),
    "diagonal": (ops.diagonal, np.diagonal, X, True),
    "trace": (ops.trace, np.trace, X, True),
    "relu": (ops.relu, lambda a: np.maximum(a, 0), X, True), "sigmoid": (ops.sigmoid, _sig, X, True),
    "tanh": (ops.tanh, np.tanh, X, True), "softplus": (ops.softplus, lambda a: np.log1p(np.exp(a)), X, True),
    "silu": (ops.silu, lambda a: a * _sig(a), X, True),
    "gelu": (ops.gelu, lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))), X, True),
    "gelu_exact": (lambda t: ops.gelu(t, approximate=False),
                   lambda a: 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2))), X, True),
    "softmax": (ops.softmax, lambda a: np_softmax(a, -1), X, True),
    "softmax_axis0": (lambda t: ops.softmax(t, axis=0), lambda a: np_softmax(a, 0), X, True),
    "log_softmax": (ops.log_softmax, lambda a: np_log_softmax(a, -1), X, True),
    "leaky_relu": (ops.leaky_relu, lambda a: np.where(a > 0, a, 0.2 * a), X, True),
    "log_sigmoid": (ops.log_sigmoid, lambda a: np.log(_sig(a)), X, True),
    "hard_sigmoid": (ops.hard_sigmoid, lambda a: np.clip(a / 6 + 0.5, 0, 1), X, True),
    "stop_gradient": (ops.stop_gradient, lambda a: a, X, False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(name):
    f, ref, x, diff = UNARY[name]
    out = f(fn.constant(x))
    assert isinstance(out, fn.Tensor)
    np.testing.assert_allclose(out.numpy(), ref(x), rtol=1e-12, atol=1e-12)
    out32 = f(x.astype(np.float32))  # NumPy input works too
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.numpy(), ref(x), rtol=2e-5, atol=2e-6)
    if diff:
        check_grad(f, x)
    else:
        t = fn.constant(x)
        with GradientTape() as tape:
            tape.watch(t)
            y = f(t)
        assert tape.gradient(y, t) is None


B = RNG.uniform(0.5, 1.5, (3, 4)) + 0.05
BINARY = {
    "add": (ops.add, np.add), "subtract": (ops.subtract, np.subtract), "multiply": (ops.multiply, np.multiply),
    "divide": (ops.divide, np.divide), "true_divide": (ops.true_divide, np.true_divide),
    "maximum": (ops.maximum, np.maximum), "minimum": (ops.minimum, np.minimum),
    "power": (lambda a, b: ops.power(ops.abs(a), b), lambda a, b: np.abs(a) ** b),
    "matmul": (lambda a, b: ops.matmul(a, ops.transpose(b)), lambda a, b: a @ b.T),
    "dot": (lambda a, b: ops.dot(a, ops.transpose(b)), lambda a, b: np.dot(a, b.T)),
    "dot_vec": (lambda a, b: ops.dot(a[0], b[1]), lambda a, b: np.dot(a[0], b[1])),
    "dot_3d": (lambda a, b: ops.dot(ops.reshape(a, (3, 2, 2)), ops.reshape(b, (2, 2, 3))),
               lambda a, b: np.dot(a.reshape(3, 2, 2), b.reshape(2, 2, 3))),
    "einsum": (lambda a, b: ops.einsum("ij,kj->ik", a, b), lambda a, b: np.einsum("ij,kj->ik", a, b)),
    "einsum_implicit": (lambda a, b: ops.einsum("ij,kj", a, b), lambda a, b: np.einsum("ij,kj", a, b)),
    "tensordot": (lambda a, b: ops.tensordot(a, b, axes=([1], [1])), lambda a, b: np.tensordot(a, b, ([1], [1]))),
    "outer": (lambda a, b: ops.outer(a[0], b[1]), lambda a, b: np.outer(a[0], b[1])),
    "inner": (lambda a, b: ops.inner(a, b), np.inner),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1)),
    "stack": (lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: np.stack([a, b], -1)),
    "hstack": (lambda a, b: ops.hstack([a, b]), lambda a, b: np.hstack([a, b])),
    "vstack": (lambda a, b: ops.vstack([a, b[0]]), lambda a, b: np.vstack([a, b[0]])),
    "where": (lambda a, b: ops.where(X > 0, a, b), lambda a, b: np.where(X > 0, a, b)),
    "logaddexp": (ops.logaddexp, np.logaddexp),
    "squared_difference": (ops.square_difference, lambda a, b: (a - b) ** 2),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops(name):
    f, ref = BINARY[name]
    out = f(fn.constant(X), fn.constant(B))
    np.testing.assert_allclose(out.numpy(), ref(X, B), rtol=1e-12, atol=1e-12)
    check_grad(f, X, B)


def test_split_uses_numpy_semantics():
    parts = ops.split(fn.constant(X), [1, 3], axis=1)
    for p, r in zip(parts, np.split(X, [1, 3], axis=1)):
        np.testing.assert_array_equal(p.numpy(), r)
    assert [p.shape for p in ops.split(X, 2, axis=1)] == [(3, 2), (3, 2)]
    check_grad(lambda t: ops.split(t, [2], axis=1)[1], X)


def test_constructors_default_to_floatx():
    assert ops.ones((2,)).dtype == np.float32 and ops.zeros(3).dtype == np.float32
    assert ops.eye(2, 3, k=1).numpy().tolist() == np.eye(2, 3, 1).tolist()
    assert ops.full((2,), 3).dtype == np.int32 and ops.full((2,), 3.0).dtype == np.float32
    assert ops.full((2,), 3, dtype="float64").dtype == np.float64
    assert ops.arange(3).dtype == np.int32 and ops.arange(3).numpy().tolist() == [0, 1, 2]
    assert ops.arange(1.0, 2.0, 0.5).dtype == np.float32 and ops.arange(0, 5, 2).numpy().tolist() == [0, 2, 4]
    assert ops.linspace(0, 1, 5).dtype == np.float32 and ops.linspace(0, 1).shape == (50,)
    out, step = ops.linspace(0, 1, 4, endpoint=False, retstep=True)
    assert step == 0.25 and out.numpy().tolist() == [0, 0.25, 0.5, 0.75]
    assert ops.zeros_like(np.ones(2, np.int64)).dtype == np.int64 and ops.ones_like([1.0]).dtype == np.float32
    assert ops.full_like(fn.constant([1, 2]), 7).numpy().tolist() == [7, 7]
    assert ops.convert_to_tensor(1.0).dtype == np.float32 and ops.convert_to_tensor([1, 2]).dtype == np.int32
    assert ops.convert_to_tensor(np.ones(2)).dtype == np.float64
    assert ops.convert_to_tensor([1, 2], dtype="float32").dtype == np.float32
    a = np.ones(3)
    assert ops.convert_to_numpy(fn.Tensor(a)) is a
    assert ops.shape(fn.constant(X)) == (3, 4) and isinstance(ops.shape(X)[0], int)
    assert ops.ndim(X) == 2 and ops.size(X) == 12 and ops.dtype(X) == "float64"
    assert ops.cast(X, "int32").dtype == np.int32 and ops.is_tensor(ops.ones(1)) and not ops.is_tensor(X)
    assert ops.tri(3).numpy().tolist() == np.tri(3).tolist()


def test_floatx_changes_the_defaults():
    try:
        backend.set_floatx("float64")
        assert ops.ones(2).dtype == np.float64 and ops.arange(1.5).dtype == np.float64
        assert ops.convert_to_tensor(2.0).dtype == np.float64 and ops.mean([1, 2]).dtype == np.float64
    finally:
        backend.set_floatx("float32")


def test_integer_inputs():
    assert ops.mean([1, 2]).dtype == np.float32 and float(ops.mean([1, 2])) == 1.5
    assert ops.std([1, 3]).dtype == np.float32 and float(ops.std([1, 3])) == 1.0
    assert ops.sum([1, 2]).dtype == np.int32
    assert ops.argmax(X).dtype == np.int32 and int(ops.argmax(X)) == int(np.argmax(X))  # flattened by default
    np.testing.assert_array_equal(ops.argmax(X, axis=1).numpy(), np.argmax(X, 1))
    np.testing.assert_array_equal(ops.argmin(X, axis=0, keepdims=True).numpy(), np.argmin(X, 0, keepdims=True))
    assert ops.count_nonzero([0, 1, 2]).numpy() == 2
    assert bool(ops.any(X > 1.9)) == bool(np.any(X > 1.9)) and not bool(ops.all(X > 0))


def test_comparisons_and_logic():
    for name, ref in (("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less), ("greater", np.greater),
                      ("less_equal", np.less_equal), ("greater_equal", np.greater_equal)):
        np.testing.assert_array_equal(getattr(ops, name)(X, 0.5).numpy(), ref(X, 0.5))
    np.testing.assert_array_equal(ops.logical_and(X > 0, X < 1).numpy(), (X > 0) & (X < 1))
    np.testing.assert_array_equal(ops.isnan([1.0, np.nan]).numpy(), [False, True])
    np.testing.assert_array_equal(ops.nan_to_num(fn.constant([1.0, np.nan, np.inf]), posinf=9.0).numpy(), [1, 0, 9])
    idx = ops.where(X > 0)
    assert isinstance(idx, tuple) and all(isinstance(i, fn.Tensor) for i in idx)
    np.testing.assert_array_equal(np.stack([i.numpy() for i in idx]), np.stack(np.nonzero(X > 0)))


def test_one_hot_and_slice_and_top_k():
    oh = ops.one_hot([1, 0, 3], 3)
    assert oh.dtype == np.float32 and oh.numpy().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert ops.one_hot(np.array([1]), 2, axis=0, dtype="int32").numpy().tolist() == [[0], [1]]
    np.testing.assert_array_equal(ops.slice(X, (1, 1), (2, 2)).numpy(), X[1:3, 1:3])
    check_grad(lambda t: ops.slice(t, (0, 1), (2, 3)), X)
    v, i = ops.top_k(X, 2)
    np.testing.assert_array_equal(v.numpy(), -np.sort(-X, 1)[:, :2])
    assert ops.argsort(X).numpy().tolist() == np.argsort(X, -1).tolist()
    g = ops.meshgrid(np.arange(2.0), np.arange(3.0), indexing="ij")
    assert g[0].shape == (2, 3)
    np.testing.assert_array_equal(ops.diag(fn.constant([1.0, 2.0])).numpy(), np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(ops.diag(fn.constant([1.0, 2.0]), k=1).numpy(), np.diag([1.0, 2.0], 1))
    np.testing.assert_array_equal(ops.diag(fn.constant([1.0, 2.0]), k=-1).numpy(), np.diag([1.0, 2.0], -1))
    np.testing.assert_array_equal(ops.diag(fn.constant(X)).numpy(), np.diag(X))


def test_moments_normalize():
    m, v = ops.moments(X, axes=[0])
    np.testing.assert_allclose(m.numpy(), X.mean(0))
    np.testing.assert_allclose(v.numpy(), X.var(0))
    np.testing.assert_allclose(ops.normalize(X).numpy(), X / np.linalg.norm(X, axis=-1, keepdims=True))
    check_grad(lambda t: ops.normalize(t, axis=0), X)


T_PROB = RNG.uniform(0.05, 0.95, (3, 4))
LOGITS = RNG.standard_normal((3, 4)) * 2


def test_binary_crossentropy():
    p = _sig(LOGITS)
    ref = -(T_PROB * np.log(p) + (1 - T_PROB) * np.log(1 - p))
    np.testing.assert_allclose(ops.binary_crossentropy(T_PROB, fn.constant(p)).numpy(), ref, rtol=1e-9)
    np.testing.assert_allclose(ops.binary_crossentropy(T_PROB, fn.constant(LOGITS), from_logits=True).numpy(), ref,
                               rtol=1e-9)
    check_grad(lambda z: ops.binary_crossentropy(T_PROB, z, from_logits=True), LOGITS)
    check_grad(lambda q: ops.binary_crossentropy(T_PROB, q), p)
    check_second(lambda z: ops.binary_crossentropy(T_PROB, z, from_logits=True), LOGITS, rtol=1e-4, atol=1e-7)
    e = backend.epsilon()
    clipped = ops.binary_crossentropy([1.0, 0.0], fn.constant(np.array([0.0, 1.0]))).numpy()
    np.testing.assert_allclose(clipped, -math.log(e), rtol=1e-3)
    with pytest.raises(ShapeError, match=r"target.shape=\(2,\), output.shape=\(3,\)"):
        ops.binary_crossentropy([1.0, 0.0], [0.5, 0.5, 0.5])


def test_categorical_and_sparse_crossentropy():
    labels = np.array([0, 3, 2])
    onehot = np.eye(4)[labels]
    ref = -np_log_softmax(LOGITS, -1)[np.arange(3), labels]
    probs = np_softmax(LOGITS, -1)
    np.testing.assert_allclose(ops.categorical_crossentropy(onehot, fn.constant(LOGITS), from_logits=True).numpy(),
                               ref, rtol=1e-10)
    np.testing.assert_allclose(ops.categorical_crossentropy(onehot, fn.constant(probs * 3.0)).numpy(), ref, rtol=1e-9)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(labels, fn.constant(LOGITS), from_logits=True)
                               .numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy(labels[:, None], probs).numpy(), ref, rtol=1e-9)
    check_grad(lambda z: ops.categorical_crossentropy(onehot, z, from_logits=True), LOGITS)
    check_grad(lambda q: ops.categorical_crossentropy(onehot, q), probs)
    check_grad(lambda z: ops.sparse_categorical_crossentropy(labels, z, from_logits=True), LOGITS)
    check_second(lambda z: ops.sparse_categorical_crossentropy(labels, z, from_logits=True), LOGITS, rtol=1e-4,
                 atol=1e-7)
    with pytest.raises(ShapeError, match="target.shape"):
        ops.sparse_categorical_crossentropy(labels[:2], LOGITS)
    with pytest.raises(ShapeError, match="one shape"):
        ops.categorical_crossentropy(onehot[:, :3], LOGITS)


def test_control_flow_runs_eagerly():
    calls = []
    out = ops.cond(fn.constant(True), lambda: calls.append("t") or 1, lambda: calls.append("f") or 2)
    assert out == 1 and calls == ["t"]
    assert ops.cond(np.array(0), lambda: 1, lambda: 2) == 2
    assert float(ops.fori_loop(0, 4, lambda i, v: v + i, fn.constant(0.0))) == 6.0
    assert ops.while_loop(lambda i: i < 5, lambda i: i + 2, 0) == 6
    assert ops.while_loop(lambda a, b: a < 3, lambda a, b: (a + 1, b * 2), (0, 1)) == (3, 8)
    vm = ops.vectorized_map(lambda row: ops.sum(row), fn.constant(X))
    np.testing.assert_allclose(vm.numpy(), X.sum(1))


def test_linalg_names():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(ops.inv(a).numpy(), np.linalg.inv(a))
    np.testing.assert_allclose(float(ops.det(a)), 5.0)
    np.testing.assert_allclose(ops.solve(a, np.array([[1.0], [2.0]])).numpy(), np.linalg.solve(a, [[1.0], [2.0]]))


def test_keras_ops_reached_as_keras_module():
    import ferronet.keras.ops as mod

    assert fn.keras.ops is ops is mod
    assert fn.keras.random is not None


KERAS_NAMES = ("sum mean max min prod std var square sqrt exp log abs matmul dot einsum reshape transpose concatenate "
               "stack split expand_dims squeeze tile take take_along_axis where clip maximum minimum cast "
               "convert_to_tensor convert_to_numpy shape ones zeros ones_like zeros_like full eye arange linspace "
               "argmax argmin one_hot relu sigmoid tanh softmax log_softmax softplus gelu silu logsumexp norm sign "
               "floor ceil round power add subtract multiply divide negative stop_gradient cond binary_crossentropy "
               "categorical_crossentropy sparse_categorical_crossentropy").split()


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_3_names_exist(name):
    assert callable(getattr(ops, name))


def test_ops_results_are_tensors_and_differentiable_through_a_tape():
    w = fn.Variable(np.array([[0.5, -1.0], [2.0, 0.1]]))
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    with GradientTape() as tape:
        h = ops.tanh(ops.matmul(x, w))
        loss = ops.mean(ops.sum(ops.square(h), axis=-1))
    g = tape.gradient(loss, w).numpy()
    hv = np.tanh(x @ w.numpy())
    np.testing.assert_allclose(g, x.T @ (2 * hv * (1 - hv ** 2)) / 2, rtol=1e-12)
