"""ONNX export: ``model.export("model.onnx", format="onnx")`` through the ``onnx`` package (the ``onnx`` extra).

The graph takes and returns what ``model.predict`` does: float32 arrays,
images channels-last (NHWC), a free batch dimension named ``batch``. ONNX's
convolution and pooling operators work on NCHW tensors, so the exporter
transposes into NCHW before a run of convolution/pooling/normalization
layers and back after it (one pair per run, not per layer); Dense kernels
keep Keras' ``(in, out)`` layout. Default opset: 17 (ONNX 1.12, ONNX Runtime
1.12 and later); ``opset_version`` may go from 13 to the installed onnx's.

``hls4ml=True`` shapes the graph for hls4ml's ONNX frontend: every Dense is a
``MatMul`` followed by an ``Add`` (hls4ml parses those, not ``Gemm``),
BatchNormalization stays a ``BatchNormalization`` node, and the batch
dimension is fixed to 1 (hls4ml and qonnx work sample by sample, on static
shapes). The model input is channels-last either way; for convolutional
models run qonnx's cleanup and channels-last conversion (``qonnx_clean``,
``qonnx_to_channels_last``) as hls4ml's documentation says: it folds the
exporter's transposes into channels-last convolutions.

Layer to operator: Dense -> Gemm (2-D input) or MatMul+Add; Conv2D -> Conv;
MaxPooling2D -> MaxPool; AveragePooling2D -> AveragePool (padding cells not
counted, as Keras); GlobalAverage/MaxPooling2D -> GlobalAveragePool/
GlobalMaxPool; BatchNormalization -> BatchNormalization (rank 2 and 4) or
Mul+Add; Flatten -> Flatten; Reshape -> Reshape; Dropout -> nothing;
activations -> Relu, Sigmoid, Tanh, Softmax, LogSoftmax, LeakyRelu, Elu,
Softplus, Erf-based GELU, x*Sigmoid(x) for SiLU.

Functional models become the same graph: each input is a graph input named
like the model's input (``model.inputs[i].name``) and each output a graph
output named after the layer producing it (``<layer>_<i>`` when a layer gives
several); a shared layer's weights are stored once. Merge layers: Add ->
Add, Subtract -> Sub, Multiply -> Mul, Average -> Add then Div, Maximum ->
Max, Minimum -> Min, Concatenate -> Concat (on NCHW tensors when its inputs
are images stored NCHW), Dot -> Mul+ReduceSum on matrices (MatMul with
Transposes otherwise), with ``normalize`` as an L2 normalization (x times
1/sqrt(max(sum(x^2), 1e-12))). Nested functional and Sequential models are
inlined. Lambda layers (and tensor expressions on symbolic inputs) hold
Python code and cannot be exported.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import ArgumentError, FileFormatError

__all__ = ["export", "to_onnx", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17
_MIN_OPSET = 13
_SPATIAL = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'ferronet[onnx]' (or pip install onnx). "
                          "Received: no module named 'onnx'") from None
    return onnx


class _Graph:
    """Nodes and initializers under construction, with unique tensor names."""

    def __init__(self, onnx, hls4ml):
        self.onnx, self.hls4ml = onnx, hls4ml
        self.nodes, self.inits, self._count = [], [], 0
        self.reserved = set()  # graph input names, never given to an inner tensor
        self._weights = {}

    def name(self, hint):
        self._count += 1
        while f"{hint}_{self._count}" in self.reserved:
            self._count += 1
        return f"{hint}_{self._count}"

    def taken(self, name):
        return name in self.reserved or any(name in n.output for n in self.nodes) or any(
            name == i.name for i in self.inits)

    def const(self, hint, array, dtype=np.float32):
        name = self.name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def weight(self, layer, hint, array, dtype=np.float32):
        """A layer's constant, stored once however often the layer is called (shared layers)."""
        key = (id(layer), hint)
        if key not in self._weights:
            self._weights[key] = self.const(hint, array, dtype)
        return self._weights[key]

    def node(self, op, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out


class _Tensor:
    """A value in the graph: its name, the Keras (NHWC) shape, and whether it is currently stored NCHW."""

    __slots__ = ("name", "shape", "nchw")

    def __init__(self, name, shape, nchw=False):
        self.name, self.shape, self.nchw = name, tuple(shape), nchw


def _to(g, t, nchw):
    if len(t.shape) != 4 or t.nchw == nchw:
        return t
    perm = [0, 3, 1, 2] if nchw else [0, 2, 3, 1]
    return _Tensor(g.node("Transpose", [t.name], "nchw" if nchw else "nhwc", perm=perm), t.shape, nchw)


def _activation(g, t, name, layer):
    if name in (None, "linear"):
        return t
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}
    if name in simple:
        return _Tensor(g.node(simple[name], [t.name], name), t.shape, t.nchw)
    if name in ("softmax", "log_softmax"):
        t = _to(g, t, False)
        axis = int(getattr(layer, "axis", -1)) if type(layer).__name__ == "Softmax" else -1
        op = "Softmax" if name == "softmax" else "LogSoftmax"
        return _Tensor(g.node(op, [t.name], name, axis=axis), t.shape)
    if name == "leaky_relu":
        slope = float(getattr(layer, "negative_slope", 0.2))
        return _Tensor(g.node("LeakyRelu", [t.name], name, alpha=slope), t.shape, t.nchw)
    if name == "elu":
        return _Tensor(g.node("Elu", [t.name], name, alpha=1.0), t.shape, t.nchw)
    if name in ("silu", "swish"):
        s = g.node("Sigmoid", [t.name], "sigmoid")
        return _Tensor(g.node("Mul", [t.name, s], "silu"), t.shape, t.nchw)
    if name == "gelu":  # exact form: 0.5 * x * (1 + erf(x / sqrt(2)))
        e = g.node("Erf", [g.node("Mul", [t.name, g.const("inv_sqrt2", 1.0 / math.sqrt(2.0))], "scaled")], "erf")
        half = g.node("Mul", [t.name, g.const("half", 0.5)], "half_x")
        return _Tensor(g.node("Mul", [half, g.node("Add", [e, g.const("one", 1.0)], "one_plus")], "gelu"),
                       t.shape, t.nchw)
    raise FileFormatError(f"ONNX export has no rule for activation {name!r} (layer {layer.name!r}). Received: "
                          f"activation={name!r}")


def _activation_name(layer):
    act = getattr(layer, "_act", None)
    if act is None:
        return None
    if act.name is None:
        raise FileFormatError(f"Layer {layer.name!r} uses a custom activation, which has no ONNX operator. "
                              f"Received: activation={getattr(layer, 'activation', None)!r}")
    return act.name


def _same_pads(size, kernel, stride, dilation, padding):
    if padding == "valid":
        return 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _spatial_attrs(layer, shape, kernel, dilation=(1, 1)):
    ph = _same_pads(shape[1], kernel[0], layer.strides[0], dilation[0], layer.padding)
    pw = _same_pads(shape[2], kernel[1], layer.strides[1], dilation[1], layer.padding)
    return {"kernel_shape": list(kernel), "strides": list(layer.strides), "pads": [ph[0], pw[0], ph[1], pw[1]]}


def _dense(g, t, layer):
    t = _to(g, t, False)
    kernel = g.weight(layer, f"{layer.name}_kernel", layer.kernel.value)
    bias = g.weight(layer, f"{layer.name}_bias", layer.bias.value) if layer.use_bias else None
    if len(t.shape) == 2 and not g.hls4ml:
        inputs = [t.name, kernel] + ([bias] if bias else [])
        y = g.node("Gemm", inputs, layer.name)
    else:
        y = g.node("MatMul", [t.name, kernel], layer.name + "_matmul")
        if bias:
            y = g.node("Add", [y, bias], layer.name)
    return _Tensor(y, t.shape[:-1] + (layer.units,))


def _conv(g, t, layer):
    t = _to(g, t, True)
    weight = g.weight(layer, f"{layer.name}_kernel", layer.kernel.value.transpose(3, 2, 0, 1))  # HWIO -> OIHW
    inputs = [t.name, weight] + ([g.weight(layer, f"{layer.name}_bias", layer.bias.value)] if layer.use_bias else [])
    attrs = _spatial_attrs(layer, t.shape, layer.kernel_size, layer.dilation_rate)
    y = g.node("Conv", inputs, layer.name, dilations=list(layer.dilation_rate), group=1, **attrs)
    return _Tensor(y, layer.compute_output_shape(t.shape), True)


def _pool(g, t, layer):
    t = _to(g, t, True)
    attrs = _spatial_attrs(layer, t.shape, layer.pool_size)
    if type(layer).__name__ == "MaxPooling2D":
        y = g.node("MaxPool", [t.name], layer.name, **attrs)
    else:
        y = g.node("AveragePool", [t.name], layer.name, count_include_pad=0, **attrs)
    return _Tensor(y, layer.compute_output_shape(t.shape), True)


def _global_pool(g, t, layer):
    t = _to(g, t, True)
    op = "GlobalAveragePool" if type(layer).__name__ == "GlobalAveragePooling2D" else "GlobalMaxPool"
    y = _Tensor(g.node(op, [t.name], layer.name), (t.shape[0], 1, 1, t.shape[3]), True)
    if layer.keepdims:
        return y
    return _Tensor(g.node("Flatten", [y.name], layer.name + "_flat", axis=1), (t.shape[0], t.shape[3]))


def _batch_norm(g, t, layer):
    eps = float(layer.epsilon)
    gamma, beta = layer._gamma(), layer._beta()
    mean, var = layer.moving_mean.value, layer.moving_variance.value
    if len(t.shape) in (2, 4):  # ONNX normalizes axis 1: the features of a matrix, the channels of NCHW
        t = _to(g, t, len(t.shape) == 4)
        inputs = [t.name] + [g.weight(layer, f"{layer.name}_{n}", a) for n, a in
                             (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
        return _Tensor(g.node("BatchNormalization", inputs, layer.name, epsilon=eps), t.shape, t.nchw)
    t = _to(g, t, False)
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    shift = beta.astype(np.float64) - mean.astype(np.float64) * scale
    y = g.node("Mul", [t.name, g.weight(layer, f"{layer.name}_scale", scale)], layer.name + "_scale")
    return _Tensor(g.node("Add", [y, g.weight(layer, f"{layer.name}_shift", shift)], layer.name), t.shape)


def _reshape(g, t, layer):
    t = _to(g, t, False)
    kind = type(layer).__name__
    out = tuple(layer.compute_output_shape(t.shape))
    if kind == "Flatten":
        return _Tensor(g.node("Flatten", [t.name], layer.name, axis=1), out)
    target = g.weight(layer, f"{layer.name}_shape", [0] + list(layer.target_shape), dtype=np.int64)
    return _Tensor(g.node("Reshape", [t.name, target], layer.name), out)


def _layer(g, t, layer):
    kind = type(layer).__name__
    if kind == "Sequential":
        for inner in layer.layers:
            t = _layer(g, t, inner)
        return t
    if kind in ("Dropout", "InputLayer"):
        return t
    if kind == "Dense":
        return _activation(g, _dense(g, t, layer), _activation_name(layer), layer)
    if kind == "Conv2D":
        return _activation(g, _conv(g, t, layer), _activation_name(layer), layer)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _pool(g, t, layer)
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return _global_pool(g, t, layer)
    if kind == "BatchNormalization":
        return _batch_norm(g, t, layer)
    if kind in ("Flatten", "Reshape"):
        return _reshape(g, t, layer)
    if kind in ("Activation", "LeakyReLU", "Softmax"):
        return _activation(g, t, _activation_name(layer), layer)
    if kind == "Functional":
        return _functional(g, layer, [t])[0]
    raise FileFormatError(f"ONNX export has no rule for layer {layer.name!r} ({kind}). Received: {kind}")


# ------------------------------------------------------------ functional graphs
def _same_layout(g, ts):
    """The tensors in one layout: NCHW when they are images and any is stored NCHW, else as Keras has them."""
    nchw = all(len(t.shape) == 4 for t in ts) and any(t.nchw for t in ts)
    return [_to(g, t, nchw) for t in ts], nchw


def _l2_normalize(g, t, axis):
    sq = g.node("ReduceSum", [g.node("Mul", [t.name, t.name], "square"), g.const("axes", [axis], np.int64)],
                "sum_sq", keepdims=1)
    norm = g.node("Sqrt", [g.node("Max", [sq, g.const("eps", 1e-12)], "clamped")], "norm")
    return _Tensor(g.node("Div", [t.name, norm], "normalized"), t.shape)


def _dot(g, layer, a, b):
    a, b = _to(g, a, False), _to(g, b, False)
    ia, ib = layer._axes([a.shape, b.shape])
    if layer.normalize:
        a, b = _l2_normalize(g, a, ia), _l2_normalize(g, b, ib)
    if len(a.shape) == 2 and len(b.shape) == 2:
        y = g.node("ReduceSum", [g.node("Mul", [a.name, b.name], "product"), g.const("axes", [1], np.int64)],
                   layer.name, keepdims=1)
        return _Tensor(y, (a.shape[0], 1))

    def moved(t, src, dst):
        perm = list(range(len(t.shape)))
        perm[src], perm[dst] = perm[dst], perm[src]
        return t.name if src == dst else g.node("Transpose", [t.name], "swap", perm=perm)

    y = g.node("MatMul", [moved(a, ia, len(a.shape) - 1), moved(b, ib, 1)], layer.name)
    shape = tuple(d for i, d in enumerate(a.shape) if i != ia) + tuple(d for i, d in enumerate(b.shape)
                                                                     if i not in (0, ib))
    return _Tensor(y, shape)


def _merge(g, layer, ts):
    kind = type(layer).__name__
    if kind == "Dot":
        return _dot(g, layer, *ts)
    ts, nchw = _same_layout(g, ts)
    shape = ts[0].shape
    if kind == "Concatenate":
        axis = layer.axis % len(shape)
        out = list(shape)
        out[axis] = sum(t.shape[axis] for t in ts)
        onnx_axis = (0, 2, 3, 1)[axis] if nchw else axis
        return _Tensor(g.node("Concat", [t.name for t in ts], layer.name, axis=onnx_axis), out, nchw)
    if kind == "Subtract":
        return _Tensor(g.node("Sub", [ts[0].name, ts[1].name], layer.name), shape, nchw)
    op = {"Add": "Add", "Average": "Add", "Multiply": "Mul", "Maximum": "Max", "Minimum": "Min"}[kind]
    y = ts[0].name
    for t in ts[1:]:  # binary nodes, as hls4ml's frontend reads them
        y = g.node(op, [y, t.name], layer.name)
    if kind == "Average":
        y = g.node("Div", [y, g.const("count", float(len(ts)))], layer.name)
    return _Tensor(y, shape, nchw)


_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")


def _functional(g, model, given):
    """Add a functional model's nodes to ``g`` for input tensors ``given``; returns its output tensors."""
    from ..models.functional import flatten

    values = {id(t): v for t, v in zip(model.inputs, given)}
    for node in model._nodes:
        args = [values[id(t)] for t in node.flat_inputs]
        kind = type(node.layer).__name__
        if kind in _MERGES:
            outs = [_merge(g, node.layer, args)]
        elif kind == "Functional":
            outs = _functional(g, node.layer, args)
        elif len(args) == 1:
            outs = [_layer(g, args[0], node.layer)]
        else:
            raise FileFormatError(f"ONNX export has no rule for layer {node.layer.name!r} ({kind}) on several "
                                  f"inputs. Received: {len(args)} inputs")
        for t, v in zip(node.outputs, flatten(outs)):
            values[id(t)] = v
    return [values[id(t)] for t in model.outputs]


def _rename(g, old, new):
    for node in g.nodes:
        for names in (node.input, node.output):
            for i, n in enumerate(names):
                if n == old:
                    names[i] = new


def _functional_io(g, model):
    """Graph inputs and outputs ``[(name, Keras shape)]`` of a functional model, its nodes added to ``g``."""
    inputs = [_Tensor(t.name, t.shape) for t in model.inputs]
    g.reserved.update(t.name for t in inputs)
    outs = [_to(g, t, False) for t in _functional(g, model, inputs)]
    renamed, used, outputs = {}, set(), []
    for t, sym in zip(outs, model.outputs):
        layer, index, k = sym._keras_history
        name = layer.name if len(layer._inbound_nodes[index].outputs) == 1 else f"{layer.name}_{k}"
        while g.taken(name) and (renamed.get(t.name) != name or name in used):
            name += "_output"
        source = renamed.get(t.name, t.name)
        if source != t.name or t.name in g.reserved or name == source:
            if name != source:  # an input passed through, or one tensor given as two outputs
                g.nodes.append(g.onnx.helper.make_node("Identity", [source], [name], name=name))
        else:
            _rename(g, t.name, name)
            renamed[t.name] = name
        g.reserved.add(name)
        used.add(name)
        outputs.append((name, t.shape))
    return [(t.name, t.shape) for t in inputs], outputs


def to_onnx(model, opset_version=DEFAULT_OPSET, hls4ml=False):
    """The ``onnx.ModelProto`` of a built float32 model (see the module docstring for the graph's shape).

    Raises:
        ArgumentError: for an unbuilt or float64 model, or an opset outside what the installed onnx supports.
        FileFormatError: for a layer or activation without an ONNX rule.

    Example:
        >>> from ferronet.formats import onnx_export
        >>> proto = onnx_export.to_onnx(model)  # needs the onnx extra
        >>> [node.op_type for node in proto.graph.node], proto.opset_import[0].version
        (['Gemm', 'Relu', 'Gemm', 'Softmax'], 17)
        >>> [node.op_type for node in onnx_export.to_onnx(model, hls4ml=True).graph.node]
        ['MatMul', 'Add', 'Relu', 'MatMul', 'Add', 'Softmax']
    """
    onnx = _onnx()
    if not model.built:
        raise ArgumentError(f"Model '{model.name}' must be built before export (call it on data, fit it, or "
                            f"model.build(shape)). Received: an unbuilt model")
    if model.dtype != "float32":
        raise ArgumentError(f"ONNX export writes float32 models. Received: dtype={model.dtype!r}")
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) or not _MIN_OPSET <= opset_version <= top:
        raise ArgumentError(f"opset_version must be an int from {_MIN_OPSET} to {top} (the installed onnx's). "
                            f"Received: opset_version={opset_version!r}")
    g = _Graph(onnx, bool(hls4ml))
    batch = 1 if hls4ml else "batch"  # hls4ml and qonnx work on one sample at a time, with static shapes

    def info(name, dims):
        return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                  [batch] + [None if d is None else int(d) for d in dims[1:]])

    if type(model).__name__ == "Functional":
        inputs, outputs = _functional_io(g, model)
        graph = onnx.helper.make_graph(g.nodes, model.name, [info(n, s) for n, s in inputs],
                                       [info(n, s) for n, s in outputs], g.inits)
        return _finish(onnx, graph, opset_version)
    shape = tuple(model.input_shape)
    t = _Tensor("input", shape)
    for layer in model.layers:
        t = _layer(g, t, layer)
    t = _to(g, t, False)
    if t.name == "input":  # a model of identities still needs a node producing its output
        t = _Tensor(g.node("Identity", [t.name], "identity"), t.shape)
    # The last node writes the graph output itself (hls4ml drops a trailing Identity, and its output with it).
    last = g.nodes[-1]
    assert list(last.output) == [t.name]
    last.output[0] = "output"
    graph = onnx.helper.make_graph(g.nodes, model.name, [info("input", shape)], [info("output", t.shape)], g.inits)
    return _finish(onnx, graph, opset_version)


def _finish(onnx, graph, opset_version):
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset_version)],
                                   producer_name="ferronet", producer_version=_version())
    proto.ir_version = min(proto.ir_version, _ir_version(onnx, opset_version))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _version():
    from .. import __version__

    return __version__


def _ir_version(onnx, opset):
    """The oldest IR version that carries ``opset`` (so older runtimes read the file)."""
    for entry in getattr(onnx.helper, "VERSION_TABLE", []):  # (release, IR version, opset, ...)
        if entry[2] >= opset:
            return max(entry[1], 7)
    return onnx.IR_VERSION


def export(model, filepath, format="", verbose=True, input_signature=None, opset_version=DEFAULT_OPSET,
           hls4ml=False):
    """Write ``model`` as an ONNX file (Keras 3's ``model.export`` signature; ``format="onnx"``).

    Args:
        model: a built float32 ferronet model.
        filepath: destination (``.onnx``).
        format: ``"onnx"``; ``""`` infers it from a ``.onnx`` file name.
        verbose: print where the file went.
        input_signature: must be None: the model's own input shape is used, with a free batch dimension.
        opset_version: ONNX opset, default 17.
        hls4ml: write Dense as MatMul+Add for hls4ml's ONNX frontend (see the module docstring).

    Example:
        >>> model.export("classifier.onnx", format="onnx")  # calls this (needs the onnx extra)
        Saved ONNX model (opset 17) to classifier.onnx
        >>> import onnxruntime  # the file runs wherever ONNX does
        >>> session = onnxruntime.InferenceSession("classifier.onnx")
        >>> (probabilities,) = session.run(None, {"input": x[:2]})
        >>> bool(np.allclose(probabilities, model.predict(x[:2], verbose=0), atol=1e-6))
        True
    """
    from ..saving import _atomic_write

    path = os.fspath(filepath)
    fmt = format or ("onnx" if path.lower().endswith(".onnx") else "")
    if fmt != "onnx":
        raise ArgumentError(f"ferronet exports to ONNX only: pass format='onnx' (or a .onnx file name). "
                            f"Received: format={format!r}, filepath={path!r}")
    if input_signature is not None:
        raise ArgumentError("ferronet exports the model's own input shape (free batch dimension); leave "
                            f"input_signature=None. Received: input_signature={input_signature!r}")
    proto = to_onnx(model, opset_version=opset_version, hls4ml=hls4ml)
    _atomic_write(path, proto.SerializeToString(), True)
    if verbose:
        print(f"Saved ONNX model (opset {opset_version}) to {path}")
