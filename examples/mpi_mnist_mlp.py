"""An MNIST MLP trained by several processes at once (data parallelism over MPI).

    pip install 'ferronet[mpi]'
    mpiexec -n 2 python examples/mpi_mnist_mlp.py

Every process runs this same script on the same data. Each global batch of
256 images is cut in two: each process computes the gradients of its half,
one allreduce averages them, and both apply the same update, so their weights
stay identical. Only process 0 prints and writes the checkpoint.
"""

import os

import numpy as np

import ferronet as fn
from ferronet import callbacks, distribution, layers
from ferronet.datasets import DatasetNotFoundError

QUICK = os.environ.get("FERRONET_EXAMPLES_QUICK") == "1"

comm = distribution.initialize()  # rank and size from the launcher; one thread per process on a full node
strategy = distribution.DataParallel()


def load():
    try:
        return fn.datasets.mnist.load_data()
    except DatasetNotFoundError:
        if not QUICK:
            raise
        # Quick smoke runs on machines without MNIST: noise of the same shapes.
        rng = np.random.default_rng(0)
        return ((rng.integers(0, 256, (6000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 6000)),
                (rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 1000)))


# Process 0 downloads MNIST (if needed) while the others wait, then everyone reads the cached file.
if comm.rank == 0:
    (x_train, y_train), (x_test, y_test) = load()
comm.barrier()
if comm.rank != 0:
    (x_train, y_train), (x_test, y_test) = load()
x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:6000], y_train[:6000], x_test[:1000], y_test[:1000]

fn.utils.set_random_seed(0)
model = fn.Sequential([
    layers.Input((784,)),
    layers.Dense(256, activation="relu"),
    layers.Dense(256, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

history = strategy.fit(
    model, x_train, y_train,
    batch_size=256,  # the global batch: 128 samples per process with two processes
    epochs=2 if QUICK else 5,
    validation_split=0.1,
    callbacks=[callbacks.ModelCheckpoint("mpi_mnist_mlp.ferronet", monitor="val_accuracy", save_best_only=True)],
    verbose=2,
)
loss, accuracy = strategy.evaluate(model, x_test, y_test, batch_size=1000, verbose=0)
if comm.rank == 0:
    print(f"{comm.size} processes, {fn.get_num_threads()} thread(s) each: test accuracy {accuracy:.4f}")
