"""The training plan: graphs of layers run as nodes over slots, checked against the tape and central differences."""

import tracemalloc

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.models.plan import KERNEL, MULTI, TAPE

F64 = dict(dtype="float64")


def _plan_grads(model, x, y):
    """One step of the plan with a zero learning rate: the gradients it leaves in each variable's ``grad``."""
    c = model._step_cache()
    assert c is not None
    model._train_step(c, x, y, None, y)
    return {v.path: v.grad.copy() for v in c.train_vars}


def _tape_grads(model, x, y):
    with fn.GradientTape() as tape:
        loss = model.loss(y, model(x, training=True))
    variables = model.trainable_weights
    return {v.path: np.asarray(g) for v, g in zip(variables, tape.gradient(loss, variables))}


def _assert_plan_matches_tape(model, x, y, kernels=None, rtol=1e-9, atol=1e-11):
    """The plan's gradients equal the tape's; ``kernels`` (a layer class) must all run as kernel nodes."""
    if kernels is not None:
        kinds = [n.kind for n in model._plan().nodes if isinstance(n.layer, kernels)]
        assert kinds and all(k == KERNEL for k in kinds), kinds
    grads = _plan_grads(model, x, y)
    for path, g in _tape_grads(model, x, y).items():
        np.testing.assert_allclose(grads[path], g, rtol=rtol, atol=atol, err_msg=path)
    return grads


def _graph_model():
    inp = fn.Input((6,), **F64)
    shared = layers.Dense(6, activation="tanh", **F64)
    a = shared(inp)
    b = shared(a)  # the same layer twice: its gradients add up
    c = layers.Add(**F64)([a, b, inp])  # inp is read by three nodes
    d = layers.Concatenate(**F64)([c, layers.Multiply(**F64)([a, b])])
    e = layers.LayerNormalization(**F64)(d)  # no kernels: a tape node inside the plan
    left = layers.Dense(8, **F64)(e)
    right = layers.Average(**F64)([layers.Dense(8, **F64)(d), layers.Dense(8, **F64)(inp)])
    out = layers.Dense(3, activation="softmax", **F64)(layers.Subtract(**F64)([left, right]))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    return model


def test_graph_nodes_run_as_kernels_merges_and_tape_nodes():
    kinds = {type(n.layer).__name__: n.kind for n in _graph_model()._plan().nodes}
    assert kinds["Dense"] == KERNEL and kinds["Add"] == MULTI and kinds["Concatenate"] == MULTI
    assert kinds["LayerNormalization"] == TAPE


def test_graph_gradients_match_the_tape_and_central_differences(rng):
    model = _graph_model()
    x, y = rng.normal(size=(5, 6)), rng.integers(0, 3, 5)
    grads = _plan_grads(model, x, y)
    for path, g in _tape_grads(model, x, y).items():
        np.testing.assert_allclose(grads[path], g, rtol=1e-10, atol=1e-12, err_msg=path)
    for v in model.trainable_weights[:2]:  # the shared layer: central differences of the loss
        w = v.value
        num = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + 1e-6
            up = model.evaluate(x, y, batch_size=5, verbose=0)
            w[i] = old - 1e-6
            down = model.evaluate(x, y, batch_size=5, verbose=0)
            w[i] = old
            num[i] = (up - down) / 2e-6
        np.testing.assert_allclose(grads[v.path], num, rtol=1e-5, atol=1e-8, err_msg=v.path)


def _residual_model(dtype="float64", n=2):
    inp = fn.Input((8, 8, 3), dtype=dtype)
    h = layers.Conv2D(4, 3, padding="same", activation="relu", dtype=dtype)(inp)
    for _ in range(n):
        r = layers.Conv2D(4, 3, padding="same", dtype=dtype)(h)
        r = layers.BatchNormalization(dtype=dtype)(r)
        r = layers.Activation("relu", dtype=dtype)(r)
        r = layers.Conv2D(4, 3, padding="same", dtype=dtype)(r)
        h = layers.Activation("relu", dtype=dtype)(layers.Add(dtype=dtype)([h, r]))
    h = layers.MaxPooling2D(dtype=dtype)(h)
    h = layers.GlobalAveragePooling2D(dtype=dtype)(h)
    out = layers.Dense(3, activation="softmax", dtype=dtype)(h)
    return fn.Model(inp, out)


def test_residual_network_gradients_match_the_tape(rng):
    model = _residual_model()
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    x, y = rng.normal(size=(4, 8, 8, 3)), rng.integers(0, 3, 4)
    assert all(n.kind in (KERNEL, MULTI) for n in model._plan().nodes)
    c = model._step_cache()
    assert c.fused and len(c.plan.relu_pool) == 1  # the last ReLU feeds only the max-pool
    grads = _plan_grads(model, x, y)
    # BatchNormalization moved its statistics in the plan's step: compare the tape on a copy of that state.
    for path, g in _tape_grads(model, x, y).items():
        np.testing.assert_allclose(grads[path], g, rtol=1e-8, atol=1e-10, err_msg=path)


def test_decoder_with_transposed_convolutions_runs_as_kernels(rng):
    inp = fn.Input((6, 6, 2), **F64)
    h = layers.Conv2D(3, 3, padding="same", activation="relu", **F64)(inp)
    h = layers.MaxPooling2D(**F64)(h)
    h = layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", **F64)(h)
    h = layers.Conv2DTranspose(3, 2, strides=1, padding="valid", output_padding=None, **F64)(h)
    out = layers.Conv2D(1, 3, padding="same", activation="sigmoid", **F64)(layers.Cropping2D(((1, 0), (0, 1)),
                                                                                            **F64)(h))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="binary_crossentropy")
    x = rng.normal(size=(3, 6, 6, 2))
    y = rng.random((3, 6, 6, 1))
    grads = _assert_plan_matches_tape(model, x, y, layers.Conv2DTranspose)
    v = model.layers[3].kernel  # the strided transposed convolution: central differences of the loss
    w = v.value
    for i in [(0, 0, 0, 0), (1, 2, 3, 1), (2, 1, 2, 2)]:
        old = w[i]
        w[i] = old + 1e-6
        up = model.evaluate(x, y, batch_size=3, verbose=0)
        w[i] = old - 1e-6
        down = model.evaluate(x, y, batch_size=3, verbose=0)
        w[i] = old
        np.testing.assert_allclose(grads[v.path][i], (up - down) / 2e-6, rtol=1e-5, atol=1e-8)


def test_relu_read_twice_is_not_fused_into_the_pool(rng):
    inp = fn.Input((6, 6, 2), **F64)
    h = layers.Conv2D(3, 3, activation="relu", **F64)(inp)
    p = layers.MaxPooling2D(**F64)(h)
    out = layers.Dense(2, activation="softmax", **F64)(layers.Concatenate(**F64)(
        [layers.Flatten(**F64)(p), layers.GlobalMaxPooling2D(**F64)(h)]))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    x, y = rng.normal(size=(3, 6, 6, 2)), rng.integers(0, 2, 3)
    assert model._step_cache().plan.relu_pool == []
    grads = _plan_grads(model, x, y)
    for path, g in _tape_grads(model, x, y).items():
        np.testing.assert_allclose(grads[path], g, rtol=1e-10, atol=1e-12, err_msg=path)


def test_nested_frozen_model_is_inlined_and_left_alone(rng):
    base = fn.Sequential([fn.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(8, activation="relu")])
    base.trainable = False
    inp = fn.Input((5,))
    out = layers.Dense(2, activation="softmax")(base(inp))
    model = fn.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    plan = model._plan()
    assert [type(n.layer).__name__ for n in plan.nodes] == ["Dense", "Dense", "Dense"]
    before = base.get_weights()
    model.fit(rng.normal(size=(64, 5)).astype(np.float32), rng.integers(0, 2, 64), epochs=2, verbose=0)
    for a, b in zip(before, base.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [n.back for n in plan.nodes] == [False, False, True]  # no backward through the frozen part
    assert len(model._step_cache().adam) == 1  # the head's kernel takes its Adam step inside the gradient


def test_several_inputs_and_a_training_flag_fixed_at_the_call(rng):
    a, b = fn.Input((4,), name="a"), fn.Input((3,), name="b")
    h = layers.Concatenate()([layers.Dense(5, activation="relu")(a), b])
    h = layers.Dropout(0.5, seed=1)(h, training=True)  # Monte Carlo dropout: active in predict too
    out = layers.Dense(1)(h)
    model = fn.Model([a, b], out)
    model.compile(optimizer="adam", loss="mse")
    xa, xb = rng.normal(size=(32, 4)).astype(np.float32), rng.normal(size=(32, 3)).astype(np.float32)
    hist = model.fit([xa, xb], xa[:, :1], epochs=3, batch_size=8, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    assert model._step_cache() is not None
    p1, p2 = model.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)
    assert p1.shape == (32, 1) and not np.array_equal(p1, p2)


def test_functional_plan_step_allocates_nothing_in_steady_state(rng):
    model = _residual_model("float32", n=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(256, 8, 8, 3)).astype(np.float32)
    y = rng.integers(0, 3, 256)
    model.fit(x, y, epochs=1, batch_size=128, verbose=0)
    c = model._step_cache()
    xb, yb = np.ascontiguousarray(x[:128]), y[:128].astype(np.int64)
    model._train_step(c, xb, yb, None, yb)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            model._train_step(c, xb, yb, None, yb)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # One activation buffer is 128 * 8 * 8 * 4 * 4 = 128 KB; the step's Python objects (logs, states) come to
    # 10-25 KB depending on when the garbage collector runs, so the bound sits between the two.
    assert peak < 64_000, peak


def test_plan_matches_the_tape_step_after_training(rng):
    """The same model trained by the plan and by Keras' default train_step through the tape ends alike."""
    x = rng.normal(size=(48, 8, 8, 3)).astype(np.float64)
    y = rng.integers(0, 3, 48)
    models = []
    for use_plan in (True, False):
        fn.utils.set_random_seed(3)
        model = _residual_model(n=1)
        model.compile(optimizer=fn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        if not use_plan:
            model._plan_cache = (model._plan_key(), None)  # no plan: the tape runs every step
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        models.append(model)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _two_output_model(seed):
    fn.utils.set_random_seed(seed)
    inp = fn.Input((6,), name="features")
    h = layers.Dense(12, activation="relu")(inp)
    kind = layers.Dense(3, activation="softmax", name="kind")(h)
    energy = layers.Dense(1, name="energy")(layers.Concatenate()([h, kind]))  # reads the first output too
    model = fn.Model(inp, [kind, energy])
    model.compile(optimizer=fn.optimizers.Adam(0.01),
                  loss={"kind": "sparse_categorical_crossentropy", "energy": "mse"},
                  loss_weights={"kind": 1.0, "energy": 0.5}, metrics={"kind": ["accuracy"], "energy": ["mae"]})
    return model


def test_several_outputs_train_through_the_plan_as_through_the_tape(rng):
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = {"kind": rng.integers(0, 3, 64), "energy": rng.normal(size=(64, 1)).astype(np.float32)}
    histories, weights = [], []
    for use_plan in (True, False):
        model = _two_output_model(5)
        if use_plan:
            c = model._step_cache()
            assert c is not None and [o[3] for o in c.outputs] == [False, False]  # kind is read by energy too
        else:
            model._plan_cache = (model._plan_key(), None)
        hist = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_split=0.25)
        histories.append(hist.history)
        weights.append(model.get_weights())
    assert sorted(histories[0]) == sorted(histories[1])
    for key in histories[0]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=2e-5, atol=1e-6, err_msg=key)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_several_outputs_fuse_each_softmax_with_its_loss(rng):
    inp = fn.Input((5,), **F64)
    h = layers.Dense(8, activation="tanh", **F64)(inp)
    a = layers.Dense(3, activation="softmax", name="a", **F64)(h)
    b = layers.Dense(1, activation="sigmoid", name="b", **F64)(h)
    model = fn.Model(inp, [a, b])
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss=["sparse_categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[0.3, 2.0])
    c = model._step_cache()
    assert [o[3] for o in c.outputs] == [True, True]
    x, ya, yb = rng.normal(size=(7, 5)), rng.integers(0, 3, 7), rng.integers(0, 2, (7, 1)).astype(np.float64)
    model.train_on_batch(x, [ya, yb])
    plan_grads = {v.path: v.grad.copy() for v in c.train_vars}
    with fn.GradientTape() as tape:
        pa, pb = model(x, training=True)
        loss = 0.3 * fn.losses.SparseCategoricalCrossentropy()(ya, pa) + 2.0 * fn.losses.BinaryCrossentropy()(yb, pb)
    for v, g in zip(c.train_vars, tape.gradient(loss, c.train_vars)):
        np.testing.assert_allclose(plan_grads[v.path], g, rtol=1e-9, atol=1e-12, err_msg=v.path)


@pytest.mark.parametrize("use_plan", [True, False])
def test_several_inputs_one_output_with_sequence_targets(rng, use_plan):
    a, b = fn.Input((4, 3), name="a"), fn.Input((4, 2), name="b")
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    model = fn.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    if not use_plan:
        model._plan_cache = (model._plan_key(), None)
    xa, xb = rng.normal(size=(8, 4, 3)), rng.normal(size=(8, 4, 2))
    hist = model.fit([xa, xb], rng.normal(size=(8, 4, 1)), epochs=2, batch_size=4, verbose=0)
    assert sorted(hist.history) == ["loss", "mae"] and np.isfinite(hist.history["loss"]).all()


def test_a_user_layer_with_its_own_backward_called_twice_takes_the_tape():
    class Double(layers.Layer):  # ferronet's original custom-layer API: state kept on the layer between calls
        def call(self, inputs, training=False):
            return inputs * 2.0

        def backward(self, dy, need_dx=True):
            return dy * 2.0 if need_dx else None

    inp = fn.Input((3,))
    twice = Double()
    once = fn.Model(inp, layers.Dense(1)(Double()(inp)))
    shared = fn.Model(inp, layers.Dense(1)(twice(twice(inp))))
    assert once._plan() is not None and shared._plan() is None


@pytest.mark.parametrize("padding,strides,dilation", [("causal", 1, 2), ("same", 2, 1), ("valid", 1, 1)])
def test_conv1d_runs_as_a_kernel_node(rng, padding, strides, dilation):
    inp = fn.Input((12, 3), **F64)
    h = layers.Conv1D(4, 3, padding=padding, strides=strides, dilation_rate=dilation, activation="tanh", **F64)(inp)
    h = layers.Conv1D(2, 2, padding="causal", **F64)(h)
    out = layers.Dense(1, activation="sigmoid", **F64)(layers.GlobalAveragePooling1D(**F64)(h))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="binary_crossentropy")
    x, y = rng.normal(size=(4, 12, 3)), rng.integers(0, 2, (4, 1)).astype(np.float64)
    _assert_plan_matches_tape(model, x, y, layers.Conv1D)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x)), rtol=1e-12)


def test_depthwise_conv2d_runs_as_a_kernel_node(rng):
    inp = fn.Input((7, 7, 3), **F64)
    h = layers.Conv2D(4, 1, **F64)(inp)
    h = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu", **F64)(h)
    h = layers.DepthwiseConv2D(2, strides=2, use_bias=False, **F64)(h)
    out = layers.Dense(3, activation="softmax", **F64)(layers.GlobalAveragePooling2D(**F64)(h))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    _assert_plan_matches_tape(model, rng.normal(size=(3, 7, 7, 3)), rng.integers(0, 3, 3), layers.DepthwiseConv2D)


def test_several_outputs_predict_through_the_plan(rng, monkeypatch):
    a, b = fn.Input((5,), name="a"), fn.Input((3,), name="b")
    h = layers.Dense(8, activation="relu")(layers.Concatenate()([a, b]))
    cls = layers.Dense(4, activation="softmax", name="cls")(h)
    flag = layers.Dense(1, activation="sigmoid", name="flag")(h)
    reg = layers.Dense(2, name="reg")(h)
    model = fn.Model([a, b], [cls, flag, reg])
    model.compile("adam", ["sparse_categorical_crossentropy", "binary_crossentropy", "mse"])
    xa, xb = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(37, 3)).astype(np.float32)
    ys = [rng.integers(0, 4, 37), rng.integers(0, 2, (37, 1)).astype(np.float32), rng.normal(size=(37, 2))]
    model.fit([xa, xb], ys, epochs=1, batch_size=8, verbose=0)  # fuses softmax and sigmoid with their losses
    want = [np.asarray(t) for t in model([xa, xb])]

    from ferronet.models import steps

    monkeypatch.setattr(steps, "predict_array", lambda *a, **k: pytest.fail("predict went through the tape"))
    got = model.predict({"a": xa, "b": xb}, batch_size=8, verbose=0)
    assert [g.shape for g in got] == [(37, 4), (37, 1), (37, 2)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[0].sum(axis=1), 1.0, rtol=1e-5)  # softmax applied outside the fused node


def test_separable_conv2d_runs_as_a_kernel_node(rng):
    inp = fn.Input((8, 8, 3), **F64)
    h = layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu", **F64)(inp)
    h = layers.SeparableConv2D(5, 3, strides=2, use_bias=False, **F64)(h)
    out = layers.Dense(3, activation="softmax", **F64)(layers.GlobalAveragePooling2D(**F64)(h))
    model = fn.Model(inp, out)
    model.compile(optimizer=fn.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    _assert_plan_matches_tape(model, rng.normal(size=(3, 8, 8, 3)), rng.integers(0, 3, 3), layers.SeparableConv2D)
