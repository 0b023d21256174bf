"""TensorFlow's names after ``import ferronet as tf``: defaults, dtypes, errors, gradients."""

import math

import numpy as np
import pytest

import ferronet as tf
from ferronet import tfcompat
from ferronet.errors import ShapeError

from .gradcheck import check_grad

LISTED = ("constant convert_to_tensor Variable ones zeros ones_like zeros_like fill eye range linspace cast reshape "
          "transpose concat stack split squeeze expand_dims tile gather where shape one_hot argmax matmul reduce_sum "
          "reduce_mean reduce_max reduce_min reduce_prod reduce_std square sqrt exp log sin cos tanh abs pow maximum "
          "minimum clip_by_value GradientTape function sigmoid cumsum sort argsort boolean_mask gather_nd scatter_nd "
          "meshgrid sequence_mask add_n floor ceil").split()


@pytest.mark.parametrize("name", LISTED)
def test_names_exist_at_top_level_and_under_tf_math(name):
    obj = getattr(tf, name)
    assert callable(obj)
    if name in ("square", "sqrt", "exp", "log", "sin", "cos", "tanh", "abs", "pow", "maximum", "minimum",
                "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_std", "argmax",
                "cumsum", "add_n", "floor", "ceil", "sigmoid"):
        assert callable(getattr(tf.math, name))


def test_newaxis_dtypes_version():
    assert tf.newaxis is None and tf.ones((2, 3))[:, tf.newaxis].shape == (2, 1, 3)
    assert tf.constant([1.0]).dtype == tf.float32 and tf.constant([1]).dtype == tf.int32
    for name in ("float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"):
        assert np.dtype(getattr(tf, name)) == np.dtype(name if name != "bool" else np.bool_)
    assert tf.dtypes.float32 == np.float32 and tf.dtypes.as_dtype("int32") == np.int32
    assert isinstance(tf.version.VERSION, str) and tf.version.VERSION.startswith("2.")
    assert tf.TensorShape([2, None]).as_list() == [2, None] and tf.TensorShape([2, 3]).num_elements() == 6
    assert tf.TensorShape((2, 3)) == tf.ones((2, 3)).shape


def test_constructor_defaults_follow_tensorflow():
    cases = [
        (tf.constant(3.0), np.float32, 3.0), (tf.constant([1, 2]), np.int32, [1, 2]),
        (tf.convert_to_tensor([1.0]), np.float32, [1.0]), (tf.convert_to_tensor(np.array([1.0])), np.float64, [1.0]),
        (tf.convert_to_tensor([1], dtype=tf.float32), np.float32, [1.0]),
        (tf.convert_to_tensor([1], dtype_hint=tf.float32), np.float32, [1.0]),
        (tf.ones((2,)), np.float32, [1, 1]), (tf.zeros([2], tf.int32), np.int32, [0, 0]),
        (tf.fill([2], 3.0), np.float32, [3, 3]), (tf.fill([2], 3), np.int32, [3, 3]),
        (tf.eye(2), np.float32, [[1, 0], [0, 1]]), (tf.range(3), np.int32, [0, 1, 2]),
        (tf.range(1, 5, 2), np.int32, [1, 3]), (tf.range(2.0), np.float32, [0, 1]),
        (tf.linspace(0.0, 1.0, 3), np.float32, [0, 0.5, 1]), (tf.linspace(0, 1, 3), np.float32, [0, 0.5, 1]),
        (tf.zeros_like([1, 2]), np.int32, [0, 0]), (tf.ones_like(tf.ones(2, tf.float64)), np.float64, [1, 1]),
        (tf.one_hot([0, 2], 3), np.float32, [[1, 0, 0], [0, 0, 1]]), (tf.shape(tf.ones((2, 3))), np.int32, [2, 3]),
        (tf.argmax([[1, 3], [4, 2]]), np.int64, [1, 0]), (tf.argmax([[1, 3], [4, 2]], axis=1), np.int64, [1, 0]),
    ]
    for t, dt, val in cases:
        assert isinstance(t, tf.Tensor) and t.dtype == dt, (t, dt)
        np.testing.assert_array_equal(t.numpy(), val)


def test_math_on_python_values_takes_tensorflow_dtypes():
    for t, dt in ((tf.exp(1.0), np.float32), (tf.square(3), np.int32), (tf.pow(2, 3), np.int32),
                  (tf.pow(2.0, 0.5), np.float32), (tf.maximum(1, 2), np.int32), (tf.add(1, 2), np.int32),
                  (tf.minimum([1.0, 5.0], 3.0), np.float32), (tf.clip_by_value([-1.0, 2.0], 0.0, 1.0), np.float32),
                  (tf.where([True, False], 1.0, 2.0), np.float32), (tf.reduce_sum([1.0, 2.0]), np.float32),
                  (tf.sigmoid(0.0), np.float32), (tf.abs(-2), np.int32), (tf.constant([1.0]) + [1.0, 2.0], np.float32),
                  (tf.constant([1.0], tf.float64) * 2.0, np.float64), (tf.reduce_mean([1, 2]), np.int32)):
        assert t.dtype == dt, t
    assert float(tf.sigmoid(0.0)) == 0.5 and tf.sigmoid(0.0).shape == ()
    assert int(tf.reduce_mean([1, 2])) == 1  # integer mean, as TensorFlow


def test_shape_ops():
    r = tf.reshape(tf.range(6), [2, -1])
    assert r.shape == (2, 3)
    assert tf.transpose(tf.ones((2, 3, 4)), perm=[0, 2, 1]).shape == (2, 4, 3)
    assert tf.concat([tf.ones((1, 2)), tf.zeros((1, 2))], axis=0).shape == (2, 2)
    assert tf.stack([1.0, 2.0]).dtype == np.float32
    assert [p.numpy().tolist() for p in tf.split(tf.range(6), [1, -1])] == [[0], [1, 2, 3, 4, 5]]
    assert tf.squeeze(tf.ones((1, 2, 1))).shape == (2,)
    assert tf.expand_dims([1, 2], 0).numpy().tolist() == [[1, 2]]
    assert tf.tile([[1, 2]], [2, 1]).numpy().tolist() == [[1, 2], [1, 2]]
    assert tf.gather([10, 20, 30], [2, 0]).numpy().tolist() == [30, 10]
    assert tf.where([True, False]).numpy().tolist() == [[0]]
    assert tf.cast([1.7, -1.7], tf.int32).numpy().tolist() == [1, -1]  # truncation toward zero


def test_errors_name_shapes():
    with pytest.raises(ShapeError, match=r"\(6,\).*\(4, -1\)"):
        tf.reshape(tf.range(6), [4, -1])
    with pytest.raises(ValueError, match=r"\(1, 2\), \(1, 3\)"):
        tf.concat([tf.ones((1, 2)), tf.zeros((1, 3))], axis=0)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 3\)"):
        tf.matmul(tf.ones((2, 3)), tf.ones((2, 3)))
    with pytest.raises(ValueError, match="rank 2"):
        tf.reduce_sum(tf.ones((2, 2)), axis=5)
    with pytest.raises(ValueError, match="size 6 cannot be split into 4"):
        tf.split(tf.range(6), 4)
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        tf.gather([1, 2, 3], [5])


def test_listed_math_is_differentiable():
    x = np.array([0.3, 0.8, 1.4])
    for f in (tf.square, tf.sqrt, tf.exp, tf.log, tf.sin, tf.cos, tf.tanh, tf.abs, tf.sigmoid,
              lambda t: tf.pow(t, 2.5), lambda t: tf.maximum(t, 0.5), lambda t: tf.minimum(t, 0.5),
              lambda t: tf.clip_by_value(t, 0.5, 1.0), lambda t: tf.reduce_std(t), lambda t: tf.reduce_prod(t),
              lambda t: tf.math.reduce_logsumexp(t), lambda t: tf.math.log1p(t), lambda t: tf.math.softplus(t),
              lambda t: tf.math.log_sigmoid(t),
              lambda t: tf.math.divide_no_nan(t, tf.constant([1.0, 0.0, 2.0], tf.float64)),
              lambda t: tf.math.squared_difference(t, 1.0), lambda t: tf.math.rsqrt(t), lambda t: tf.math.erf(t),
              lambda t: tf.cumsum(t), lambda t: tfcompat.nn.l2_loss(t)):
        check_grad(f, x)


def test_tf_math_special_cases():
    np.testing.assert_array_equal(tf.math.divide_no_nan(tf.constant([1.0, 2.0]), tf.constant([0.0, 4.0])).numpy(),
                                  [0.0, 0.5])
    np.testing.assert_allclose(tf.math.log_sigmoid(tf.constant([-100.0, 0.0, 100.0])).numpy(),
                               [-100.0, -math.log(2), 0.0], atol=1e-6)
    assert tf.math.floormod(7, 3).numpy() == 1 and tf.math.floordiv(7, 2).numpy() == 3
    assert tf.math.add_n([tf.ones(2), tf.ones(2)]).numpy().tolist() == [2, 2]
    assert tf.math.count_nonzero([0, 1, 2]).numpy() == 2


def test_tfcompat_nn_names():
    nn = tfcompat.nn
    logits = tf.constant([[2.0, 1.0, 0.1]])
    ref = -np.log(np.exp(2.0) / np.exp([2.0, 1.0, 0.1]).sum())
    np.testing.assert_allclose(nn.sparse_softmax_cross_entropy_with_logits(labels=[0], logits=logits).numpy(), [ref],
                               rtol=1e-6)
    np.testing.assert_allclose(nn.softmax_cross_entropy_with_logits(labels=[[1.0, 0, 0]], logits=logits).numpy(),
                               [ref], rtol=1e-6)
    for name in ("relu", "sigmoid", "softmax", "log_softmax", "tanh", "elu", "selu", "gelu", "silu", "swish",
                 "softplus", "relu6", "leaky_relu", "moments", "dropout", "conv2d", "max_pool2d", "avg_pool2d",
                 "bias_add", "l2_normalize", "sigmoid_cross_entropy_with_logits", "l2_loss"):
        assert callable(getattr(nn, name)), name
    assert nn.bias_add(tf.zeros((2, 3)), tf.constant([1.0, 2.0, 3.0])).numpy().tolist() == [[1, 2, 3]] * 2
    x = tf.constant(np.random.default_rng(0).standard_normal((1, 5, 5, 2)).astype(np.float32))
    k = tf.constant(np.random.default_rng(1).standard_normal((3, 3, 2, 4)).astype(np.float32))
    y = nn.conv2d(x, k, strides=1, padding="SAME")
    assert y.shape == (1, 5, 5, 4)
    assert nn.conv2d(x, k, strides=[1, 2, 2, 1], padding="VALID").shape == (1, 2, 2, 4)
    with pytest.raises(ValueError, match="NHWC"):
        nn.conv2d(x, k, 1, "SAME", data_format="NCHW")


def test_tf_nn_reaches_the_tensorflow_names():
    x = tf.constant([-1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.relu(x)
    assert isinstance(y, tf.Tensor)
    assert tape.gradient(y, x).numpy().tolist() == [0.0, 1.0]
    assert callable(tf.nn.sparse_softmax_cross_entropy_with_logits)


def test_random():
    u = tf.random.uniform((1000,))
    assert u.dtype == np.float32 and 0 <= float(tf.reduce_min(u)) and float(tf.reduce_max(u)) < 1
    i = tf.random.uniform((100,), maxval=10, dtype=tf.int32)
    assert i.dtype == np.int32 and set(np.unique(i.numpy())) <= set(range(10))
    with pytest.raises(ValueError, match="maxval"):
        tf.random.uniform((2,), dtype=tf.int32)
    n = tf.random.normal((20000,), mean=1.0, stddev=2.0, dtype=tf.float64)
    assert n.dtype == np.float64
    assert abs(float(tf.reduce_mean(n)) - 1) < 0.06 and abs(float(tf.reduce_std(n)) - 2) < 0.06
    tf.random.set_seed(42)
    a = tf.random.normal((3,)).numpy()
    tf.random.set_seed(42)
    assert tf.random.normal((3,)).numpy().tolist() == a.tolist()
    assert tf.random.normal((3,), seed=5).numpy().tolist() == tf.random.normal((3,), seed=5).numpy().tolist()
    t = tf.random.truncated_normal((5000,))
    assert float(tf.reduce_max(tf.abs(t))) <= 2.0
    s = tf.random.shuffle(tf.range(10))
    assert sorted(s.numpy().tolist()) == list(range(10))
    c = tf.random.categorical(tf.constant([[0.0, 0.0, -np.inf]]), 50)  # probabilities 1/2, 1/2, 0
    assert c.shape == (1, 50) and set(c.numpy().ravel()) <= {0, 1}


def test_function_runs_eagerly_with_or_without_arguments():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        return x * 2.0

    @tf.function(jit_compile=True, reduce_retracing=True)
    def g(x):
        calls.append(2)
        return x + 1.0

    assert float(f(tf.constant(2.0))) == 4.0 and float(f(tf.constant(3.0))) == 6.0
    assert float(g(tf.constant(1.0))) == 2.0
    assert calls == [1, 1, 2]  # Python side effects run on every call: no tracing
    assert "eagerly" in tfcompat.function.__doc__


def test_config_threading():
    saved = tf.config.threading.get_intra_op_parallelism_threads()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        assert tf.get_num_threads() == 1 == tf.config.threading.get_intra_op_parallelism_threads()
        tf.config.threading.set_intra_op_parallelism_threads(0)  # 0 = system default: unchanged here
        tf.config.threading.set_inter_op_parallelism_threads(2)
        assert tf.config.threading.get_inter_op_parallelism_threads() == 1
    finally:
        tf.set_num_threads(saved)
    assert tf.config.list_physical_devices("GPU") == []
    assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"


def test_dataset_pipeline():
    x = np.arange(10.0).reshape(5, 2)
    y = np.arange(5)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    assert len(ds) == 5
    batches = list(ds.batch(2))
    assert [b[0].shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    assert isinstance(batches[0][0], tf.Tensor)
    tf.random.set_seed(1)
    sh = ds.shuffle(5).batch(5)
    e1 = next(iter(sh))[1].numpy().tolist()
    e2 = next(iter(sh))[1].numpy().tolist()
    assert sorted(e1) == sorted(e2) == list(range(5))
    assert len(list(ds.shuffle(2).batch(2, drop_remainder=True))) == 2
    m = ds.map(lambda a, b: (a * 2.0, b)).batch(5)
    np.testing.assert_array_equal(next(iter(m))[0].numpy(), 2 * x)
    d = tf.data.Dataset.from_tensor_slices({"a": x, "b": y}).batch(3)
    first = next(iter(d))
    assert set(first) == {"a", "b"} and first["a"].shape == (3, 2)
    assert list(ds.take(2).as_numpy_iterator())[1][1] == 1
    assert len(ds.repeat(2)) == 10 and ds.prefetch(tf.data.AUTOTUNE) is ds
    assert tf.data.experimental.AUTOTUNE == tf.data.AUTOTUNE
    with pytest.raises(ValueError, match="first dimensions"):
        tf.data.Dataset.from_tensor_slices((x, np.arange(4)))
    with pytest.raises(ValueError, match="batch_size"):
        ds.batch(0)


def test_linalg_namespace():
    a = tf.constant([[2.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(tf.linalg.inv(a).numpy(), [[0.5, 0], [0, 0.25]])
    assert float(tf.linalg.det(a)) == 8.0 and float(tf.linalg.trace(a)) == 6.0
    assert tf.linalg.matmul(a, a).shape == (2, 2) and tf.linalg.eye(3).shape == (3, 3)
    np.testing.assert_allclose(float(tf.linalg.norm(a)), math.sqrt(20), rtol=1e-6)


def test_print_and_ensure_shape(capsys):
    tf.print("x:", tf.constant([1, 2]))
    assert capsys.readouterr().out.strip() == "x: [1 2]"
    assert tf.ensure_shape(tf.ones((2, 3)), (None, 3)).shape == (2, 3)
    with pytest.raises(ShapeError, match=r"\(None, 4\).*\(2, 3\)"):
        tf.ensure_shape(tf.ones((2, 3)), (None, 4))


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_tf_name'"):
        tf.not_a_tf_name
    assert tf.keras.layers is not None


def test_clip_by_norm_and_global_norm():
    t = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(t), 1.0).numpy(), t / 5.0)
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(t), 10.0).numpy(), t)
    np.testing.assert_allclose(tf.clip_by_norm(tf.constant(t), 1.0, axes=[1]).numpy(), [[0.6, 0.8], [0.0, 0.0]])
    check_grad(lambda x: tf.clip_by_norm(x, 1.0), t + 0.5)
    grads = [tf.constant([3.0]), None, tf.constant([[4.0]])]
    clipped, norm = tf.clip_by_global_norm(grads, 1.0)
    assert math.isclose(float(norm), 5.0, rel_tol=1e-6) and clipped[1] is None
    np.testing.assert_allclose(clipped[0].numpy(), [0.6], rtol=1e-6)
    np.testing.assert_allclose(clipped[2].numpy(), [[0.8]], rtol=1e-6)
    assert clipped[0].dtype == np.float32
    unchanged, _ = tf.clip_by_global_norm(grads, 10.0)
    np.testing.assert_allclose(unchanged[0].numpy(), [3.0])


def test_tensor_scatter_nd():
    base = np.arange(6.0).reshape(3, 2)
    idx = np.array([[0], [2]])
    upd = np.array([[10.0, 11.0], [12.0, 13.0]])
    out = tf.tensor_scatter_nd_update(tf.constant(base), idx, tf.constant(upd)).numpy()
    np.testing.assert_array_equal(out, [[10, 11], [2, 3], [12, 13]])
    check_grad(lambda b, u: tf.tensor_scatter_nd_update(b, idx, u), base, upd)
    np.testing.assert_array_equal(tf.tensor_scatter_nd_add(tf.constant(base), idx, tf.constant(upd)).numpy(),
                                  base + [[10, 11], [0, 0], [12, 13]])
    check_grad(lambda b, u: tf.tensor_scatter_nd_add(b, idx, u), base, upd)


def test_dataset_zip_enumerate_concatenate_unbatch():
    a = tf.data.Dataset.from_tensor_slices(np.arange(4))
    b = tf.data.Dataset.from_tensor_slices(np.arange(3) * 10)
    z = tf.data.Dataset.zip((a, b))
    assert len(z) == 3 and [(int(x), int(y)) for x, y in z] == [(0, 0), (1, 10), (2, 20)]
    assert [(int(i), int(x)) for i, x in a.enumerate(start=1)][:2] == [(1, 0), (2, 1)]
    c = a.concatenate(b)
    assert len(c) == 7 and [int(x) for x in c] == [0, 1, 2, 3, 0, 10, 20]
    u = tf.data.Dataset.from_tensor_slices((np.arange(6.0).reshape(3, 2), np.arange(3))).batch(2).unbatch()
    rows = list(u)
    assert len(rows) == 3 and rows[2][0].numpy().tolist() == [4.0, 5.0] and int(rows[2][1]) == 2


def test_dataset_repeat_and_take_with_minus_one_follow_tensorflow():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(3))
    assert [int(x) for x in ds.repeat(-1).take(7)] == [0, 1, 2, 0, 1, 2, 0]  # -1: endless, as repeat()
    assert ds.repeat(-1).cardinality() == ds.repeat().cardinality() == -1
    assert [int(x) for x in ds.take(-1)] == [0, 1, 2] and ds.take(-1).cardinality() == 3  # -1: every element


def test_fit_reads_an_endless_dataset_batch_by_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(32, seed=0).batch(8).repeat()
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(ds, epochs=2, steps_per_epoch=6, verbose=0)  # 6 steps > 4 batches: reads into the repeat
    assert len(history.history["loss"]) == 2
    finite = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    assert [int(finite[i][1].shape[0]) for i in (0, 1, 2, 3)] == [8, 8, 8, 8]
    assert float(finite[1][0][0, 0]) == x[8, 0] and float(finite[0][0][0, 0]) == x[0, 0]  # back: a new pass
    with pytest.raises(IndexError):
        finite[4]


def test_dataset_cardinality_tells_endless_from_unknown():
    ds = tf.data.Dataset.range(10)
    endless = ds.repeat()
    assert endless.cardinality() == tf.data.INFINITE_CARDINALITY == -1
    assert endless.batch(4).cardinality() == endless.skip(3).cardinality() == -1
    assert endless.map(lambda i: i).cardinality() == -1
    assert endless.concatenate(ds).cardinality() == -1 and tf.data.Dataset.zip((endless, ds)).cardinality() == 10
    assert endless.take(25).cardinality() == 25 and endless.batch(4).take(3).cardinality() == 3
    assert ds.filter(lambda i: i > 3).cardinality() == tf.data.UNKNOWN_CARDINALITY == -2
    assert ds.repeat(0).cardinality() == 0 and tf.data.Dataset.range(0).repeat().cardinality() == 0
    assert ds.repeat(2).cardinality() == 20 and len(ds.batch(3, drop_remainder=True)) == 3
    with pytest.raises(TypeError, match="infinite cardinality; give steps_per_epoch"):
        len(endless)
    with pytest.raises(TypeError, match="unknown cardinality"):
        len(ds.filter(lambda i: i > 3))
