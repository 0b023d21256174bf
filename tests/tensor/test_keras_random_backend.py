"""``keras.random`` (seeds, SeedGenerator, distributions) and ``keras.backend`` helpers."""

import numpy as np
import pytest

import ferronet as fn
from ferronet import keras
from ferronet.errors import ShapeError
from ferronet.keras import backend, random
from ferronet.tensor import GradientTape


def test_distributions_shapes_dtypes_and_moments():
    n = random.normal((20000,), mean=2.0, stddev=0.5, seed=1)
    assert isinstance(n, fn.Tensor) and n.dtype == np.float32 and n.shape == (20000,)
    assert abs(float(n.numpy().mean()) - 2.0) < 0.02 and abs(float(n.numpy().std()) - 0.5) < 0.02
    u = random.uniform((2, 5000), minval=-1.0, maxval=3.0, dtype="float64", seed=2)
    assert u.dtype == np.float64 and -1 <= u.numpy().min() and u.numpy().max() < 3
    assert abs(u.numpy().mean() - 1.0) < 0.05
    t = random.truncated_normal((5000,), stddev=2.0, seed=3).numpy()
    assert np.abs(t).max() <= 4.0 and abs(t.std() - 2 * 0.8796) < 0.1  # std of a normal truncated at 2 sigma
    r = random.randint((1000,), 2, 5, seed=4)
    assert r.dtype == np.int32 and set(np.unique(r.numpy())) == {2, 3, 4}
    g = random.gamma((4000,), alpha=3.0, seed=5).numpy()
    assert abs(g.mean() - 3.0) < 0.15
    b = random.binomial((4000,), counts=10, probabilities=0.3, seed=6).numpy()
    assert abs(b.mean() - 3.0) < 0.15 and b.dtype == np.float32
    be = random.beta((4000,), alpha=2.0, beta=2.0, seed=7).numpy()
    assert abs(be.mean() - 0.5) < 0.02
    c = random.categorical(np.log([[0.1, 0.9]]), 2000, seed=8)
    assert c.dtype == np.int32 and c.shape == (1, 2000) and abs(c.numpy().mean() - 0.9) < 0.03


def test_dtype_errors():
    with pytest.raises(ValueError, match="floats"):
        random.normal((2,), dtype="int32")
    with pytest.raises(ValueError, match="integers"):
        random.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="minval < maxval"):
        random.randint((2,), 3, 3)


def test_seeds_int_and_seed_generator():
    assert random.normal((3,), seed=5).numpy().tolist() == random.normal((3,), seed=5).numpy().tolist()
    g1, g2 = random.SeedGenerator(42), random.SeedGenerator(42)
    a1, b1 = random.uniform((3,), seed=g1).numpy(), random.uniform((3,), seed=g1).numpy()
    a2, b2 = random.uniform((3,), seed=g2).numpy(), random.uniform((3,), seed=g2).numpy()
    assert a1.tolist() == a2.tolist() and b1.tolist() == b2.tolist() and a1.tolist() != b1.tolist()
    keras.utils.set_random_seed(7)
    x = random.normal((3,)).numpy()
    keras.utils.set_random_seed(7)
    assert random.normal((3,)).numpy().tolist() == x.tolist()


def test_floatx_default():
    try:
        backend.set_floatx("float64")
        assert random.normal((2,)).dtype == np.float64 and random.uniform((2,)).dtype == np.float64
    finally:
        backend.set_floatx("float32")


def test_shuffle_and_dropout():
    x = np.arange(12).reshape(6, 2)
    s = random.shuffle(x, seed=1).numpy()
    assert sorted(s[:, 0].tolist()) == x[:, 0].tolist() and (s[:, 1] - s[:, 0] == 1).all()
    s1 = random.shuffle(x, axis=1, seed=1).numpy()
    assert sorted(s1[0].tolist()) == [0, 1]
    assert x.tolist() == np.arange(12).reshape(6, 2).tolist()  # the input is not modified
    ones = fn.constant(np.ones((100, 100), np.float32))
    d = random.dropout(ones, 0.3, seed=3).numpy()
    assert set(np.unique(d)) <= {0.0, np.float32(1 / 0.7)} and abs((d == 0).mean() - 0.3) < 0.02
    dn = random.dropout(ones, 0.5, noise_shape=(1, 100), seed=3).numpy()
    assert (dn == dn[0]).all()  # one mask row broadcast over the batch
    w = fn.constant(np.linspace(1, 2, 10))
    with GradientTape() as tape:
        tape.watch(w)
        y = fn.reduce_sum(random.dropout(w, 0.5, seed=9))
    g = tape.gradient(y, w).numpy()
    mask = random.dropout(fn.constant(np.ones(10)), 0.5, seed=9).numpy()
    np.testing.assert_allclose(g, mask)


def test_backend_floatx_epsilon():
    assert backend.floatx() == "float32" and backend.epsilon() == 1e-7
    try:
        backend.set_floatx(np.float64)
        assert backend.floatx() == "float64"
        with pytest.raises(ValueError, match="int32"):
            backend.set_floatx("int32")
        backend.set_epsilon(1e-5)
        assert backend.epsilon() == 1e-5
        clipped = keras.ops.binary_crossentropy(np.array([1.0]), np.array([0.0])).numpy()
        np.testing.assert_allclose(clipped, [-np.log(1e-5)], rtol=1e-6)
    finally:
        backend.set_floatx("float32")
        backend.set_epsilon(1e-7)
    assert backend.floatx() == "float32"


def test_backend_values():
    v = fn.Variable(np.zeros((2, 2)), name="k", path="layer/k")
    backend.set_value(v, np.ones((2, 2)))
    got = backend.get_value(v)
    assert isinstance(got, np.ndarray) and got.tolist() == [[1, 1], [1, 1]]
    got[0, 0] = 5
    assert v.numpy()[0, 0] == 1  # get_value is a copy
    with pytest.raises(ShapeError, match="'layer/k'"):
        backend.set_value(v, np.ones(3))
    with pytest.raises(TypeError, match="variable"):
        backend.set_value(fn.constant(1.0), 2.0)
    assert backend.get_value(fn.constant([1, 2])).tolist() == [1, 2]
    assert backend.get_value(np.array([3])).tolist() == [3]
    backend.batch_set_value([(v, np.full((2, 2), 2.0))])
    assert backend.batch_get_value([v])[0].tolist() == [[2, 2], [2, 2]]
    assert backend.int_shape(v) == (2, 2) and backend.int_shape(np.ones(3)) == (3,)


def test_backend_misc():
    assert backend.image_data_format() == "channels_last"
    backend.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="channels_last"):
        backend.set_image_data_format("channels_first")
    assert backend.backend() == "ferronet"
    assert backend.standardize_dtype(np.float32) == "float32" and backend.standardize_dtype(fn.float64) == "float64"
    assert backend.is_float_dtype("float16") and backend.is_int_dtype(np.int8) and not backend.is_int_dtype("float32")


def test_clear_session_resets_layer_names():
    backend.clear_session()
    a = keras.layers.Dense(2)
    backend.clear_session(free_memory=True)
    b = keras.layers.Dense(2)
    assert a.name == b.name == "dense"


def test_unseeded_seed_generator_follows_the_global_seed():
    keras.utils.set_random_seed(11)
    a = random.normal((3,), seed=random.SeedGenerator()).numpy()
    keras.utils.set_random_seed(11)
    b = random.normal((3,), seed=random.SeedGenerator()).numpy()
    assert a.tolist() == b.tolist()
