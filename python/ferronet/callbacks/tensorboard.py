"""``TensorBoard``: write the losses, metrics, learning rate and weights of ``fit`` as TensorBoard event files.

The event files are written with ``tensorboardX`` (the ``tensorboard`` extra:
``pip install 'ferronet[tensorboard]'``), which needs no TensorFlow; view them
with ``tensorboard --logdir logs``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .base import Callback

__all__ = ["TensorBoard"]


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError(
            "ferronet.callbacks.TensorBoard writes event files with the tensorboardX package, which is not "
            "installed. Install the extra: pip install 'ferronet[tensorboard]' (or pip install tensorboardX). "
            f"Received: {e}"
        ) from None
    return SummaryWriter


def _graph_def(model):
    """The model's layers and their connections as a TensorBoard ``GraphDef``; None for a subclassed
    model, whose connections live in its Python ``call``."""
    from tensorboardX.proto import graph_pb2, node_def_pb2

    from ..models.sequential import Sequential

    nodes = []
    fn_nodes = getattr(model, "_nodes", None)
    if fn_nodes is None and not isinstance(model, Sequential):
        return None
    if fn_nodes is not None:  # functional: one node per layer call
        seen: dict = {}
        for t in model.inputs:
            nodes.append(node_def_pb2.NodeDef(name=t._keras_history[0].name, op="InputLayer"))
        names = {}
        for node in fn_nodes:
            count = seen.get(node.layer.name, 0)
            seen[node.layer.name] = count + 1
            name = node.layer.name if count == 0 else f"{node.layer.name}_{count}"
            inputs = [names.get(id(t), t._keras_history[0].name) for t in node.flat_inputs]
            for t in node.outputs:
                names[id(t)] = name
            nodes.append(node_def_pb2.NodeDef(name=name, op=type(node.layer).__name__, input=inputs))
    else:  # sequential: a chain
        previous = []
        for layer in model.layers:
            nodes.append(node_def_pb2.NodeDef(name=layer.name, op=type(layer).__name__, input=previous))
            previous = [layer.name]
    return graph_pb2.GraphDef(node=nodes)


def _weight_image(value: np.ndarray):
    """A weight as Keras shows it: a bias as a column, a kernel as a matrix (wide side horizontal),
    a 3-D conv kernel as one image per output channel; None for other shapes."""
    w = np.squeeze(value)
    if w.ndim == 1:
        img = w.reshape(1, -1, 1, 1)
    elif w.ndim == 2:
        img = (w.T if w.shape[0] > w.shape[1] else w)[None, :, :, None]
    elif w.ndim == 3:
        img = np.transpose(w, (2, 0, 1))[..., None]
    else:
        return None
    span = img.max() - img.min()
    return ((img - img.min()) / span if span > 0 else np.zeros_like(img)).astype(np.float32)


class TensorBoard(Callback):
    """Logs training to TensorBoard event files, as Keras' ``TensorBoard`` callback.

    At the end of every epoch the training loss and metrics are written to
    ``log_dir/train`` and the validation ones (without their ``val_`` prefix)
    to ``log_dir/validation``, as scalars tagged ``epoch_<name>`` at step
    ``epoch``; the optimizer's learning rate is written as
    ``epoch_learning_rate``. With ``update_freq="batch"`` (or an integer N)
    the running batch values are also written every batch (every N batches)
    as ``batch_<name>`` at the global batch count. Every ``histogram_freq``
    epochs each weight is written as a histogram (``<layer>/<weight>/histogram``)
    and, with ``write_images``, as an image. Each evaluation writes
    ``evaluation_<name>_vs_iterations`` to ``log_dir/validation`` at the
    optimizer's iteration count. ``write_graph`` writes the layer graph.

    Args:
        log_dir: Folder of the event files (sub-folders ``train`` and ``validation``).
        histogram_freq: Epochs between weight histograms; 0 writes none.
        write_graph: Write the model's layer graph (TensorBoard's Graphs tab).
        write_images: Also write weights as images (with ``histogram_freq``).
        write_steps_per_second: Also write training batches per second.
        update_freq: ``"epoch"``, ``"batch"`` or an integer number of batches between batch-level scalars.
        profile_batch: Must be 0: ferronet has no TensorFlow profiler to trace with.
        embeddings_freq: Must be 0: the embedding projector reads TensorFlow checkpoints only.
        embeddings_metadata: Must be None (see ``embeddings_freq``).

    Raises:
        ImportError: tensorboardX is missing (install ``ferronet[tensorboard]``).

    Example:

    >>> tb = ferronet.callbacks.TensorBoard(log_dir="logs/run1", histogram_freq=1)
    >>> history = model.fit(x, y, validation_split=0.2, epochs=3, callbacks=[tb], verbose=0)
    >>> sorted(os.listdir("logs/run1"))  # then: tensorboard --logdir logs
    ['train', 'validation']
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq: int = 0,
        write_graph: bool = True,
        write_images: bool = False,
        write_steps_per_second: bool = False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq: int = 0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, (int, np.integer)) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an integer >= 0. Received: histogram_freq={histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        elif update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer)) or update_freq < 1
        ):
            raise ValueError(
                f"update_freq must be 'epoch', 'batch' or a positive integer. Received: update_freq={update_freq!r}"
            )
        if profile_batch not in (0, None, "0"):
            raise ValueError(
                "TensorBoard profiling traces TensorFlow ops and is not available in ferronet; use profile_batch=0 "
                f"(benchmark with ferronet's benches/ instead). Received: profile_batch={profile_batch!r}"
            )
        if embeddings_freq or embeddings_metadata is not None:
            raise ValueError(
                "The embedding projector reads TensorFlow checkpoints, which ferronet does not write; use "
                f"embeddings_freq=0. Received: embeddings_freq={embeddings_freq!r}, "
                f"embeddings_metadata={embeddings_metadata!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = update_freq
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict = {}
        self._in_fit = False
        self._global_train_batch = 0
        self._batch_start = 0.0
        self._epoch_start = 0.0
        self._epoch_iterations = 0
        if update_freq != "epoch" or write_steps_per_second:
            # per-batch hooks only when they write something, so other runs pay nothing per batch
            self.on_train_batch_begin = self._on_train_batch_begin
            self.on_train_batch_end = self._on_train_batch_end

    # ---------------------------------------------------------------- writers
    def _writer(self, which: str):
        if which not in self._writers:
            folder = self._train_dir if which == "train" else self._val_dir
            # tensorboardX's flush() does not drain its queue: a short flush period keeps a live view current
            self._writers[which] = self._writer_class(folder, flush_secs=5)
        return self._writers[which]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _scalars(self, which: str, prefix: str, values: dict, step: int) -> None:
        writer = self._writer(which)
        for name, value in values.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue  # a vector-valued metric (e.g. F1Score per class) has no scalar plot
            writer.add_scalar(prefix + name, value, step)

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        try:
            return float(optimizer.learning_rate) if optimizer is not None else None
        except (AttributeError, TypeError, ValueError):
            return None

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        if self.write_graph and getattr(self.model, "built", False):
            graph = _graph_def(self.model)
            if graph is not None:
                from tensorboardX.proto import event_pb2

                writer = self._writer("train")
                writer.file_writer.add_event(event_pb2.Event(graph_def=graph.SerializeToString()))

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_iterations = self._global_train_batch

    def _on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def _on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._batch_start
            if elapsed > 0:
                self._writer("train").add_scalar("batch_steps_per_second", 1.0 / elapsed, step)
        if self.update_freq != "epoch" and step % self.update_freq == 0 and isinstance(logs, dict):
            self._scalars("train", "batch_", logs, step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = self._learning_rate()
        if lr is not None:
            train["learning_rate"] = lr
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start
            if elapsed > 0:
                train["steps_per_second"] = (self._global_train_batch - self._epoch_iterations) / elapsed
        if train:
            self._scalars("train", "epoch_", train, epoch)
        if val:
            self._scalars("validation", "epoch_", val, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if not logs or optimizer is None or not hasattr(optimizer, "iterations"):
            return
        self._scalars("validation", "evaluation_", {f"{k}_vs_iterations": v for k, v in logs.items()},
                      int(optimizer.iterations))
        if self._in_fit:
            self._writer("validation").flush()
        else:  # a standalone evaluate: nothing else will close the file
            self._close_writers()

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = getattr(weight, "path", None) or f"{layer.name}/{weight.name}"
                value = np.asarray(weight)
                writer.add_histogram(f"{name}/histogram", value, epoch)
                if self.write_images:
                    image = _weight_image(value)
                    if image is not None:
                        writer.add_images(f"{name}/image", image, epoch, dataformats="NHWC")
