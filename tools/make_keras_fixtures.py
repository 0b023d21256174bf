"""Regenerate the Keras-made test files in tests/data/keras/ (needs real Keras; not a ferronet dependency).

Run it in a throwaway environment, once per Keras generation:

    # Keras 3 (.keras, .weights.h5, and a functional model with a merge)
    python -m venv /tmp/k3 && /tmp/k3/bin/pip install keras "jax[cpu]" h5py
    KERAS_BACKEND=jax /tmp/k3/bin/python tools/make_keras_fixtures.py

    # Keras 2 (legacy .h5: full model and weights-only)
    python -m venv /tmp/k2 && /tmp/k2/bin/pip install "tensorflow-cpu==2.15.1"
    /tmp/k2/bin/python tools/make_keras_fixtures.py

Each model is trained for a few steps on random data (so BatchNormalization's
moving statistics are not the initial ones) and saved (the MLP compiled, with
its optimizer state; the others without) next to
``<name>.expected.npz``, which holds an input batch ``x`` and Keras'
predictions ``y`` for it (``x_0``, ``x_1``, ... and ``y_0``, ... for models
with several inputs or outputs).

Keras 3 also records ``k3_layer_configs.json``: each layer's config entry, with
Keras' defaults, and the layout of its weight arrays (``layer_configs``); and
``k3_recurrent.json``, the config entries and HDF5 groups of the recurrent and
attention models of ``tests/keras_recurrent_models.py``, with three of them
saved as ``k3_rnn_*.keras`` (``recurrent``).

Give model names to regenerate only those (``... make_keras_fixtures.py siamese``).
"""

from __future__ import annotations

import os
import sys

import numpy as np

# Weights-only files for these (the others' weights are read from their model files, which hold the same layout).
_WEIGHTS_FILES = ("mlp", "nested", "siamese")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "keras")


def _data(shape, n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape).astype(np.float32), rng.integers(0, 3, n)


def _mlp(keras):
    return keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4)),
        keras.layers.Dropout(0.25),
        keras.layers.Dense(8, activation="tanh", kernel_initializer="he_normal"),
        keras.layers.LeakyReLU(),
        keras.layers.Dense(3, activation="softmax"),
    ], name="mlp")


def _cnn(keras):
    return keras.Sequential([
        keras.Input((8, 8, 2)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(6, 2, strides=2, use_bias=False),
        keras.layers.Activation("sigmoid"),
        keras.layers.AveragePooling2D(pool_size=2, padding="same"),
        keras.layers.Flatten(),
        keras.layers.Dense(3),
        keras.layers.Softmax(),
    ], name="cnn")


def _nested(keras):
    # Keras 2 lists a nested model's trainable weights first: its file order differs from the layers' order.
    block = keras.Sequential([keras.layers.Dense(5), keras.layers.BatchNormalization(), keras.layers.Dense(4)],
                             name="block")
    return keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(6, activation="relu"), block, keras.layers.Dense(3, activation="softmax"),
    ], name="nested")


def _zoo(keras):
    """Every other layer ferronet reads, with non-default arguments, initializers and regularizers."""
    init, reg = keras.initializers, keras.regularizers
    return keras.Sequential([
        keras.Input((7, 7, 3)),
        keras.layers.Conv2D(4, 3, padding="same", dilation_rate=2, activation="elu",
                            kernel_initializer=init.RandomNormal(stddev=0.2, seed=3),
                            bias_initializer=init.Constant(0.1), kernel_regularizer=reg.L1L2(l1=1e-5, l2=1e-4)),
        keras.layers.BatchNormalization(center=False, momentum=0.9, epsilon=1e-2),
        keras.layers.Conv2D(5, 2, strides=2, activation="gelu", kernel_initializer="lecun_normal",
                            bias_regularizer=reg.L1(1e-4)),
        keras.layers.GlobalAveragePooling2D(keepdims=True),
        keras.layers.Reshape((5,)),
        keras.layers.Dense(6, activation="silu", kernel_initializer=init.Orthogonal(gain=0.5, seed=1)),
        keras.layers.BatchNormalization(scale=False),
        keras.layers.Dense(4, activation="softplus",
                           kernel_initializer=init.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform")),
        keras.layers.LeakyReLU(),
        keras.layers.Dense(3, activation="log_softmax", kernel_initializer="he_uniform"),
    ], name="zoo")


def _functional(keras):
    inputs = keras.Input((8,))
    a = keras.layers.Dense(4, activation="relu")(inputs)
    b = keras.layers.Dense(4)(inputs)
    merged = keras.layers.Add()([a, b])
    outputs = keras.layers.Dense(3, activation="softmax")(merged)
    return keras.Model(inputs, outputs, name="functional_add")


def _merge_zoo(keras):
    """Two inputs, two outputs, every merge layer (Add of three tensors, Dot with normalize)."""
    L = keras.layers
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    ha = L.Dense(5, activation="tanh")(a)
    hb = L.Dense(5, activation="relu")(b)
    merged = [L.Add()([ha, hb, ha]), L.Subtract()([ha, hb]), L.Multiply()([ha, hb]), L.Average()([ha, hb]),
              L.Maximum()([ha, hb]), L.Minimum()([ha, hb])]
    c = L.Concatenate()(merged)
    cosine = L.Dot(axes=1, normalize=True)([ha, hb])
    classes = L.Dense(3, activation="softmax", name="classes")(c)
    value = L.Dense(1, name="value")(L.Concatenate(axis=1)([cosine, c]))
    return keras.Model([a, b], [classes, value], name="merge_zoo")


def _siamese(keras):
    """A nested functional encoder applied to two inputs, a shared layer, a nested Sequential head."""
    L = keras.layers
    e_in = keras.Input((8,))
    encoder = keras.Model(e_in, L.BatchNormalization()(L.Dense(6, activation="relu")(e_in)), name="encoder")
    head = keras.Sequential([L.Dense(4, activation="relu"), L.BatchNormalization(), L.Dense(2)], name="head")
    left, right = keras.Input((8,), name="left"), keras.Input((8,), name="right")
    shared = L.Dense(5, activation="tanh", name="shared")
    s1, s2 = shared(encoder(left)), shared(encoder(right))
    h = head(L.Concatenate()([L.Subtract()([s1, s2]), L.Multiply()([s1, s2])]))
    return keras.Model([left, right], L.Dense(1, activation="sigmoid")(h), name="siamese")


def _branches(keras):
    """Convolutional branches joined along the channels, two pooled views joined again."""
    L = keras.layers
    inputs = keras.Input((8, 8, 2))
    a = L.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    b = L.BatchNormalization()(L.Conv2D(2, 1)(inputs))
    p = L.MaxPooling2D()(L.Concatenate()([a, b]))
    joined = L.Concatenate()([L.GlobalAveragePooling2D()(p), L.Flatten()(L.AveragePooling2D(2)(p))])
    return keras.Model(inputs, L.Dense(3, activation="softmax")(joined), name="branches")


def _dict_io(keras):
    """Inputs given as a dict by name; a nested functional model with two outputs (tensor indices 0 and 1)."""
    L = keras.layers
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = L.Concatenate()([L.Dense(4, activation="relu")(a), b])
    inner_in = keras.Input((6,))
    two = keras.Model(inner_in, [L.Dense(2)(inner_in), L.Dense(3, activation="tanh")(inner_in)], name="two")
    first, second = two(h)
    return keras.Model({"a": a, "b": b}, [first, L.Dense(1)(second)], name="dict_io")


def _seq1d(keras):
    """The sequence layers: 1D convolution and pooling, reshaping, the activation and noise layers."""
    L, init = keras.layers, keras.initializers
    return keras.Sequential([
        keras.Input((12, 3)),
        L.Conv1D(4, 3, padding="same", dilation_rate=2, activation="relu"),
        L.LayerNormalization(epsilon=1e-2),
        L.MaxPooling1D(2),
        L.ZeroPadding1D((1, 2)),
        L.Cropping1D((1, 0)),
        L.UpSampling1D(2),
        L.AveragePooling1D(3, strides=2, padding="same"),
        L.Convolution1D(5, 2, strides=2, use_bias=False),
        L.PReLU(alpha_initializer=init.Constant(0.2), shared_axes=[1]),
        L.SpatialDropout1D(0.2),
        L.GaussianNoise(0.1),
        L.GaussianDropout(0.1),
        L.Permute((2, 1)),
        L.GlobalAveragePooling1D(),
        L.Dense(4),
        L.UnitNormalization(),  # on a dense layer's output (not a near-zero vector): a well-conditioned check
        L.ELU(0.5),
        L.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.05),
        L.RepeatVector(3),
        L.TimeDistributed(L.Dense(2, activation="tanh")),
        L.GlobalMaxPool1D(),
        L.ActivityRegularization(l1=1e-3),
        L.Rescaling(2.0, offset=-0.5),
        L.Dense(3, activation="softmax"),
    ], name="seq1d")


def _image2d(keras):
    """Transposed convolution and the 2D reshaping layers."""
    L = keras.layers
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Normalization(mean=[0.5, -0.5], variance=[4.0, 0.25]),
        L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
        L.ZeroPadding2D(((1, 0), (0, 1))),
        L.Cropping2D(((0, 1), (1, 0))),
        L.UpSampling2D((2, 1)),
        L.SpatialDropout2D(0.1),
        L.Convolution2DTranspose(2, 2, use_bias=False),
        L.Conv2D(2, 3, strides=2),
        L.Flatten(),
        L.Dense(3, activation="softmax"),
    ], name="image2d")


def _tabular(keras):
    """An adapted Normalization (mean, variance, count weights) in front of an MLP."""
    L = keras.layers
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(5).normal(2.0, 3.0, size=(40, 5)))
    return keras.Sequential([keras.Input((5,)), norm, L.Dense(6, activation="relu"), L.LayerNormalization(),
                             L.Dense(3, activation="softmax")], name="tabular")


def _embed(keras):
    """Integer ids looked up in an Embedding, one step at a time through TimeDistributed."""
    L = keras.layers
    return keras.Sequential([keras.Input((4,)), L.Embedding(10, 3), L.TimeDistributed(L.Dense(2)),
                             L.Flatten(), L.Dense(3, activation="softmax")], name="embed")


def _layer_configs(keras):
    """k3_layer_configs.json: each layer's entry in a saved model's config.json and its weight arrays' layout."""
    import io
    import json
    import tempfile
    import zipfile

    import h5py

    L = keras.layers
    seq, image, flat = (6, 2), (4, 4, 2), (2,)
    cases = {
        "Conv1D": (L.Conv1D(3, 2), seq), "MaxPooling1D": (L.MaxPooling1D(), seq),
        "AveragePooling1D": (L.AveragePooling1D(2), seq), "GlobalAveragePooling1D": (L.GlobalAveragePooling1D(), seq),
        "GlobalMaxPooling1D": (L.GlobalMaxPooling1D(), seq), "Conv2DTranspose": (L.Conv2DTranspose(3, 2), image),
        "UpSampling1D": (L.UpSampling1D(), seq), "UpSampling2D": (L.UpSampling2D(), image),
        "ZeroPadding1D": (L.ZeroPadding1D(), seq), "ZeroPadding2D": (L.ZeroPadding2D(), image),
        "Cropping1D": (L.Cropping1D(), seq), "Cropping2D": (L.Cropping2D(), image),
        "Permute": (L.Permute((2, 1)), seq), "RepeatVector": (L.RepeatVector(3), flat), "ReLU": (L.ReLU(), flat),
        "ELU": (L.ELU(), flat), "PReLU": (L.PReLU(), flat), "LayerNormalization": (L.LayerNormalization(), flat),
        "UnitNormalization": (L.UnitNormalization(), flat), "GaussianNoise": (L.GaussianNoise(0.1), flat),
        "GaussianDropout": (L.GaussianDropout(0.1), flat), "ActivityRegularization": (L.ActivityRegularization(), flat),
        "Rescaling": (L.Rescaling(0.5), flat), "Normalization": (L.Normalization(), flat),
        "Embedding": (L.Embedding(5, 3), (4,)), "SpatialDropout1D": (L.SpatialDropout1D(0.1), seq),
        "SpatialDropout2D": (L.SpatialDropout2D(0.1), image), "TimeDistributed": (L.TimeDistributed(L.Dense(3)), seq),
    }
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (layer, shape) in cases.items():
            keras.Sequential([keras.Input(shape), layer]).save(os.path.join(tmp, "m.keras"))
            with zipfile.ZipFile(os.path.join(tmp, "m.keras")) as zf:
                entry = json.loads(zf.read("config.json"))["config"]["layers"][1]
                arrays = {}
                with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
                    f.visititems(lambda key, obj: arrays.__setitem__(key, list(obj.shape))
                                 if isinstance(obj, h5py.Dataset) and key.startswith("layers") else None)
            if isinstance(entry["config"]["dtype"], dict):  # its shared_object_id is a memory address
                entry["config"]["dtype"].pop("shared_object_id", None)
            out[name] = {"config": entry, "input_shape": list(shape), "weights": arrays}
    with open(os.path.join(OUT, "k3_layer_configs.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "layers": out}, f, indent=1, sort_keys=True)


# Recurrent and attention models (tests/keras_recurrent_models.py) saved as Keras files, with their predictions.
_RECURRENT_FILES = {"k3_rnn_masked": "masked_lstm_graph", "k3_rnn_bidirectional": "bidirectional_lstm_state",
                    "k3_rnn_attention": "mha_cross"}


def _recurrent(keras):
    """k3_recurrent.json (each model's config.json layers and HDF5 groups and arrays) and _RECURRENT_FILES."""
    import io
    import json
    import runpy
    import tempfile
    import zipfile

    import h5py

    models = runpy.run_path(os.path.join(OUT, "..", "..", "keras_recurrent_models.py"))["MODELS"]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in sorted(models.items()):
            keras.utils.set_random_seed(1)
            model = build(keras)
            path = os.path.join(tmp, "m.keras")
            model.save(path)
            with zipfile.ZipFile(path) as zf:
                entries = json.loads(zf.read("config.json"))["config"]["layers"]
                groups = {}
                with h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as f:
                    f.visititems(lambda key, obj: groups.__setitem__(key, list(obj.shape) if isinstance(
                        obj, h5py.Dataset) else None) if key.startswith("layers") else None)
            _drop_ids(entries)
            out[name] = {"layers": entries, "groups": groups}
    with open(os.path.join(OUT, "k3_recurrent.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "models": out}, f, indent=None, sort_keys=True)
    for file_name, name in _RECURRENT_FILES.items():
        keras.utils.set_random_seed(2)
        model = models[name](keras)
        rng = np.random.default_rng(3)
        model.set_weights([rng.normal(scale=0.5, size=w.shape).astype(w.dtype) for w in model.get_weights()])
        model.save(os.path.join(OUT, f"{file_name}.keras"))
        xs = [rng.integers(0, 10, (4,) + tuple(t.shape[1:])).astype(np.float32) if name.startswith("masked")
              else rng.normal(size=(4,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs]
        if name.startswith("masked"):
            xs[0][:, -2:] = 0
        _expected(file_name, model, xs if len(xs) > 1 else xs[0])


def _drop_ids(value):
    """Removes Keras' shared_object_id (a memory address) from a config, in place."""
    if isinstance(value, dict):
        value.pop("shared_object_id", None)
        for v in value.values():
            _drop_ids(v)
    elif isinstance(value, list):
        for v in value:
            _drop_ids(v)


def _trained(keras, build, shape, keep_compile):
    """The model after a few training steps; uncompiled (no optimizer state in the file, smaller) unless asked."""
    keras.utils.set_random_seed(1)
    model = build(keras)
    if len(model.inputs) > 1 or len(model.outputs) > 1 or shape is None:
        return _trained_graph(keras, build, model)
    x, y = _data(shape)
    if model.name == "embed":
        x = np.random.default_rng(0).integers(0, 10, size=x.shape).astype(np.float32)
    loss = "mse" if model.name == "zoo" else "sparse_categorical_crossentropy"
    y = keras.utils.to_categorical(y, 3) if loss == "mse" else y
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    if not keep_compile:
        trained, model = model, build(keras)
        model.set_weights(trained.get_weights())
    return model, x[:8]


def _trained_graph(keras, build, model):
    """A model with several inputs or outputs trained on random data with one mean-squared error per output."""
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(32,) + tuple(t.shape[1:])).astype(np.float32) for t in model.inputs]
    y = [rng.normal(size=(32,) + tuple(t.shape[1:])).astype(np.float32) for t in model.outputs]
    if isinstance(model.input, dict):  # fed by name; saved in the order of the names
        x = {t.name.split(":")[0]: v for t, v in zip(model.inputs, x)}
    model.compile(optimizer="adam", loss=["mse"] * len(y))
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    trained, model = model, build(keras)
    model.set_weights(trained.get_weights())
    return model, ({k: v[:8] for k, v in x.items()} if isinstance(x, dict) else [v[:8] for v in x])


def _expected(name, model, x):
    y = model.predict(x, verbose=0)
    y = list(y) if isinstance(y, tuple) else y  # several outputs: a tuple from some Keras versions
    xs = [x[k] for k in sorted(x)] if isinstance(x, dict) else x
    arrays = {"x": xs} if not isinstance(xs, list) else {f"x_{i}": v for i, v in enumerate(xs)}
    arrays.update({"y": y} if not isinstance(y, list) else {f"y_{i}": v for i, v in enumerate(y)})
    np.savez_compressed(os.path.join(OUT, f"{name}.expected.npz"), **arrays)


def main():
    import keras

    os.makedirs(OUT, exist_ok=True)
    major = int(keras.__version__.split(".")[0])
    models = [("mlp", _mlp, (8,)), ("cnn", _cnn, (8, 8, 2)), ("nested", _nested, (8,)), ("zoo", _zoo, (7, 7, 3)),
              ("merge_zoo", _merge_zoo, None), ("siamese", _siamese, None), ("branches", _branches, None),
              ("dict_io", _dict_io, None)]
    models += [("seq1d", _seq1d, (12, 3)), ("image2d", _image2d, (6, 6, 2)), ("tabular", _tabular, (5,)),
               ("embed", _embed, (4,))]
    if major >= 3:
        models.append(("functional_add", _functional, (8,)))
    if sys.argv[1:]:
        models = [m for m in models if m[0] in sys.argv[1:]]
    for name, build, shape in models:
        model, x = _trained(keras, build, shape, keep_compile=name == "mlp")
        if major >= 3:
            model.save(os.path.join(OUT, f"k3_{name}.keras"))
            if name in _WEIGHTS_FILES:
                model.save_weights(os.path.join(OUT, f"k3_{name}.weights.h5"))
            _expected(f"k3_{name}", model, x)
        else:
            model.save(os.path.join(OUT, f"k2_{name}.h5"))
            if name in _WEIGHTS_FILES:
                model.save_weights(os.path.join(OUT, f"k2_{name}_weights.h5"))
            _expected(f"k2_{name}", model, x)
    if major >= 3 and (not sys.argv[1:] or "layer_configs" in sys.argv[1:]):
        _layer_configs(keras)
    if major >= 3 and (not sys.argv[1:] or "recurrent" in sys.argv[1:]):
        _recurrent(keras)
    print(f"Keras {keras.__version__}: wrote {len(models)} models to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
