"""Keras 3 files: the ``.keras`` zip and the ``.weights.h5`` weights file, both directions.

A ``.keras`` file is a zip (stored, not compressed) of three members:

- ``metadata.json``: ``{"keras_version", "date_saved"}`` (ferronet adds ``"ferronet_version"``);
- ``config.json``: the model's Keras 3 config (see :mod:`ferronet.formats.keras_config`), with its
  ``compile_config`` when Keras can rebuild it;
- ``model.weights.h5``: one HDF5 group per layer, ``layers/<class>[_n]/vars``, holding its weights as
  datasets ``"0"``, ``"1"``, ... in creation order (Dense: kernel, bias; BatchNormalization: gamma, beta,
  moving_mean, moving_variance; an adapted Normalization: mean, variance and an int32 count); the groups are
  named after the snake-cased class, numbered per class, and a TimeDistributed layer's arrays are those of
  its wrapped layer, under ``layers/time_distributed/layer/vars``; a recurrent layer's are its cell's
  (``layers/lstm/cell/vars``), and so on for the layers :mod:`ferronet.formats.layout` lists.
  A nested model's layers are under its own group (``layers/functional/layers/dense``); a functional
  model's layers are numbered in the order Keras gives its graph (:func:`ferronet.formats.graph.keras_layers`).

A ``.weights.h5`` file is the same HDF5 layout on its own. Optimizer state is
not written (Keras' slot layout changed between its versions); ferronet's own
``.ferronet`` format keeps it.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile

from ..errors import FileFormatError
from . import hdf5, keras_config, layout, plan

__all__ = ["save_model", "save_weights", "load_model", "load_weights", "weights_h5_bytes", "read_weights",
           "compile_from_keras"]

# Keras' layout as of this version is what the files follow (and were checked against).
KERAS_FORMAT_VERSION = "3.15.1"
# config.json and metadata.json are small; a bigger declared size is a foreign or forged file.
_MAX_JSON_BYTES = 64 << 20
# Deflate expands data by at most ~1032x: a member declaring more than that is forged (a zip bomb).
_MAX_RATIO = 1100


def _ferronet_version() -> str:
    from .. import __version__

    return __version__


# ------------------------------------------------------------------ writing
def _layer_groups(model, prefix="layers"):
    """``[(group path, layer name, arrays), ...]`` for every layer of ``model`` (nested models' layers included).

    Each layer gives one entry per Keras 3 group it is saved in (:mod:`ferronet.formats.layout`).
    """
    out = []
    layers = plan.model_layers(model)
    for layer, path in zip(layers, plan.keras_paths(layers, prefix)):
        if type(layer).__name__ in ("Sequential", "Functional"):
            out += _layer_groups(layer, path + "/layers")
            continue
        weights = list(layer.weights)
        for sub, n in layout.layout(layer, len(weights)):
            out.append((layout.join(path, sub), layer.name if not sub else sub.split("/")[-1], weights[:n]))
            weights = weights[n:]
    return out


def weights_h5_bytes(model) -> bytes:
    """The bytes of Keras 3's ``model.weights.h5`` for ``model``.

    Example:
        >>> from ferronet.formats import keras_v3
        >>> keras_v3.weights_h5_bytes(model)[:8]  # an HDF5 file, held in memory
        b'\\x89HDF\\r\\n\\x1a\\n'
    """
    h5 = hdf5.h5py()
    buf = io.BytesIO()
    with h5.File(buf, "w") as f:
        f.create_group("layers")
        for path, name, weights in _layer_groups(model):
            group = f.require_group(path).create_group("vars")
            group.attrs["name"] = name
            for i, v in enumerate(weights):
                group.create_dataset(str(i), data=v.numpy())
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def check_built(model, what):
    if not model.built:
        raise ValueError(f"Model '{model.name}' has no weights yet: build it (call it on data, fit it or "
                         f"model.build(shape)) before {what}. Received: an unbuilt model")


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write ``model`` as a Keras 3 ``.keras`` file (architecture and weights), atomically.

    Raises:
        FileFormatError: for a layer or activation Keras does not have (save those as ``.ferronet``).

    Example:
        >>> import zipfile
        >>> from ferronet.formats import keras_v3
        >>> keras_v3.save_model(model, "classifier.keras")  # what model.save("classifier.keras") calls
        >>> zipfile.ZipFile("classifier.keras").namelist()
        ['metadata.json', 'config.json', 'model.weights.h5']
    """
    from ..saving import _atomic_write

    check_built(model, "saving")
    config = keras_config.to_keras(model)
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "ferronet_version": _ferronet_version(),
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    weights = weights_h5_bytes(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights)
    _atomic_write(filepath, buf.getvalue(), overwrite)


def save_weights(model, filepath, overwrite=True):
    """Write the weights as Keras 3's ``.weights.h5`` (loadable by ``keras_model.load_weights``), atomically.

    Example:
        >>> import h5py
        >>> from ferronet.formats import keras_v3
        >>> keras_v3.save_weights(model, "classifier.weights.h5")  # model.save_weights(...) calls this
        >>> with h5py.File("classifier.weights.h5") as f:  # one group per layer, named as Keras names them
        ...     print(list(f["layers"]), list(f["layers/dense/vars"]))
        ['dense', 'dense_1'] ['0', '1']
    """
    from ..saving import _atomic_write

    check_built(model, "save_weights()")
    _atomic_write(filepath, weights_h5_bytes(model), overwrite)


# ------------------------------------------------------------------ reading
def _member(zf, name, label, limit=None):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise FileFormatError(f"The Keras file is incomplete: {name} is missing. Received: {label}") from None
    if info.file_size > max(info.compress_size, 1) * _MAX_RATIO or (limit is not None and info.file_size > limit):
        raise FileFormatError(f"The Keras file declares {info.file_size} bytes for {name}, more than it can hold "
                              f"(forged or not a Keras file). Received: {label}")
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise FileFormatError(f"The Keras file has a damaged {name} ({e}). Received: {label}") from None


def _json(payload, name, label):
    try:
        return json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FileFormatError(f"The Keras file has a damaged {name} ({e}). Received: {label}") from None


def read_weights(f, plans, label) -> list:
    """The arrays of every planned layer from an open Keras 3 weights file, checked before each read.

    Example:
        >>> import h5py
        >>> from ferronet.formats import keras_v3, plan
        >>> model.save_weights("classifier.weights.h5")
        >>> with h5py.File("classifier.weights.h5") as f:
        ...     arrays = keras_v3.read_weights(f, plan.plan_built(model), "filepath='classifier.weights.h5'")
        >>> [a.shape for a in arrays]
        [(4, 8), (8,), (8, 3), (3,)]
    """
    arrays = []
    for p in plans:
        specs = list(p.weights)
        for path, n in p.groups:
            here, specs = specs[:n], specs[n:]
            if not n:
                continue
            group = f.get(path + "/vars") if path in f else None
            if group is None:
                raise FileFormatError(f"The weights file has no group {path}/vars for layer {p.layer_name!r}. "
                                      f"Received: {label}")
            if len(group.keys()) != n:
                raise FileFormatError(f"Layer {p.layer_name!r} has {n} weights in {path}. Received: "
                                      f"{len(group.keys())} arrays in {group.name} of {label}")
            for i, (name, shape) in enumerate(here):
                arrays.append(hdf5.read_dataset(group, str(i), shape, label, f"{p.layer_name}/{name}",
                                                integer=name == "count"))
    return arrays


def _stored_groups(f):
    """Keras 3 paths that hold at least one array (to catch weights the model would leave unread)."""
    found = []
    group_type = hdf5.h5py().Group

    def visit(name, obj):
        if isinstance(obj, group_type) and name.endswith("/vars") and name.startswith("layers/") and len(obj):
            found.append(name[: -len("/vars")])

    f.visititems(visit)
    return found


def _read_all(f, plans, label):
    """Every planned array, after checking the file holds no arrays for layers outside the plan."""
    extra = sorted(set(_stored_groups(f)) - {g for p in plans for g, n in p.groups if n})
    if extra:
        raise FileFormatError(f"The weights file holds arrays for layers the model does not have (or in groups "
                              f"where Keras 3 does not keep them): {extra}. "
                              f"Received: {label}")
    return read_weights(f, plans, label)


def load_model(payload, label, custom_objects=None, compile=True):
    """A ferronet model from the bytes of a Keras 3 ``.keras`` file (Sequential or functional).

    Raises:
        FileFormatError: for a damaged file or a layer/argument ferronet does not have (named in the message).

    Example:
        >>> from ferronet.formats import keras_v3
        >>> model.save("classifier.keras")
        >>> with open("classifier.keras", "rb") as f:
        ...     restored = keras_v3.load_model(f.read(), "filepath='classifier.keras'")
        >>> restored.output_shape, restored.optimizer  # compiled again from Keras' compile_config
        ((None, 3), <Adam learning_rate=0.001, iterations=0>)
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(payload))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise FileFormatError(f"Not a readable .keras file ({e}); it may be truncated. Received: {label}") from None
    with zf:
        metadata = _json(_member(zf, "metadata.json", label, _MAX_JSON_BYTES), "metadata.json", label)
        version = str(metadata.get("keras_version", "")) if isinstance(metadata, dict) else ""
        if not version.startswith("3."):
            raise FileFormatError(f"ferronet reads .keras files of Keras 3. Received: keras_version={version!r} "
                                  f"in {label}")
        config = _json(_member(zf, "config.json", label, _MAX_JSON_BYTES), "config.json", label)
        fconfig = keras_config.from_keras(config, label, custom_objects)
        plans, build = plan.plan_model(fconfig, label, custom_objects)
        weights = _member(zf, "model.weights.h5", label)
    with hdf5.reading(label), hdf5.open_file(io.BytesIO(weights), label) as f:
        arrays = _read_all(f, plans, label)
    model = build()
    plan.assign_all(model, arrays, label, plans)
    if compile and isinstance(config.get("compile_config"), dict):
        compile_from_keras(model, config["compile_config"], label)
    return model


def compile_from_keras(model, config, label):
    """Compile from Keras' ``compile_config`` when its optimizer, loss and metrics are ferronet's too.

    Otherwise the model stays uncompiled and a warning says why.

    Example:
        >>> from ferronet.formats import keras_v3
        >>> twin = ferronet.models.clone_model(model)  # uncompiled
        >>> config = {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.1}}, "loss": "mse"}
        >>> keras_v3.compile_from_keras(twin, config, "filepath='model.keras'")
        >>> twin.optimizer
        <SGD learning_rate=0.1, iterations=0>
    """
    import warnings

    from .. import optimizers

    if config.get("loss") is None:  # saved before compile(): nothing to restore
        return
    try:
        opt = config.get("optimizer")
        if isinstance(opt, dict):
            class_name = str(opt.get("class_name")).split(">")[-1]  # Keras 2.11+ writes "Custom>Adam"
            known = optimizers._CLASSES.get(class_name) or optimizers._NAMES.get(class_name.lower())
            if known is None:
                raise ValueError(f"unknown optimizer {class_name!r}")
            own = set(known().get_config())
            opt = known.from_config({k: v for k, v in (opt.get("config") or {}).items() if k in own})
        model.compile(optimizer=opt, loss=config.get("loss"), metrics=_metric_names(config.get("metrics")),
                      loss_weights=config.get("loss_weights"),
                      weighted_metrics=_metric_names(config.get("weighted_metrics")))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        warnings.warn(f"The model loaded, but its Keras compile settings are not ferronet's ({e}); it is returned "
                      f"uncompiled: call model.compile(...). Received: {label}", stacklevel=3)


def _metric_names(metrics):
    """Keras' compiled metrics as names: Keras 2 nests them per output and wraps functions in dicts."""
    if metrics is None:
        return None
    out = []
    for m in metrics:
        for item in (m if isinstance(m, list) else [m]):
            if isinstance(item, dict):
                item = (item.get("config") or {}).get("name")
            if not isinstance(item, str):
                raise ValueError(f"unknown metric {item!r}")
            out.append(item)
    return out or None


def load_weights(model, source, label):
    """Load a Keras 3 ``.weights.h5`` (path or file object) into a built ferronet model; all-or-nothing.

    Example:
        >>> from ferronet.formats import keras_v3
        >>> model.save_weights("classifier.weights.h5")
        >>> twin = ferronet.models.clone_model(model)
        >>> keras_v3.load_weights(twin, "classifier.weights.h5", "filepath='classifier.weights.h5'")
        >>> bool(np.array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0)))
        True
    """
    check_built(model, "load_weights()")
    plans = plan.plan_built(model)
    with hdf5.reading(label), hdf5.open_file(source, label) as f:
        arrays = _read_all(f, plans, label)
    plan.assign_all(model, arrays, label, plans)
