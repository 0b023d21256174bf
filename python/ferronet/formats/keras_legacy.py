"""Keras 2's legacy HDF5 files (``model.save("m.h5")`` and ``model.save_weights("w.h5")``): reading.

Layout of a full model file: root attributes ``model_config`` (the model's
JSON config), ``keras_version``, ``backend`` and optionally ``training_config``;
a group ``model_weights`` whose attribute ``layer_names`` lists the layers in
order, and in it one group per layer, with attribute ``weight_names``
(``"dense/kernel:0"``, ...) naming its datasets in order. A weights-only file
has the same per-layer groups at its root. Weights are matched by
``<layer name>/<weight name>`` and, for files whose names differ, by position.
"""

from __future__ import annotations

import json

from ..errors import FileFormatError
from . import hdf5, keras_config, keras_v3, plan

__all__ = ["load_model", "load_weights", "read_weights"]


def _container(f, label):
    if "layer_names" in f.attrs:
        return f
    if "model_weights" in f:
        return f["model_weights"]
    raise FileFormatError(f"This HDF5 file holds no Keras weights (no layer_names, no model_weights). Received: {label}")


def read_weights(container, plans, label) -> list:
    """The arrays of every planned layer from a legacy weights container, checked before each read.

    Example:
        A one-layer Keras 2 file, written here with h5py to stand for one saved by Keras 2:

        >>> import h5py, json
        >>> config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        ...     {"class_name": "Dense", "config": {"name": "dense", "units": 2, "batch_input_shape": [None, 3]}}]}}
        >>> with h5py.File("keras2.h5", "w") as f:  # what Keras 2's model.save("keras2.h5") writes
        ...     f.attrs["model_config"] = json.dumps(config)
        ...     weights = f.create_group("model_weights")
        ...     weights.attrs["layer_names"] = [b"dense"]
        ...     weights.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        ...     weights["dense/dense/kernel:0"] = np.eye(3, 2, dtype="float32")
        ...     weights["dense/dense/bias:0"] = np.array([0.5, -0.5], dtype="float32")
        >>> from ferronet.formats import keras_legacy, plan
        >>> dense = ferronet.Sequential([ferronet.Input((3,)), ferronet.layers.Dense(2)])
        >>> with h5py.File("keras2.h5") as f:
        ...     kernel, bias = keras_legacy.read_weights(f["model_weights"], plan.plan_built(dense), "keras2.h5")
        >>> kernel.shape, bias
        ((3, 2), array([ 0.5, -0.5], dtype=float32))
    """
    layer_names = hdf5.names_attr(container, "layer_names", label)
    stored = [n for n in layer_names if n in container and hdf5.names_attr(container[n], "weight_names", label)]
    tops = list(dict.fromkeys(p.top for p in plans))
    if len(stored) != len(tops):
        raise FileFormatError(f"The model has {len(tops)} layers with weights ({tops}). Received: {len(stored)} "
                              f"layers with weights ({stored}) in {label}")
    by_name = dict.fromkeys(tops)
    for top, name in zip(tops, stored):
        by_name[top] = top if top in stored else name  # layer names differ (renamed model): match by position
    arrays = []
    for p in plans:
        group = container[by_name[p.top]]
        names = hdf5.names_attr(group, "weight_names", label)
        index = {}
        for full in names:
            parts = full.split(":")[0].split("/")
            if len(parts) >= 2:
                index.setdefault((parts[-2], parts[-1]), full)
        for i, (wname, shape) in enumerate(p.weights):
            full = index.get((p.layer_name, wname))
            if full is None:
                j = p.offset + i
                if j >= len(names):
                    raise FileFormatError(f"Layer {p.top!r} has more weights in the model than the {len(names)} "
                                          f"in the file. Received: {label}")
                full = names[j]
            arrays.append(hdf5.read_dataset(group, full, shape, label, f"{p.layer_name}/{wname}",
                                            integer=wname == "count"))
    return arrays


def _json_attr(f, key, label):
    text = hdf5.text_attr(f, key, label)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"The HDF5 attribute {key!r} is not valid JSON ({e}). Received: {label}") from None


def load_model(source, label, custom_objects=None, compile=True):
    """A ferronet model from a Keras 2 ``.h5`` file (path or file object): Sequential or functional models.

    Raises:
        FileFormatError: for a damaged file, a weights-only file, or a layer/argument ferronet does not have.

    Example:
        A one-layer Keras 2 file, written here with h5py to stand for one saved by Keras 2
        (``ferronet.models.load_model("keras2.h5")`` routes such a file here):

        >>> import h5py, json
        >>> config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        ...     {"class_name": "Dense", "config": {"name": "dense", "units": 2, "batch_input_shape": [None, 3]}}]}}
        >>> with h5py.File("keras2.h5", "w") as f:  # what Keras 2's model.save("keras2.h5") writes
        ...     f.attrs["model_config"] = json.dumps(config)
        ...     weights = f.create_group("model_weights")
        ...     weights.attrs["layer_names"] = [b"dense"]
        ...     weights.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        ...     weights["dense/dense/kernel:0"] = np.eye(3, 2, dtype="float32")
        ...     weights["dense/dense/bias:0"] = np.array([0.5, -0.5], dtype="float32")
        >>> from ferronet.formats import keras_legacy
        >>> restored = keras_legacy.load_model("keras2.h5", "filepath='keras2.h5'")
        >>> type(restored).__name__, restored.predict(np.array([[1.0, 2.0, 3.0]]), verbose=0)
        ('Sequential', array([[1.5, 1.5]], dtype=float32))
    """
    with hdf5.reading(label), hdf5.open_file(source, label) as f:
        config = _json_attr(f, "model_config", label)
        if config is None:
            raise FileFormatError(f"This .h5 file holds weights only (no model_config): create the model and call "
                                  f"model.load_weights(...). Received: {label}")
        fconfig = keras_config.from_keras(config, label, custom_objects)
        plans, build = plan.plan_model(fconfig, label, custom_objects)
        arrays = read_weights(_container(f, label), plans, label)
        training = _json_attr(f, "training_config", label) if compile else None
    model = build()
    plan.assign_all(model, arrays, label, plans)
    if isinstance(training, dict):
        compile_config = dict(training)
        compile_config["optimizer"] = compile_config.pop("optimizer_config", None)
        keras_v3.compile_from_keras(model, compile_config, label)
    return model


def load_weights(model, source, label):
    """Load a Keras 2 ``.h5`` weights file (or a full model file's weights) into a built model; all-or-nothing.

    Example:
        A one-layer Keras 2 file, written here with h5py to stand for one saved by Keras 2
        (``model.load_weights("keras2.h5")`` routes such a file here):

        >>> import h5py, json
        >>> config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        ...     {"class_name": "Dense", "config": {"name": "dense", "units": 2, "batch_input_shape": [None, 3]}}]}}
        >>> with h5py.File("keras2.h5", "w") as f:  # what Keras 2's model.save("keras2.h5") writes
        ...     f.attrs["model_config"] = json.dumps(config)
        ...     weights = f.create_group("model_weights")
        ...     weights.attrs["layer_names"] = [b"dense"]
        ...     weights.create_group("dense").attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        ...     weights["dense/dense/kernel:0"] = np.eye(3, 2, dtype="float32")
        ...     weights["dense/dense/bias:0"] = np.array([0.5, -0.5], dtype="float32")
        >>> from ferronet.formats import keras_legacy
        >>> dense = ferronet.Sequential([ferronet.Input((3,)), ferronet.layers.Dense(2)])
        >>> keras_legacy.load_weights(dense, "keras2.h5", "filepath='keras2.h5'")
        >>> dense.layers[0].bias.numpy()
        array([ 0.5, -0.5], dtype=float32)
    """
    keras_v3.check_built(model, "load_weights()")
    plans = plan.plan_built(model)
    with hdf5.reading(label), hdf5.open_file(source, label) as f:
        arrays = read_weights(_container(f, label), plans, label)
    plan.assign_all(model, arrays, label, plans)
