"""ONNX export: every layer and activation runs in ONNX Runtime (or onnx's reference evaluator) like predict."""

import sys

import numpy as np
import pytest

import ferronet as fn
from ferronet import layers
from ferronet.errors import ArgumentError, FileFormatError

onnx = pytest.importorskip("onnx")


def run_onnx(path, x):
    """Outputs of the exported file: ONNX Runtime when installed, else onnx's reference evaluator."""
    try:
        import onnxruntime as ort
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(str(path)).run(None, {"input": x})[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def randomized(model, rng):
    """The model with random weights (BatchNormalization statistics included, variances positive)."""
    for v in model.weights:
        value = rng.normal(scale=0.5, size=v.shape)
        v.assign(np.abs(value) + 0.5 if v.name == "moving_variance" else value)
    return model


MODELS = {
    "mlp": lambda: fn.Sequential([
        fn.Input((10,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
        layers.Dense(12, activation="gelu"), layers.Dense(8, activation="silu"), layers.BatchNormalization(),
        layers.Dense(6, activation="elu"), layers.Dense(6, activation="softplus"), layers.LeakyReLU(0.2),
        layers.Dense(5, activation="sigmoid", use_bias=False), layers.Activation("tanh"),
        layers.Dense(4, activation="log_softmax")]),
    "cnn_valid": lambda: fn.Sequential([
        fn.Input((12, 10, 3)), layers.Conv2D(4, 3, activation="relu"), layers.BatchNormalization(),
        layers.MaxPooling2D(), layers.Conv2D(5, (2, 3), strides=(1, 2), activation="tanh"),
        layers.AveragePooling2D(pool_size=(2, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")]),
    "cnn_same": lambda: fn.Sequential([
        fn.Input((9, 7, 2)), layers.Conv2D(3, 4, padding="same", strides=2, activation="sigmoid"),
        layers.Conv2D(4, 3, padding="same", dilation_rate=2), layers.LeakyReLU(),
        layers.MaxPooling2D(pool_size=3, strides=2, padding="same"),
        layers.AveragePooling2D(pool_size=2, padding="same"), layers.GlobalAveragePooling2D(), layers.Dense(2)]),
    "global_keepdims": lambda: fn.Sequential([
        fn.Input((6, 6, 2)), layers.Conv2D(3, 3, use_bias=False), layers.GlobalMaxPooling2D(keepdims=True),
        layers.Reshape((-1,)), layers.Softmax()]),
    "rank3": lambda: fn.Sequential([
        fn.Input((5, 4)), layers.Dense(6, activation="relu"), layers.BatchNormalization(),
        layers.Softmax(axis=1), layers.Reshape((3, 10)), layers.Flatten(), layers.Dropout(0.5)]),
    "nested": lambda: fn.Sequential([
        fn.Input((4, 4, 1)), fn.Sequential([layers.Conv2D(2, 2), layers.Activation("relu")]),
        layers.Flatten(), layers.Dense(3)]),
}


@pytest.mark.parametrize("hls4ml", [False, True])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_model_predicts_the_same(tmp_path, rng, name, hls4ml):
    model = randomized(MODELS[name](), rng)
    x = rng.normal(size=(7,) + model.input_shape[1:]).astype(np.float32)
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", verbose=False, hls4ml=hls4ml)
    if hls4ml:  # a batch of one, as hls4ml runs
        got = np.concatenate([run_onnx(path, x[i:i + 1]) for i in range(len(x))])
    else:
        got = run_onnx(path, x)
        np.testing.assert_allclose(run_onnx(path, x[:1]), model.predict(x[:1], verbose=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_graph_shape_opset_and_hls4ml_option(tmp_path, rng, capsys):
    model = randomized(MODELS["cnn_valid"](), rng)
    model.export(tmp_path / "m.onnx")  # format inferred from the name, Keras' default verbose=True
    assert "opset 17" in capsys.readouterr().out
    proto = onnx.load(tmp_path / "m.onnx")
    ops = [n.op_type for n in proto.graph.node]
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert ops.count("Transpose") == 2  # into NCHW before the convolutions, back before Flatten
    assert "Gemm" in ops
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 12, 10, 3]  # channels-last, like predict
    model.export(tmp_path / "h.onnx", format="onnx", verbose=False, hls4ml=True, opset_version=13)
    proto = onnx.load(tmp_path / "h.onnx")
    ops = [n.op_type for n in proto.graph.node]
    assert "Gemm" not in ops and ops.count("MatMul") == 1 and "BatchNormalization" in ops
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == [1, 12, 10, 3]
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [13]


def test_export_refuses_what_it_cannot_write(tmp_path, rng):
    with pytest.raises(ArgumentError, match="must be built"):
        fn.Sequential([layers.Dense(2)]).export(tmp_path / "u.onnx", verbose=False)
    f64 = fn.Sequential([fn.Input((3,), dtype="float64"), layers.Dense(2, dtype="float64")])
    with pytest.raises(ArgumentError, match="float32"):
        f64.export(tmp_path / "d.onnx", verbose=False)
    custom = fn.Sequential([fn.Input((3,)), layers.Dense(2, activation=lambda z: z * 2)])
    with pytest.raises(FileFormatError, match="custom activation"):
        custom.export(tmp_path / "c.onnx", verbose=False)
    model = MODELS["mlp"]()
    with pytest.raises(ArgumentError, match="format='onnx'"):
        model.export(tmp_path / "m.pb", format="tf_saved_model", verbose=False)
    with pytest.raises(ArgumentError, match="opset_version"):
        model.export(tmp_path / "m.onnx", opset_version=9, verbose=False)
    with pytest.raises(ArgumentError, match="input_signature"):
        model.export(tmp_path / "m.onnx", input_signature=[(None, 10)], verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"ferronet\[onnx\]"):
        MODELS["mlp"]().export(tmp_path / "m.onnx", verbose=False)


@pytest.mark.parametrize("name", ["k3_mlp", "k3_cnn", "k3_nested", "k3_zoo", "k2_cnn"])
def test_keras_made_models_run_in_onnx_as_in_keras(tmp_path, name):
    """Keras file -> ferronet -> ONNX gives Keras' own predictions (the fixtures' expected outputs)."""
    pytest.importorskip("h5py")
    import os

    data = os.path.join(os.path.dirname(__file__), "data", "keras")
    model = fn.models.load_model(os.path.join(data, name + (".keras" if name.startswith("k3") else ".h5")),
                                 compile=False)
    with np.load(os.path.join(data, f"{name}.expected.npz")) as npz:
        x, y = npz["x"], npz["y"]
    model.export(tmp_path / "m.onnx", verbose=False)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), y, rtol=1e-5, atol=1e-5)
