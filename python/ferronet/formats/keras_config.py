"""Translate model configs between Keras (3, and 2's legacy dialect) and ferronet.

ferronet's layers already take Keras' argument names, so a translation is
mostly bookkeeping: Keras 3 wraps objects as ``{"module", "class_name",
"config", "registered_name"}``, writes dtypes as ``DTypePolicy`` objects and
adds arguments ferronet does not have (constraints, LoRA, quantization). An
argument ferronet lacks is dropped only when it holds Keras' default, so it
cannot change the model; otherwise the translation stops with an error naming
the layer and the argument. Nothing in a config is ever executed: ``Lambda``
layers and unknown classes are refused unless the caller passes them in
``custom_objects``.

Model configs: ``Sequential`` (``{"name", "trainable", "layers",
"build_input_shape"}``) and ``Functional`` (Keras 3's and Keras 2's), whose
layer entries also carry ``name`` and ``inbound_nodes``; those keys, and the
model's ``input_layers``/``output_layers``, pass through unchanged here and
are read by :mod:`ferronet.formats.graph`, which also writes a ferronet
functional model's graph in Keras 3's form.
"""

from __future__ import annotations

from .. import activations, initializers, regularizers
from ..errors import FileFormatError
from .layout import RNN_CELLS

__all__ = ["from_keras", "to_keras", "compile_to_keras", "KERAS_LAYER_CLASSES"]

# Keras class name -> ferronet class name (the same classes under Keras' aliases).
KERAS_LAYER_CLASSES = {
    "InputLayer": "InputLayer", "Dense": "Dense", "Conv2D": "Conv2D", "Convolution2D": "Conv2D",
    "MaxPooling2D": "MaxPooling2D", "MaxPool2D": "MaxPooling2D", "AveragePooling2D": "AveragePooling2D",
    "AvgPool2D": "AveragePooling2D", "GlobalAveragePooling2D": "GlobalAveragePooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPooling2D": "GlobalMaxPooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D", "Flatten": "Flatten", "Reshape": "Reshape", "Dropout": "Dropout",
    "Activation": "Activation", "LeakyReLU": "LeakyReLU", "Softmax": "Softmax",
    "BatchNormalization": "BatchNormalization", "Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply",
    "Average": "Average", "Maximum": "Maximum", "Minimum": "Minimum", "Concatenate": "Concatenate", "Dot": "Dot",
    "Conv1D": "Conv1D", "Convolution1D": "Conv1D", "Conv2DTranspose": "Conv2DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose", "MaxPooling1D": "MaxPooling1D", "MaxPool1D": "MaxPooling1D",
    "AveragePooling1D": "AveragePooling1D", "AvgPool1D": "AveragePooling1D",
    "GlobalAveragePooling1D": "GlobalAveragePooling1D", "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalMaxPooling1D": "GlobalMaxPooling1D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "UpSampling1D": "UpSampling1D", "UpSampling2D": "UpSampling2D", "ZeroPadding1D": "ZeroPadding1D",
    "ZeroPadding2D": "ZeroPadding2D", "Cropping1D": "Cropping1D", "Cropping2D": "Cropping2D", "Permute": "Permute",
    "RepeatVector": "RepeatVector", "ReLU": "ReLU", "ELU": "ELU", "PReLU": "PReLU",
    "LayerNormalization": "LayerNormalization", "UnitNormalization": "UnitNormalization",
    "GaussianNoise": "GaussianNoise", "GaussianDropout": "GaussianDropout",
    "ActivityRegularization": "ActivityRegularization", "Rescaling": "Rescaling", "Normalization": "Normalization",
    "Embedding": "Embedding", "SpatialDropout1D": "SpatialDropout1D", "SpatialDropout2D": "SpatialDropout2D",
    "TimeDistributed": "TimeDistributed", "SimpleRNN": "SimpleRNN", "LSTM": "LSTM", "GRU": "GRU",
    "Bidirectional": "Bidirectional", "MultiHeadAttention": "MultiHeadAttention", "Attention": "Attention",
    "AdditiveAttention": "AdditiveAttention", "Masking": "Masking", "Conv1DTranspose": "Conv1DTranspose",
    "RNN": "RNN", **{cell: cell for cell in RNN_CELLS},
}
_MODEL_CLASSES = {"Sequential": "Sequential", "Functional": "Functional", "Model": "Functional"}
_MERGE_CLASSES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")
_ACTIVATION_KEYS = ("activation", "recurrent_activation")
_STATEFUL = ("SimpleRNN", "LSTM", "GRU", "Bidirectional", "RNN")
# Keras 3 operation entries that compute a mask, (module, class name); its legacy .h5 writes no module.
# See ferronet.formats.calls.
_MASK_OPS = {("keras.src.ops.numpy", "NotEqual"), (None, "NotEqual"), ("keras.src.ops.numpy", "Any"), (None, "Any")}

# Keras arguments ferronet has no use for, with the value that makes them inert.
_INERT = {
    "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None, "beta_constraint": None,
    "gamma_constraint": None, "quantization_config": None, "lora_rank": None, "lora_alpha": None,
    "synchronized": False, "renorm": False, "renorm_clipping": None, "virtual_batch_size": None, "adjustment": None,
    "sparse": False, "ragged": False, "optional": False, "input_tensor": None, "alpha_constraint": None,
    "embeddings_constraint": None, "input_length": None, "recurrent_constraint": None, "time_major": False,
    "use_gate": False, "sliding_window": None,
}
# The same, for arguments only some classes lack (ferronet's LayerNormalization has no regularizers).
_INERT_FOR = {
    "LayerNormalization": {"rms_scaling": False, "beta_regularizer": None, "gamma_regularizer": None},
    "ZeroPadding1D": {"data_format": "channels_last"},
    "Conv2DTranspose": {"groups": 1},  # Keras 2 writes it
}
# Arguments Keras writes as tuples (JSON lists) where ferronet may hold a plain int.
_KERAS_TUPLES = {"MaxPooling1D": ("pool_size", "strides"), "AveragePooling1D": ("pool_size", "strides"),
                 "Conv1D": ("kernel_size", "strides", "dilation_rate"), "LayerNormalization": ("axis",),
                 "Conv1DTranspose": ("kernel_size", "strides", "dilation_rate", "output_padding"),
                 "Normalization": ("axis",), "MultiHeadAttention": ("output_shape",)}
# Keras arguments that never change the math (implementation hints, or only used when an inert one is set).
# Keras 2's LSTM/GRU "implementation" picks a kernel for the same math; its MultiHeadAttention writes its build
# shapes into the config (ferronet reads them from the graph).
_IGNORED = {"fused", "renorm_momentum", "autocast", "input_dtype", "implementation", "query_shape", "key_shape",
            "value_shape"}

_INITIALIZER_NAMES = {"IdentityInitializer": "Identity", "OrthogonalInitializer": "Orthogonal",
                      "normal": "RandomNormal", "uniform": "RandomUniform", "one": "Ones", "zero": "Zeros"}
_INITIALIZER_KEYS = ("kernel_initializer", "recurrent_initializer", "bias_initializer", "beta_initializer",
                     "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "alpha_initializer",
                     "embeddings_initializer")
_REGULARIZER_KEYS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "beta_regularizer",
                     "gamma_regularizer", "alpha_regularizer", "embeddings_regularizer")


def _where(layer_name, class_name):
    return f"layer {layer_name!r} ({class_name})"


# ---------------------------------------------------------------- Keras -> ferronet
def _dtype_from_keras(value, where):
    if value is None:
        return None
    if isinstance(value, dict):
        inner = value.get("config")
        value = inner.get("name") if isinstance(inner, dict) else inner
    if value in ("float32", "float64", "mixed_bfloat16"):
        return value
    raise FileFormatError(f"ferronet computes in float32 or float64 (or mixed_bfloat16: float32 weights, bfloat16 "
                          f"products); {where} uses another dtype policy. "
                          f"Received: dtype={value!r}")


def _activation_from_keras(value, where, custom_objects):
    name = value
    if isinstance(value, dict):
        name = value.get("config") if isinstance(value.get("config"), str) else value.get("class_name")
    if name is None:
        return "linear"
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if not isinstance(name, str) or name.lower() not in activations._FUNCTIONS:
        raise FileFormatError(f"ferronet has no activation {name!r} ({where}); it has "
                              f"{', '.join(sorted(activations._FUNCTIONS))}. Received: activation={value!r}")
    return name.lower()


def _initializer_from_keras(value, key, where):
    if value is None or isinstance(value, str):
        name, config = value, {}
    elif isinstance(value, dict) and isinstance(value.get("class_name"), str) and isinstance(
            value.get("config") or {}, dict):
        name, config = value["class_name"], dict(value.get("config") or {})
    else:
        raise FileFormatError(f"Could not read {key} of {where}. Received: {key}={value!r}")
    if name is None:
        return None
    name = _INITIALIZER_NAMES.get(name, name)
    for axes in ("input_axes", "output_axes"):  # Keras 3.10+: fan axes, None means Keras' own default rule
        if config.get(axes, None) is None:
            config.pop(axes, None)
    config.pop("dtype", None)
    try:
        cls = initializers._CLASSES.get(name) or initializers._ALIASES.get(name.lower())
        if cls is None:
            raise ValueError(f"unknown initializer {name!r}")
        cls.from_config(config)
    except (TypeError, ValueError) as e:
        raise FileFormatError(f"ferronet cannot use the {key} of {where} ({e}). Received: {key}={value!r}") from None
    return {"class_name": cls.__name__, "config": config}


def _regularizer_from_keras(value, key, where):
    if value is None:
        return None
    try:
        reg = regularizers.get(value if not isinstance(value, dict) else
                               {"class_name": value.get("class_name"), "config": value.get("config") or {}})
    except (TypeError, ValueError, KeyError) as e:
        raise FileFormatError(f"ferronet cannot use the {key} of {where} ({e}). Received: {key}={value!r}") from None
    return regularizers.serialize(reg)


def _layer_from_keras(entry, label, custom_objects):
    out = _translate_layer(entry, label, custom_objects)
    for key in ("name", "inbound_nodes"):  # functional entries keep their graph
        if key in entry:
            out[key] = entry[key]
    return out


def _translate_layer(entry, label, custom_objects):
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise FileFormatError(f"A layer entry of the model config is malformed. Received: {entry!r:.200} in {label}")
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        raise FileFormatError(f"A layer entry of the model config has no class name. Received: "
                              f"class_name={class_name!r:.100} in {label}")
    config = dict(entry["config"])
    where = _where(config.get("name"), class_name)
    if class_name in _MODEL_CLASSES:
        return from_keras(entry, label, custom_objects)
    if custom_objects and class_name in custom_objects:
        return {"class_name": class_name, "config": config}
    target = KERAS_LAYER_CLASSES.get(class_name)
    if (entry.get("module"), class_name) in _MASK_OPS:  # read by ferronet.formats.graph
        from .graph import MASK_OP

        return {"class_name": MASK_OP, "config": {"op": class_name, "axis": config.get("axis"),
                                                  "keepdims": config.get("keepdims")}}
    if class_name == "Lambda":
        raise FileFormatError(
            f"Layer {config.get('name')!r} is a Keras Lambda, which Keras stores as Python bytecode; ferronet "
            "never runs code from a file. Write the function as a Layer subclass and pass it in custom_objects, "
            f"or rebuild the model in code and load only its weights. Received: class_name='Lambda' in {label}")
    if target is None:
        raise FileFormatError(
            f"ferronet has no layer {class_name!r} (first unsupported layer: {config.get('name')!r}); it reads "
            f"{', '.join(sorted(set(KERAS_LAYER_CLASSES.values())))}. Received: class_name={class_name!r} in {label}"
        )
    inert = {**_INERT, **_INERT_FOR.get(target, {})}
    for key in list(config):
        if key in _IGNORED:
            del config[key]
        elif key in inert:
            if config[key] != inert[key] and not (key == "optional" and config[key] is None):
                raise FileFormatError(f"ferronet does not support {key} ({where}). Received: "
                                      f"{key}={config[key]!r} in {label}")
            del config[key]
    if "dtype" in config:
        config["dtype"] = _dtype_from_keras(config["dtype"], where)
    for key in _ACTIVATION_KEYS:
        if key in config:
            config[key] = _activation_from_keras(config[key], where, custom_objects)
    for key in _INITIALIZER_KEYS:
        if key in config:
            config[key] = _initializer_from_keras(config[key], key, where)
    for key in _REGULARIZER_KEYS:
        if key in config:
            config[key] = _regularizer_from_keras(config[key], key, where)
    for key in _KERAS_TUPLES.get(target, ()):  # Keras' one-element tuples: ferronet's plain ints
        if isinstance(config.get(key), list) and len(config[key]) == 1:
            config[key] = config[key][0]
    if target == "Normalization" and config.get("axis") == []:  # Keras' () keeps no axis: ferronet's None
        config["axis"] = None
    if target == "TimeDistributed":
        if isinstance(config.get("layer"), dict) and config["layer"].get("class_name") in _MODEL_CLASSES:
            raise FileFormatError(f"ferronet reads TimeDistributed around a single layer; {where} wraps a model. "
                                  f"Received: layer={config['layer'].get('class_name')!r} in {label}")
        config["layer"] = _translate_layer(config.get("layer"), label, custom_objects)
    if target == "RNN":
        cell = config.get("cell")
        if not isinstance(cell, dict) or cell.get("class_name") not in RNN_CELLS:
            found = cell.get("class_name") if isinstance(cell, dict) else type(cell).__name__
            raise FileFormatError(f"ferronet reads RNN around one SimpleRNNCell, LSTMCell or GRUCell; {where} runs "
                                  f"{found!r}. Received: cell={found!r} in {label}")
        config["cell"] = _translate_layer(cell, label, custom_objects)
    if target == "Bidirectional":
        for key in ("layer", "backward_layer"):
            if config.get(key) is not None:
                config[key] = _translate_layer(config[key], label, custom_objects)
    return {"class_name": target, "config": config}


def from_keras(model_config, label, custom_objects=None) -> dict:
    """ferronet's ``{"class_name", "config"}`` for a Keras model config (Keras 3 or Keras 2 dialect).

    Args:
        model_config: the parsed ``config.json`` of a ``.keras`` file or ``model_config`` of an ``.h5``.
        label: ``filepath=...`` text for messages.
        custom_objects: ``{name: class or function}`` for layers or activations of your own.

    Raises:
        FileFormatError: naming the first layer or argument ferronet cannot express.

    Example:
        >>> from ferronet.formats import keras_config
        >>> keras2 = {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
        ...     {"class_name": "Dense", "config": {"name": "hidden", "units": 8, "activation": "relu",
        ...                                        "batch_input_shape": [None, 4]}}]}}
        >>> config = keras_config.from_keras(keras2, "filepath='mlp.h5'")
        >>> ferronet.Sequential.from_config(config["config"]).output_shape
        (None, 8)
        >>> keras_config.from_keras({"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Dense", "config": {"units": 8, "activation": "swoosh"}}]}}, "filepath='x.h5'")
        Traceback (most recent call last):
        ...
        ferronet.errors.FileFormatError: ...swoosh...
    """
    try:
        return _model_from_keras(model_config, label, custom_objects)
    except (TypeError, AttributeError, KeyError, IndexError, RecursionError) as e:
        # Values of the wrong JSON type deep inside a layer's arguments.
        raise FileFormatError(f"The model config is malformed ({type(e).__name__}: {e}). Received: {label}") from None


def _model_from_keras(model_config, label, custom_objects=None) -> dict:
    if not isinstance(model_config, dict) or not isinstance(model_config.get("class_name"), str):
        raise FileFormatError(f"The model config is not a Keras model. Received: {model_config!r:.200} in {label}")
    class_name = model_config["class_name"]
    if class_name not in _MODEL_CLASSES:
        raise FileFormatError(f"ferronet reads Sequential and functional Keras models. Received: class_name="
                              f"{class_name!r} in {label}")
    config = model_config.get("config")
    if isinstance(config, list):  # Keras 2.0-2.1: a Sequential config was its layer list
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise FileFormatError(f"The {class_name} config has no layer list. Received: {config!r:.200} in {label}")
    out = {key: value for key, value in config.items() if key not in ("layers", "dtype")}
    out["layers"] = [_layer_from_keras(entry, label, custom_objects) for entry in config["layers"]]
    if "dtype" in config:
        _dtype_from_keras(config["dtype"], f"model {config.get('name')!r}")
    if class_name == "Sequential" and out.get("build_input_shape") is None:
        build = model_config.get("build_config") or {}
        if isinstance(build, dict) and build.get("input_shape") is not None:
            out["build_input_shape"] = build["input_shape"]
    return {"class_name": _MODEL_CLASSES[class_name], "config": out}


# ---------------------------------------------------------------- ferronet -> Keras 3
def _keras_object(module, class_name, config):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


# Names every Keras 3 reads (3.0 knows these two only by their long names, 3.15 by both).
_KERAS_INITIALIZER_NAMES = {"Orthogonal": "OrthogonalInitializer", "Identity": "IdentityInitializer"}


def _activation_to_keras(value, where):
    if isinstance(value, str) and value in activations._FUNCTIONS:
        return value
    raise FileFormatError(f"A Keras file can only name Keras' built-in activations; {where} uses {value!r}. Save it "
                          f"in ferronet's own format instead (model.save('model.ferronet')). Received: {value!r}")


def _layer_to_keras(layer, where_model):
    from .. import layers as layers_module

    if hasattr(layer, "layers") and hasattr(layer, "get_config") and type(layer).__name__ in _MODEL_CLASSES:
        return to_keras(layer)
    try:
        entry = layers_module.serialize(layer)
    except NotImplementedError:  # Lambda: a Python function, which no config can hold
        kind = type(layer).__name__
        raise FileFormatError(f"Layer {layer.name!r} ({kind}) of {where_model} wraps Python code, which a Keras "
                              "file cannot hold: write it as a Layer subclass, or save the weights (save_weights) "
                              f"and rebuild the model in code. Received: {kind}") from None
    class_name, config = entry["class_name"], dict(entry["config"])
    where = _where(config.get("name"), class_name)
    if class_name not in KERAS_LAYER_CLASSES:
        raise FileFormatError(f"Keras has no layer {class_name!r} ({where} of {where_model}); save the model in "
                              f"ferronet's own format (model.save('model.ferronet')). Received: {class_name!r}")
    config.pop("batch_input_shape", None)
    if class_name == "InputLayer":
        config = {"batch_shape": config["batch_shape"], "dtype": config["dtype"], "sparse": False,
                  "name": config["name"]}
    for key in _ACTIVATION_KEYS:
        if key in config:
            config[key] = _activation_to_keras(config[key], where)
    for key in _INITIALIZER_KEYS:
        if isinstance(config.get(key), dict):
            name = _KERAS_INITIALIZER_NAMES.get(config[key]["class_name"], config[key]["class_name"])
            config[key] = _keras_object("keras.initializers", name, config[key]["config"])
    for key in _REGULARIZER_KEYS:
        if isinstance(config.get(key), dict):
            config[key] = _keras_object("keras.regularizers", config[key]["class_name"], config[key]["config"])
    if config.get("data_format", "absent") is None:
        config["data_format"] = "channels_last"
    for key in _KERAS_TUPLES.get(class_name, ()):
        if isinstance(config.get(key), int):
            config[key] = [config[key]]
    if class_name == "Normalization" and config["axis"] is None:
        config["axis"] = []
    if class_name in ("SpatialDropout1D", "SpatialDropout2D"):  # Keras' constructor takes no `trainable`
        config.pop("trainable", None)
    if class_name == "TimeDistributed":
        if type(layer.layer).__name__ in _MODEL_CLASSES:
            raise FileFormatError(f"ferronet writes TimeDistributed around a single layer to Keras files; {where} "
                                  f"wraps a model: save it as .ferronet. Received: {type(layer.layer).__name__}")
        config["layer"] = _layer_to_keras(layer.layer, where_model)
    if class_name in ("SimpleRNN", "LSTM", "GRU"):
        config.setdefault("zero_output_for_mask", False)
        if class_name == "SimpleRNN" and config.get("seed") is None:  # Keras' SimpleRNN writes no seed
            config.pop("seed", None)
    if class_name in RNN_CELLS:  # Keras' cells: no sequence-layer keys
        config.pop("activity_regularizer", None)
    if class_name == "RNN":
        if type(layer.cell).__name__ not in RNN_CELLS:
            raise FileFormatError(f"ferronet writes RNN around one SimpleRNNCell, LSTMCell or GRUCell to Keras files; "
                                  f"{where} runs a {type(layer.cell).__name__}: save it as .ferronet. Received: "
                                  f"{type(layer.cell).__name__}")
        config["cell"] = _layer_to_keras(layer.cell, where_model)
    if class_name == "Bidirectional":  # Keras writes both directions, as built
        config["layer"] = _layer_to_keras(layer.forward_layer, where_model)
        config["backward_layer"] = _layer_to_keras(layer.backward_layer, where_model)
    out = _keras_object("keras.layers", class_name, config)
    if class_name == "MultiHeadAttention":
        _attention_to_keras(layer, out)
    # Merge layers build when the graph calls them (Keras 3.0's Dot cannot build from a JSON shape list), Masking
    # is built when made (Keras writes no build for it), and stateful recurrent layers build on their first call
    # (Keras builds them for a fixed batch size, which ferronet's shapes leave out).
    elif (class_name not in _MERGE_CLASSES + ("Masking",)
          and not getattr(getattr(layer, "forward_layer", layer), "stateful", False)
          and getattr(layer, "input_shape", None) is not None):
        shape = layer.input_shape
        several = isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple))
        shapes = [[None, *s[1:]] for s in shape] if several else list(shape)
        if several and class_name in _STATEFUL:  # called with initial_state: Keras' build(sequences, states)
            out["build_config"] = {"shapes_dict": {"sequences_shape": shapes[0], "initial_state_shape": shapes[1:]}}
        else:
            out["build_config"] = {"input_shape": shapes}
    return out


def _attention_to_keras(layer, out):
    """MultiHeadAttention builds from its query, value and key shapes (Keras' ``build(**shapes_dict)``)."""
    shapes = getattr(layer, "_shapes", None)
    if shapes is None:
        return
    query, value, key = ([None, *s[1:]] for s in shapes)
    out["build_config"] = {"shapes_dict": {"query_shape": query, "value_shape": value,
                                           **({"key_shape": key} if key != value else {})}}


_KERAS_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")


def compile_to_keras(model):
    """Keras 3's ``compile_config`` for a compiled model, or None when Keras could not rebuild it.

    Written when the optimizer is one Keras has with a constant learning rate, and
    the loss and metrics were given to ``compile`` by name (``"mse"``, ``"accuracy"``).

    Example:
        >>> from ferronet.formats import keras_config
        >>> config = keras_config.compile_to_keras(model)
        >>> config["optimizer"]["class_name"], config["loss"], config["metrics"]
        ('Adam', 'sparse_categorical_crossentropy', ['accuracy'])
        >>> print(keras_config.compile_to_keras(ferronet.models.clone_model(model)))  # not compiled
        None
    """
    given = getattr(model, "_compile_config", None)
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not given or type(optimizer).__name__ not in _KERAS_OPTIMIZERS:
        return None
    config = optimizer.get_config()
    if isinstance(config.get("learning_rate"), bool) or not isinstance(config.get("learning_rate"), (int, float)):
        return None

    def names(value):
        if value is None or isinstance(value, str):
            return value if value is None else [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise TypeError

    try:
        metrics, weighted = names(given.get("metrics")), names(given.get("weighted_metrics"))
    except TypeError:
        return None
    if not isinstance(given.get("loss"), str):
        return None
    return {"optimizer": _keras_object("keras.optimizers", type(optimizer).__name__, config), "loss": given["loss"],
            "loss_weights": given.get("loss_weights"), "metrics": metrics, "weighted_metrics": weighted,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def to_keras(model) -> dict:
    """Keras 3's serialized config (the ``config.json`` of a ``.keras`` file) for a ferronet model.

    Raises:
        FileFormatError: for a layer or activation Keras does not have (custom ones: use ``.ferronet``).

    Example:
        >>> from ferronet.formats import keras_config
        >>> config = keras_config.to_keras(model)
        >>> config["module"], config["class_name"], [layer["class_name"] for layer in config["config"]["layers"]]
        ('keras', 'Sequential', ['InputLayer', 'Dense', 'Dense'])
    """
    class_name = type(model).__name__
    where = f"model {model.name!r}"
    if class_name == "Sequential":
        written = [_layer_to_keras(layer, where) for layer in model.layers]  # first: names a layer Keras lacks
        config = model.get_config()
        entries = []
        shape = config.get("build_input_shape")
        input_layer = getattr(model, "_input_layer", None)
        if input_layer is not None:
            entries.append(_layer_to_keras(input_layer, where))
        elif shape is not None:
            taken = {layer.name for layer in model.layers}
            name = next(n for n in ("input_layer", *(f"input_layer_{i}" for i in range(1, len(taken) + 2)))
                        if n not in taken)
            entries.append(_keras_object("keras.layers", "InputLayer", {
                "batch_shape": list(shape), "dtype": config.get("dtype", "float32"), "sparse": False, "name": name}))
        entries += written
        out = {"name": config["name"], "trainable": config.get("trainable", True),
               "dtype": config.get("dtype", "float32"), "layers": entries, "build_input_shape": shape}
        result = _keras_object("keras", "Sequential", out)
        if shape is not None:
            result["build_config"] = {"input_shape": list(shape)}
        compile_config = compile_to_keras(model)
        if compile_config is not None:
            result["compile_config"] = compile_config
        return result
    if class_name == "Functional":
        from . import graph

        result = graph.to_keras(model, lambda layer: _layer_to_keras(layer, where))
        compile_config = compile_to_keras(model)
        if compile_config is not None:
            result["compile_config"] = compile_config
        return result
    raise FileFormatError(f"Only Sequential and functional models can be written as Keras files. Received: "
                          f"{class_name} {model.name!r}")
