"""ONNX export of functional models: merge layers, shared layers, nested models, several inputs and outputs."""

import os

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import FileFormatError

onnx = pytest.importorskip("onnx")

DATA = os.path.join(os.path.dirname(__file__), "data", "keras")


def run_onnx(path, feed):
    """Every output of the exported file for ``{input name: array}``: ONNX Runtime, else onnx's reference."""
    try:
        import onnxruntime as ort
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(str(path)).run(None, feed)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)


def randomized(model, rng):
    for v in model.weights:
        value = rng.normal(scale=0.5, size=v.shape)
        v.assign(np.abs(value) + 0.5 if v.name == "moving_variance" else value)
    return model


def images():
    """Convolutional branches merged element-wise and along the channels while stored NCHW."""
    inputs = fn.Input((6, 6, 2), name="image")
    a = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    b = layers.BatchNormalization()(layers.Conv2D(3, 1)(inputs))
    merged = [layers.Add()([a, b, a]), layers.Subtract()([a, b]), layers.Multiply()([a, b]),
              layers.Average()([a, b]), layers.Maximum()([a, b]), layers.Minimum()([a, b])]
    joined = layers.MaxPooling2D()(layers.Concatenate()(merged + [inputs]))
    flat = layers.Flatten()(joined)
    return fn.Model(inputs, [layers.Dense(3, activation="softmax")(flat), layers.GlobalAveragePooling2D()(joined)])


def shared_and_nested():
    """Two inputs through a shared layer and a nested model, Dot on matrices and on sequences, an input as output."""
    left, right = fn.Input((5,), name="left"), fn.Input((5,), name="right")
    inner_in = fn.Input((5,))
    encoder = fn.Model(inner_in, layers.Dense(4, activation="tanh")(layers.Dense(6)(inner_in)), name="encoder")
    shared = layers.Dense(4, activation="relu", name="shared")
    e1, e2 = shared(encoder(left)), shared(encoder(right))
    head = fn.Sequential([layers.Dense(3), layers.BatchNormalization()], name="head")
    cosine = layers.Dot(axes=1, normalize=True)([e1, e2])
    seq = layers.Reshape((2, 2))(e1)
    pairs = layers.Flatten()(layers.Dot(axes=(2, 2))([seq, layers.Reshape((2, 2))(e2)]))
    scores = head(layers.Concatenate()([e1, e2, cosine, pairs]))
    return fn.Model([left, right], [scores, cosine, scores, right])


def feeds(model, rng, n):
    return {t.name: rng.normal(size=(n,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs}


@pytest.mark.parametrize("hls4ml", [False, True])
@pytest.mark.parametrize("build", [images, shared_and_nested], ids=["images", "shared_and_nested"])
def test_functional_export_predicts_the_same(tmp_path, rng, build, hls4ml):
    model = randomized(build(), rng)
    feed = feeds(model, rng, 1 if hls4ml else 5)
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", verbose=False, hls4ml=hls4ml)
    proto = onnx.load(path)
    assert [i.name for i in proto.graph.input] == [t.name for t in model.inputs]
    assert len(proto.graph.output) == len(model.outputs)
    want = model.predict(list(feed.values()) if len(feed) > 1 else next(iter(feed.values())), verbose=0)
    got = run_onnx(path, feed)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_shared_weights_are_stored_once_and_outputs_are_named(tmp_path, rng):
    model = randomized(shared_and_nested(), rng)
    model.export(tmp_path / "m.onnx", verbose=False)
    proto = onnx.load(tmp_path / "m.onnx")
    kernels = [i.name for i in proto.graph.initializer if i.name.startswith("shared_kernel")]
    assert len(kernels) == 1
    names = [o.name for o in proto.graph.output]
    dot = model.outputs[1]._keras_history[0].name
    # Outputs are named after their layers; the same tensor twice, or an input, gets a distinct name.
    assert names[:2] == ["head", dot] and len(set(names)) == 4 and names[3] != "right"


@pytest.mark.parametrize("name", ["k3_merge_zoo", "k3_siamese", "k3_branches", "k3_dict_io", "k2_merge_zoo",
                                  "k2_siamese", "k2_branches", "k2_dict_io"])
def test_keras_made_graphs_run_in_onnx_as_in_keras(tmp_path, name):
    pytest.importorskip("h5py")
    model = fn.models.load_model(os.path.join(DATA, name + (".keras" if name.startswith("k3") else ".h5")))
    with np.load(os.path.join(DATA, f"{name}.expected.npz")) as npz:
        xs = [npz[k] for k in sorted(npz.files) if k.startswith("x")]
        ys = [npz[k] for k in sorted(npz.files) if k.startswith("y")]
    model.export(tmp_path / "m.onnx", verbose=False)
    got = run_onnx(tmp_path / "m.onnx", {t.name: x for t, x in zip(model.inputs, xs)})
    assert len(got) == len(ys)
    for a, b in zip(got, ys):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_lambda_layers_are_refused(tmp_path):
    inputs = fn.Input((3,))
    model = fn.Model(inputs, layers.Dense(2)(inputs * 2.0))
    with pytest.raises(FileFormatError, match="no rule for layer"):
        model.export(tmp_path / "l.onnx", verbose=False)
    assert not (tmp_path / "l.onnx").exists()
