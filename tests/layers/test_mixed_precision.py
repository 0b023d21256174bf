"""``mixed_bfloat16``: the policy API, configs, and layers against NumPy on bfloat16-rounded operands.

Each product of a mixed layer is checked two ways: against NumPy's float64
product of the bfloat16-rounded operands, within the float32-sum bound
``(k + 2)·eps32·Σ|products|`` (what the kernels guarantee on AMX and on the
float32 fallback), and against the float32 layer, within bfloat16's rounding
(``2^-7·Σ|products|``: each operand's rounding changes it by at most ``2^-8``, half a unit in the
last of bfloat16's 8 significant bits).
"""

import json

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers as L
from ferronet import mixed_precision as mp
from tests.ops.test_bfloat16 import EPS, bf16, check

BF16_REL = 2.0**-7 * 1.01


@pytest.fixture(autouse=True)
def _float32_policy():
    yield
    mp.set_global_policy(None)


def close_to_float32(got, ref, bound, k):
    err = np.abs(np.asarray(got, np.float64) - ref)
    assert np.all(err <= (BF16_REL + (k + 4) * EPS) * bound + 1e-30), f"max error {err.max()}"


def test_policy_names_and_dtypes():
    p = mp.Policy("mixed_bfloat16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert mp.DTypePolicy is mp.Policy and repr(p) == '<DTypePolicy "mixed_bfloat16">'
    assert (mp.Policy("float64").compute_dtype, mp.Policy("float64").variable_dtype) == ("float64", "float64")
    assert mp.Policy("float32") == mp.Policy(None) and mp.Policy.from_config(p.get_config()) == p
    assert fn.keras.mixed_precision is mp and fn.mixed_precision is mp


@pytest.mark.parametrize("name,why", [("bfloat16", "NumPy has no type"), ("mixed_float16", "no float16 kernels"),
                                      ("float16", "no float16 kernels"), ("int32", "Unknown dtype policy"),
                                      ("mixed_bf16", "Unknown dtype policy")])
def test_unsupported_policies_say_why(name, why):
    with pytest.raises(fn.ArgumentError, match=why) as e:
        mp.Policy(name)
    assert f"Received: name={name!r}" in str(e.value)
    with pytest.raises(ValueError, match=why):
        L.Dense(3, dtype=name)


def test_global_policy_sets_new_layers_only():
    before = L.Dense(2)
    mp.set_global_policy("mixed_bfloat16")
    assert mp.global_policy().name == "mixed_bfloat16" and mp.dtype_policy() is mp.global_policy()
    after = L.Dense(2)
    assert before.dtype_policy.name == "float32" and after.dtype_policy.name == "mixed_bfloat16"
    assert (after.compute_dtype, after.variable_dtype, after.dtype) == ("bfloat16", "float32", "float32")
    assert L.Dense(2, dtype="float32").compute_dtype == "float32"  # an explicit dtype wins
    mp.set_dtype_policy(mp.Policy("float32"))
    assert L.Dense(2).compute_dtype == "float32"
    mp.set_global_policy(None)
    fn.keras.backend.set_floatx("float64")
    try:
        assert mp.global_policy().name == "float64" and L.Dense(2).dtype == "float64"
    finally:
        fn.keras.backend.set_floatx("float32")


def test_weights_and_optimizer_slots_stay_float32():
    x = np.random.default_rng(0).standard_normal((16, 5)).astype(np.float32)
    model = fn.Sequential([fn.Input((5,)), L.Dense(8, activation="relu", dtype="mixed_bfloat16"),
                           L.Dense(1, dtype=mp.Policy("mixed_bfloat16"))])
    model.compile("adam", "mse")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    slots = model.optimizer._slots
    assert slots and all(a.dtype == np.float32 for s in slots.values() for a in s.values() if hasattr(a, "dtype"))
    assert model.predict(x, verbose=0).dtype == np.float32


def test_config_round_trip(tmp_path):
    for layer in (L.Dense(3, dtype="mixed_bfloat16"), L.Conv2D(4, 3, dtype=mp.Policy("mixed_bfloat16")),
                  L.Conv1D(4, 3, dtype="mixed_bfloat16"), L.Conv2DTranspose(2, 3, dtype="mixed_bfloat16")):
        config = layer.get_config()
        assert config["dtype"] == "mixed_bfloat16"
        json.dumps(config)
        again = type(layer).from_config(config)
        assert again.dtype_policy == layer.dtype_policy and again.compute_dtype == "bfloat16"
    # Keras 3.4+ writes the policy as an object
    keras_style = dict(L.Dense(3).get_config(), dtype={"module": "keras", "class_name": "DTypePolicy",
                                                       "config": {"name": "mixed_bfloat16"}, "registered_name": None})
    assert L.Dense.from_config(keras_style).compute_dtype == "bfloat16"
    model = fn.Sequential([fn.Input((4,)), L.Dense(3, dtype="mixed_bfloat16"), L.Dense(2)])
    model.save(tmp_path / "m.ferronet")
    loaded = fn.models.load_model(tmp_path / "m.ferronet")
    assert [layer.dtype_policy.name for layer in loaded.layers] == ["mixed_bfloat16", "float32"]
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def _dense_pair(rng, units=33, k=70, activation=None):
    x = rng.standard_normal((19, k)).astype(np.float32)
    mixed = L.Dense(units, activation=activation, dtype="mixed_bfloat16")
    plain = L.Dense(units, activation=activation)
    mixed(x[:1]), plain(x[:1])
    plain.set_weights(mixed.get_weights())
    mixed.bias.assign(rng.standard_normal(units).astype(np.float32))
    plain.bias.assign(mixed.bias.numpy())
    return x, mixed, plain


def test_dense_forward_matches_rounded_numpy_and_float32(rng):
    x, mixed, plain = _dense_pair(rng)
    w, b = mixed.kernel.numpy(), mixed.bias.numpy()
    rx, rw = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    bound = np.abs(rx) @ np.abs(rw) + np.abs(b)
    for y in (mixed(x).numpy(), mixed.call(x, False).copy()):  # the tape path and the chain step's path
        check(y, None, None, 70, want=rx @ rw + b, bound=bound)
        close_to_float32(y, x.astype(np.float64) @ w + b, np.abs(x) @ np.abs(w) + np.abs(b), 70)
    assert not np.array_equal(mixed(x).numpy(), plain(x).numpy())


def test_dense_gradients_tape_and_chain(rng):
    from ferronet.tensor import reduce_ops as R

    x, mixed, _ = _dense_pair(rng)
    g = rng.standard_normal((19, 33)).astype(np.float32)
    xt = fn.constant(x)
    with fn.GradientTape() as tape:
        tape.watch(xt)
        loss = R.reduce_sum(mixed(xt) * g)
    dx, dw, db = tape.gradient(loss, [xt, mixed.kernel, mixed.bias])
    mixed.call(x, True)
    mixed.kernel.grad[...] = 0
    chain_dx = mixed.backward(g, need_dx=True).copy()
    chain_dw = mixed.kernel.grad.copy()
    w = mixed.kernel.numpy()
    for gx, gw in ((np.asarray(dx), np.asarray(dw)), (chain_dx, chain_dw)):
        check(gx, g, w.T, 33)
        check(gw, x.T, g, 19)
        close_to_float32(gx, g.astype(np.float64) @ w.T, np.abs(g) @ np.abs(w.T), 33)
        close_to_float32(gw, x.T.astype(np.float64) @ g, np.abs(x.T) @ np.abs(g), 19)
    np.testing.assert_allclose(np.asarray(db), g.sum(0), rtol=1e-5, atol=1e-5)


def test_dense_under_mixed_bfloat16_skips_the_fused_adam_kernel():
    assert L.Dense(2)._fusable_adam and not L.Dense(2, dtype="mixed_bfloat16")._fusable_adam


def _conv_reference(x, w, pad):
    from ferronet import _bench

    rx, rw = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    want, cols = _bench.numpy_conv2d(rx, rw, padding=pad)
    bound, _ = _bench.numpy_conv2d(np.abs(rx), np.abs(rw), padding=pad)
    return want, bound, cols


@pytest.mark.parametrize("pad", ["valid", "same"])
def test_conv2d_forward_and_gradients(rng, pad):
    from ferronet import _bench
    from ferronet.tensor import reduce_ops as R

    x = rng.standard_normal((3, 9, 9, 12)).astype(np.float32)
    conv = L.Conv2D(16, 3, padding=pad, use_bias=False, dtype="mixed_bfloat16")
    conv(x[:1])
    w = conv.kernel.numpy()
    want, bound, cols = _conv_reference(x, w, pad)
    taps = 3 * 3 * 12
    y_chain = conv.call(x, True).copy()
    xt = fn.constant(x)
    g = rng.standard_normal(want.shape).astype(np.float32)
    with fn.GradientTape() as tape:
        tape.watch(xt)
        y = conv(xt)
        loss = R.reduce_sum(y * g)
    dx, dw = tape.gradient(loss, [xt, conv.kernel])
    for out in (y.numpy(), y_chain):
        check(out, None, None, taps, want=want, bound=bound)
        f32, f32_bound = _bench.numpy_conv2d(x.astype(np.float64), w.astype(np.float64), padding=pad)[0], \
            _bench.numpy_conv2d(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64), padding=pad)[0]
        close_to_float32(out, f32, f32_bound, taps)
    conv.kernel.grad[...] = 0
    chain_dx = conv.backward(g, need_dx=True).copy()
    rx, rw, rg = (bf16(a).astype(np.float64) for a in (x, w, g))
    want_dx, want_dw, _ = _bench.numpy_conv2d_backward(rg, rx, rw, cols, padding=pad)
    _, acols = _bench.numpy_conv2d(np.abs(rx), np.abs(rw), padding=pad)
    bound_dx, bound_dw, _ = _bench.numpy_conv2d_backward(np.abs(rg), rx, np.abs(rw), acols, padding=pad)
    for gx, gw in ((np.asarray(dx), np.asarray(dw)), (chain_dx, conv.kernel.grad)):
        check(gx, None, None, 16 * 9, want=want_dx, bound=bound_dx)
        check(gw, None, None, int(np.prod(want.shape[:3])), want=want_dw, bound=bound_dw)


def test_conv1d_and_transpose_use_bfloat16_products(rng):
    x = rng.standard_normal((2, 20, 6)).astype(np.float32)
    mixed, plain = L.Conv1D(5, 3, dtype="mixed_bfloat16"), L.Conv1D(5, 3)
    mixed(x), plain(x)
    plain.set_weights(mixed.get_weights())
    w = mixed.kernel.numpy()
    rx, rw = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    want = sum(rx[:, i:i + 18] @ rw[i] for i in range(3))
    bound = sum(np.abs(rx[:, i:i + 18]) @ np.abs(rw[i]) for i in range(3))
    check(mixed(x).numpy(), None, None, 18, want=want, bound=bound)
    assert not np.array_equal(mixed(x).numpy(), plain(x).numpy())
    xi = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
    tm, tp = L.Conv2DTranspose(3, 3, strides=2, dtype="mixed_bfloat16"), L.Conv2DTranspose(3, 3, strides=2)
    tm(xi), tp(xi)
    tp.set_weights(tm.get_weights())
    # a transposed convolution with a one-hot input copies the (rounded) kernel into its output
    one = np.zeros((1, 5, 5, 4), np.float32)
    one[0, 0, 0, 1] = 1.0
    assert np.array_equal(tm(one).numpy()[0, :3, :3, :], bf16(tm.kernel.numpy()[:, :, :, 1]))
    ref = tp(xi).numpy().astype(np.float64)
    tp.set_weights([np.abs(w) for w in tm.get_weights()])
    close_to_float32(tm(xi).numpy(), ref, tp(np.abs(xi)).numpy().astype(np.float64), 36)


@pytest.mark.skipif(not fn.amx(), reason="AMX not in use on this machine")
def test_fallback_without_amx_rounds_the_same(rng):
    """``FERRONET_SIMD=<vector path>`` turns AMX off: the float32 kernels then multiply the rounded operands."""
    x, mixed, _ = _dense_pair(rng)
    w, b = mixed.kernel.numpy(), mixed.bias.numpy()
    rx, rw = bf16(x).astype(np.float64), bf16(w).astype(np.float64)
    on = mixed(x).numpy()
    isa = fn.simd()
    try:
        assert fn._core.set_simd(isa) == isa and not fn.amx()
        off, off_chain = mixed(x).numpy(), mixed.call(x, False).copy()
    finally:
        assert fn._core.set_simd("amx") == "amx"
    for y in (on, off, off_chain):
        check(y, None, None, 70, want=rx @ rw + b, bound=np.abs(rx) @ np.abs(rw) + np.abs(b))


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split((x / 16).astype(np.float32), y, test_size=0.3, random_state=0)


def _digits_accuracy(policy, cnn):
    xtr, xte, ytr, yte = _digits()
    fn.utils.set_random_seed(0)
    if cnn:
        xtr, xte = xtr.reshape(-1, 8, 8, 1), xte.reshape(-1, 8, 8, 1)
        body = [fn.Input((8, 8, 1)), L.Conv2D(16, 3, activation="relu", padding="same", dtype=policy),
                L.MaxPooling2D(), L.Conv2D(32, 3, activation="relu", padding="same", dtype=policy), L.Flatten()]
    else:
        body = [fn.Input((64,)), L.Dense(128, activation="relu", dtype=policy),
                L.Dense(64, activation="relu", dtype=policy)]
    model = fn.Sequential(body + [L.Dense(10, activation="softmax", dtype=policy)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr, ytr, epochs=20, batch_size=32, verbose=0)
    return model.evaluate(xte, yte, verbose=0)[1]


@pytest.mark.parametrize("cnn", [False, True], ids=["mlp", "cnn"])
def test_digits_accuracy_matches_float32(cnn):
    f32 = _digits_accuracy("float32", cnn)
    mixed = _digits_accuracy("mixed_bfloat16", cnn)
    assert f32 > 0.95 and abs(mixed - f32) <= 0.005, (f32, mixed)
