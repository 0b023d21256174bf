"""``Functional``: the model ``Model(inputs, outputs)`` builds from a graph of layer calls."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .functional import KerasTensor, flatten, pack_like
from .model import Model

__all__ = ["Functional"]


def _producer(t):
    layer, index, k = t._keras_history
    return layer, layer._inbound_nodes[index]


class Functional(Model):
    """A model defined by symbolic inputs and outputs (Keras' functional API).

    Args:
        inputs: a KerasTensor from ``ferronet.Input``, or a list/dict of them.
        outputs: KerasTensor(s) computed from ``inputs`` by calling layers.
        name: model name.

    Raises:
        ValueError: when an output does not depend on the inputs, or an input is given twice.

    Example:
        >>> features = ferronet.Input((4,), name="features")
        >>> hidden = ferronet.layers.Dense(8, activation="relu")(features)
        >>> energy = ferronet.layers.Dense(1, name="energy")(hidden)
        >>> label = ferronet.layers.Dense(3, activation="softmax", name="label")(hidden)
        >>> net = ferronet.Model(features, [energy, label])  # a Functional model with two outputs
        >>> type(net).__name__, net.output_shape
        ('Functional', [(None, 1), (None, 3)])
        >>> net.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
        >>> sorted(net.fit(x, [x[:, :1], y], epochs=2, verbose=0).history)
        ['energy_loss', 'label_loss', 'loss']
        >>> [p.shape for p in net.predict(x[:5], verbose=0)]
        [(5, 1), (5, 3)]
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, _functional=True, **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = [t for t in flatten(inputs)]
        self.outputs = [t for t in flatten(outputs)]
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model(inputs, outputs) takes symbolic tensors (from ferronet.Input and layer "
                                f"calls). Received: {type(t).__name__}")
        ids = [id(t) for t in self.inputs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Model '{self.name}': an input is listed twice. Received: inputs="
                             f"{[t.name for t in self.inputs]}")
        names = [t.name for t in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"Model '{self.name}': two inputs share a name. Received: input names {names}")
        self._nodes = self._topological_nodes()
        self._fn_layers = []
        for node in self._nodes:
            if all(node.layer is not seen for seen in self._fn_layers):
                self._fn_layers.append(node.layer)
        self._input_shape = self.inputs[0].shape
        self.input_shape = self._input_shape if len(self.inputs) == 1 else [t.shape for t in self.inputs]
        self.output_shape = self.outputs[0].shape if len(self.outputs) == 1 else [t.shape for t in self.outputs]
        self._np_dtype = np.dtype(self.inputs[0].dtype if np.dtype(self.inputs[0].dtype).kind == "f"
                                  else "float32")
        self.dtype = self._np_dtype.name
        self.built = True

    def _topological_nodes(self):
        """The nodes between inputs and outputs, each after the nodes it reads from."""
        input_ids = {id(t) for t in self.inputs}
        order, state = [], {}

        def visit(t, path):
            if id(t) in input_ids:
                return
            layer, node = _producer(t)
            from ..layers.input_layer import InputLayer

            if isinstance(layer, InputLayer):
                raise ValueError(
                    f"Model '{self.name}': output depends on the input '{t.name}', which is not among the model's "
                    f"inputs {[i.name for i in self.inputs]}. Received: a graph not connected to the given inputs")
            key = id(node)
            if state.get(key) == "done":
                return
            if state.get(key) == "open":
                raise ValueError(f"Model '{self.name}': the graph has a cycle through layer '{layer.name}'")
            state[key] = "open"
            for parent in node.flat_inputs:
                visit(parent, path + [layer.name])
            state[key] = "done"
            order.append(node)

        for t in self.outputs:
            visit(t, [])
        return order

    # ---------------------------------------------------------------- layers
    @property
    def layers(self) -> list:
        """Input layers first, then every layer in the order the graph runs them (as Keras)."""
        ins = [t._keras_history[0] for t in self.inputs]
        return ins + [layer for layer in self._fn_layers if all(layer is not i for i in ins)]

    @property
    def _tracked_layers(self):
        return self._fn_layers

    def _model_input_shape(self):
        return self._input_shape

    def _model_output_shape(self):
        return self.outputs[0].shape

    # ------------------------------------------------------------------ math
    def _tensor_call(self, x, training, **kwargs):
        leaves = flatten(x) if not isinstance(x, dict) else [x[t.name] if t.name in x else None for t in self.inputs]
        if isinstance(x, dict) and any(v is None for v in leaves):
            raise ValueError(f"Model '{self.name}' takes inputs {[t.name for t in self.inputs]}. Received: keys "
                             f"{sorted(x)}")
        if len(leaves) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s). Received: {len(leaves)}")
        values = {}
        for t, v in zip(self.inputs, leaves):
            want = t.shape
            if len(v.shape) != len(want) or any(w is not None and s != w for s, w in zip(v.shape, want)):
                raise ShapeError(f"Input '{t.name}' of model '{self.name}' has shape {want}. "
                                 f"Received: shape {tuple(v.shape)}")
            values[id(t)] = v
        for node in self._nodes:
            args = pack_like(node.inputs, [values[id(t)] for t in node.flat_inputs])
            kw = {k: v for k, v in node.kwargs.items() if k != "training"}
            t_flag = node.kwargs.get("training")
            out = node.layer(args, training=training if t_flag is None else t_flag, **kw)
            for t, o in zip(node.outputs, flatten(out)):
                values[id(t)] = o
        outs = [values[id(t)] for t in self.outputs]
        return pack_like(self._outputs_struct, outs)

    def _build_with(self, input_shape):
        return self.output_shape

    def build(self, input_shape=None):
        pass

    # ---------------------------------------------------------------- config
    def get_config(self):
        from .. import layers as layers_module

        # Node indices count only this model's calls of each layer, so a rebuilt model numbers them alike.
        pos = {}
        for node in self._nodes:
            pos[id(node)] = sum(1 for n in self._nodes if n.layer is node.layer and id(n) in pos)

        def ref(t):
            layer, index, k = t._keras_history
            return [layer.name, pos.get(id(layer._inbound_nodes[index]), 0), k]

        def call_args(node):  # flags such as use_causal_mask=True, after the input references
            kw = {k: v for k, v in node.kwargs.items() if k != "training" and isinstance(v, (bool, int, float, str))}
            return [kw] if kw else []

        layer_configs = []
        for layer in self.layers:
            nodes = [[ref(t) for t in node.flat_inputs] + call_args(node) for node in self._nodes if node.layer is layer]
            entry = layers_module.serialize(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [] if not nodes or not nodes[0] else nodes
            layer_configs.append(entry)
        return {"name": self.name, "trainable": self._trainable, "layers": layer_configs,
                "input_layers": [ref(t) for t in self.inputs], "output_layers": [ref(t) for t in self.outputs]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .. import layers as layers_module
        from ..layers.input_layer import InputLayer

        created, tensors = {}, {}
        for entry in config["layers"]:
            layer = layers_module.deserialize(entry, custom_objects=custom_objects)
            created[entry["name"]] = (layer, entry)
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0, 0)] = layer.output
        pending = [name for name in created if not isinstance(created[name][0], InputLayer)]
        while pending:
            progressed = False
            for name in list(pending):
                layer, entry = created[name]
                calls = entry.get("inbound_nodes") or []
                ready = True
                for node_i, node in enumerate(calls):
                    if any((n, i, k) in tensors for n, i, k in [(name, node_i, 0)]):
                        continue
                    kw = node[-1] if node and isinstance(node[-1], dict) else {}
                    args = [tensors.get(tuple(ref)) for ref in (node[:-1] if kw else node)]
                    if any(a is None for a in args):
                        ready = False
                        break
                    out = layer(args[0] if len(args) == 1 else args, **kw)
                    for k, o in enumerate(flatten(out)):
                        tensors[(name, node_i, k)] = o
                if ready:
                    pending.remove(name)
                    progressed = True
            if not progressed:
                raise ValueError(f"Model config cannot be rebuilt: layers {pending} have missing inputs")
        ins = [tensors[tuple(r)] for r in config["input_layers"]]
        outs = [tensors[tuple(r)] for r in config["output_layers"]]
        return cls(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0], name=config.get("name"),
                   trainable=config.get("trainable", True))

    def __repr__(self):
        return f"<Functional name={self.name}, inputs={len(self.inputs)}, outputs={len(self.outputs)}>"
