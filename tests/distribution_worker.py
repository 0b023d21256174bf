"""One scenario of data-parallel training, run in every process by ``mpiexec -n 2`` from
``tests/test_distribution_mpi.py`` (and in the test process itself for the one-process references).

Usage: python distribution_worker.py <scenario> <output folder>
Each process writes its results to ``<output folder>/<scenario>-<rank>.npz``.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import ferronet as fn
from ferronet import callbacks, distribution, layers, regularizers

BATCH = 27  # 200 training samples: batches of 27 split 14/13, and a last batch of 11 split 6/5
EPOCHS = 3


def data(n=250, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = (x[:, :3].argmax(axis=1) + (x[:, 3] > 1.0)) % 3
    return x, y


def build(seed):
    fn.utils.set_random_seed(seed)
    model = fn.Sequential([
        layers.Input((8,)),
        layers.Dense(16, activation="relu", kernel_regularizer=regularizers.L2(1e-3)),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Batches:
    """A PyDataset-like source: the same seeded global batches in every process."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epoch = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        order = np.random.default_rng(self.epoch).permutation(len(self.x))
        idx = order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[idx], self.y[idx]

    def on_epoch_end(self):
        self.epoch += 1


def save(out, name, rank, model, **extra):
    np.savez(os.path.join(out, f"{name}-{rank}.npz"), *model.get_weights(),
             **{k: np.asarray(v) for k, v in extra.items()})


def train(out, shuffle, strategy=None):
    """Rank-dependent initial weights (the broadcast must fix them), file-writing callbacks, validation."""
    strategy = strategy or distribution.DataParallel()
    rank = strategy.process_id
    model = build(100 + rank)
    x, y = data()
    folder = os.path.join(out, f"rank{rank}")
    os.makedirs(folder, exist_ok=True)
    cbs = [callbacks.ModelCheckpoint(os.path.join(folder, "ckpt.ferronet")),
           callbacks.CSVLogger(os.path.join(folder, "log.csv"))]
    history = strategy.fit(model, x, y, batch_size=BATCH, epochs=EPOCHS, validation_split=0.2, shuffle=shuffle,
                           seed=7, callbacks=cbs, verbose=2)
    xt, yt = data(90, seed=2)
    evaluation = strategy.evaluate(model, xt, yt, batch_size=BATCH, return_dict=True)
    h = history.history
    return model, {"loss": h["loss"], "accuracy": h["accuracy"], "val_loss": h["val_loss"],
                   "val_accuracy": h["val_accuracy"], "eval": [evaluation["loss"], evaluation["accuracy"]]}


def source(strategy=None):
    strategy = strategy or distribution.DataParallel()
    model = build(100)
    x, y = data()
    history = strategy.fit(model, Batches(x, y, 40), epochs=EPOCHS, verbose=0)
    return model, {"loss": history.history["loss"]}


def main(scenario, out):
    comm = distribution.initialize()
    rank = comm.rank
    if scenario in ("train", "train_shuffled"):
        model, results = train(out, shuffle=scenario == "train_shuffled")
        save(out, scenario, rank, model, **results, threads=fn.get_num_threads(), shared=comm._shared)
    elif scenario == "source":
        model, results = source()
        save(out, scenario, rank, model, **results)
    elif scenario == "batchnorm":
        # Each process normalizes with its own part of the batch; the moving statistics are averaged per epoch.
        fn.utils.set_random_seed(0)
        model = fn.Sequential([layers.Input((8,)), layers.Dense(16), layers.BatchNormalization(),
                               layers.Activation("relu"), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x, y = data()
        distribution.DataParallel().fit(model, x, y, batch_size=BATCH, epochs=2, verbose=0)
        save(out, scenario, rank, model)
    elif scenario == "broadcast":
        # Process 0 alone has trained a step (Adam slots, iterations); the broadcast gives everyone its state.
        model = build(100 + rank)
        x, y = data()
        if rank == 0:
            model.train_on_batch(x[:32], y[:32])
        distribution.broadcast_weights(model)
        state = model.optimizer._state_for(model.trainable_weights)
        save(out, scenario, rank, model, iterations=model.optimizer.iterations,
             **{k.replace("/", "_"): v for k, v in state.items()})
    elif scenario == "apply_gradients":
        # A custom loop: each process brings its own gradients; the update uses their mean.
        model = build(100)
        opt = distribution.DistributedOptimizer(fn.optimizers.SGD(learning_rate=1.0))
        before = [w.copy() for w in model.get_weights()]
        grads = [np.full(v.shape, rank + 1.0, v.dtype) for v in model.trainable_weights]
        opt.apply_gradients(zip(grads, model.trainable_weights))
        opt.apply(grads, model.trainable_weights)
        np.savez(os.path.join(out, f"{scenario}-{rank}.npz"),
                 *[b - a for a, b in zip(model.get_weights(), before)])
    elif scenario == "different_lengths":
        x, y = data(250 - rank)
        distribution.DataParallel().fit(build(0), x, y, batch_size=BATCH, verbose=0)
    elif scenario == "small_batch":
        x, y = data()
        distribution.DataParallel().fit(build(0), x, y, batch_size=1, verbose=0)
    elif scenario == "crash":
        def fail(epoch, logs):
            if rank == 1 and epoch == 1:
                raise RuntimeError("a failure on purpose in process 1")

        x, y = data()
        distribution.DataParallel().fit(build(0), x, y, batch_size=BATCH, epochs=50, verbose=0,
                                        callbacks=[callbacks.LambdaCallback(on_epoch_begin=fail)])
    elif scenario == "stop_on_one":
        # Process 1 alone stops training mid-epoch (as TerminateOnNaN would on its own NaN loss).
        def stop(batch, logs):
            if rank == 1 and batch == 3:
                model.stop_training = True

        model = build(0)
        x, y = data()
        history = distribution.DataParallel().fit(model, x, y, batch_size=BATCH, epochs=5, verbose=0,
                                                  callbacks=[callbacks.LambdaCallback(on_train_batch_end=stop)])
        save(out, scenario, rank, model, epochs=len(history.history["loss"]), steps=model.optimizer.iterations,
             loss=history.history["loss"])
    elif scenario == "stall":
        if rank == 1:
            time.sleep(30)  # never reaches the collective in time
        x, y = data()
        distribution.DataParallel().fit(build(0), x, y, batch_size=BATCH, verbose=0)
    else:
        raise ValueError(f"unknown scenario. Received: {scenario!r}")
    print(json.dumps({"scenario": scenario, "rank": rank, "done": True}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
