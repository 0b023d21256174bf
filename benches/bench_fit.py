"""Training-speed benchmark: one epoch of MNIST-shaped data (synthetic), two threads.

Run ``python benches/bench_fit.py`` for the table, or through pytest-benchmark
(``pytest benches/bench_fit.py``). Compares ferronet's ``fit`` with a plain
NumPy implementation of the same network contained here (and PyTorch eager when
installed, and Keras 3 on its backend when keras is), and reports page faults
per training step after warm-up and the peak resident memory of each run (each
run in its own process). A peer that is not installed is skipped.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

N = 60000


def data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return x, y


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- ferronet


def ferronet_model(kind):
    import ferronet as fn
    from ferronet import layers

    fn.utils.set_random_seed(0)
    if kind == "mlp":
        m = fn.Sequential([layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dropout(0.2),
                           layers.Dense(10, activation="softmax")])
    else:
        m = fn.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
                           layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                           layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def run_ferronet(kind, batch, n=N):
    import ferronet as fn

    fn.set_num_threads(2)
    x, y = data(n)
    if kind == "cnn":
        x = x[..., None]
    m = ferronet_model(kind)
    m.fit(x[: batch * 20], y[: batch * 20], batch_size=batch, epochs=1, verbose=0)  # warm-up: buffers, pool
    f0, t0 = faults(), time.perf_counter()
    m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    dt = time.perf_counter() - t0
    steps = -(-n // batch)
    return {"seconds": dt * N / n, "faults_per_step": (faults() - f0) / steps, "peak_rss_mb": peak_rss_mb()}


# ---------------------------------------------------------------- NumPy reference


class NumpyAdam:
    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
        self.p, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        lr = self.lr * np.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m += (g - m) * (1 - self.b1)
            v += (g * g - v) * (1 - self.b2)
            p -= lr * m / (np.sqrt(v) + self.eps)


def run_numpy_mlp(batch, n=N):
    """The tutorial MLP in plain NumPy (relu, inverted dropout, softmax cross-entropy, Adam)."""
    rng = np.random.default_rng(0)
    x, y = data(n)
    x = x.reshape(n, -1)
    w1 = (rng.standard_normal((784, 512)) * np.sqrt(2 / 784)).astype(np.float32)
    b1 = np.zeros(512, np.float32)
    w2 = (rng.standard_normal((512, 10)) * np.sqrt(2 / 512)).astype(np.float32)
    b2 = np.zeros(10, np.float32)
    opt = NumpyAdam([w1, b1, w2, b2])

    def epoch(x, y):
        idx = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            xb, yb = x[idx[s : s + batch]], y[idx[s : s + batch]]
            h = np.maximum(xb @ w1 + b1, 0)
            mask = (rng.random(h.shape) >= 0.2).astype(np.float32) / 0.8
            hd = h * mask
            z = hd @ w2 + b2
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            dz = p
            dz[np.arange(len(yb)), yb] -= 1
            dz /= len(yb)
            dw2, db2 = hd.T @ dz, dz.sum(0)
            dh = (dz @ w2.T) * mask * (h > 0)
            dw1, db1 = xb.T @ dh, dh.sum(0)
            opt.step([dw1, db1, dw2, db2])

    epoch(x[: batch * 20], y[: batch * 20])
    f0, t0 = faults(), time.perf_counter()
    epoch(x, y)
    dt = time.perf_counter() - t0
    return {"seconds": dt * N / n, "faults_per_step": (faults() - f0) / -(-n // batch), "peak_rss_mb": peak_rss_mb()}


def run_numpy_cnn(batch, n=N):
    """The CNN in plain NumPy (im2col + matmul), timed on a slice and scaled to an epoch."""
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from ferronet._bench import numpy_conv2d, numpy_conv2d_backward, numpy_maxpool2x2, numpy_maxpool2x2_backward

    rng = np.random.default_rng(0)
    x, y = data(n)
    x = x[..., None]
    k1 = (rng.standard_normal((3, 3, 1, 32)) * 0.3).astype(np.float32)
    k2 = (rng.standard_normal((3, 3, 32, 64)) * 0.05).astype(np.float32)
    w3 = (rng.standard_normal((1600, 128)) * 0.03).astype(np.float32)
    w4 = (rng.standard_normal((128, 10)) * 0.1).astype(np.float32)
    bs = [np.zeros(32, np.float32), np.zeros(64, np.float32), np.zeros(128, np.float32), np.zeros(10, np.float32)]
    opt = NumpyAdam([k1, k2, w3, w4, *bs])

    def step(xb, yb):
        c1, cols1 = numpy_conv2d(xb, k1)
        a1 = np.maximum(c1 + bs[0], 0)
        p1, v1 = numpy_maxpool2x2(a1)
        c2, cols2 = numpy_conv2d(p1, k2)
        a2 = np.maximum(c2 + bs[1], 0)
        p2, v2 = numpy_maxpool2x2(a2)
        f = p2.reshape(len(xb), -1)
        h = np.maximum(f @ w3 + bs[2], 0)
        z = h @ w4 + bs[3]
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        dz = p
        dz[np.arange(len(yb)), yb] -= 1
        dz /= len(yb)
        dw4, db4 = h.T @ dz, dz.sum(0)
        dh = (dz @ w4.T) * (h > 0)
        dw3, db3 = f.T @ dh, dh.sum(0)
        dp2 = (dh @ w3.T).reshape(p2.shape)
        da2 = numpy_maxpool2x2_backward(dp2, a2, p2, v2) * (a2 > 0)
        dp1, dk2, db2 = numpy_conv2d_backward(da2, p1, k2, cols2)
        da1 = numpy_maxpool2x2_backward(dp1, a1, p1, v1) * (a1 > 0)
        _, dk1, db1 = numpy_conv2d_backward(da1, xb, k1, cols1)
        opt.step([dk1, dk2, dw3, dw4, db1, db2, db3, db4])

    steps = 40
    step(x[:batch], y[:batch])
    f0, t0 = faults(), time.perf_counter()
    for s in range(steps):
        step(x[s * batch : (s + 1) * batch], y[s * batch : (s + 1) * batch])
    dt = time.perf_counter() - t0
    return {"seconds": dt / steps * -(-N // batch), "faults_per_step": (faults() - f0) / steps,
            "peak_rss_mb": peak_rss_mb(), "note": f"timed on {steps} steps"}


# ---------------------------------------------------------------- peers (each skipped when not installed)


def run_torch(kind, batch, n=N):
    """The same network in PyTorch eager mode, on the same data and thread count, with its fastest Adam
    (``fused=True``, Keras' epsilon)."""
    import torch
    from torch import nn

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)  # as ferronet and TensorFlow compute: dead units' Adam moments turn subnormal
    torch.manual_seed(0)
    x, y = data(n)
    xt, yt = torch.from_numpy(x[:, None] if kind == "cnn" else x), torch.from_numpy(y)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    try:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, fused=True)
    except (RuntimeError, TypeError):  # a build without the fused CPU kernel
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(count):
        perm = torch.randperm(count)
        for s in range(0, count, batch):
            idx = perm[s : s + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    epoch(batch * 20)
    f0, t0 = faults(), time.perf_counter()
    epoch(n)
    dt = time.perf_counter() - t0
    return {"seconds": dt * N / n, "faults_per_step": (faults() - f0) / -(-n // batch), "peak_rss_mb": peak_rss_mb()}


def run_keras(kind, batch, n=N):
    """The same network in Keras 3 on its installed backend (KERAS_BACKEND, JAX by default), with fit()."""
    import keras

    keras.utils.set_random_seed(0)
    x, y = data(n)
    if kind == "mlp":
        model = keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(512, activation="relu"), keras.layers.Dropout(0.2),
                                  keras.layers.Dense(10, activation="softmax")])
    else:
        x = x[..., None]
        L = keras.layers
        model = keras.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                                  L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                                  L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[: batch * 20], y[: batch * 20], batch_size=batch, epochs=1, verbose=0)  # warm-up: compilation
    f0, t0 = faults(), time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    dt = time.perf_counter() - t0
    return {"seconds": dt * N / n, "faults_per_step": (faults() - f0) / -(-n // batch), "peak_rss_mb": peak_rss_mb(),
            "note": f"keras {keras.__version__} on {keras.backend.backend()}"}


def _installed(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


RUNS = {
    "ferronet": lambda kind, batch: run_ferronet(kind, batch),
    "numpy": lambda kind, batch: run_numpy_mlp(batch) if kind == "mlp" else run_numpy_cnn(batch),
}
if _installed("torch"):
    RUNS["pytorch"] = run_torch
if _installed("keras"):
    RUNS["keras"] = run_keras


def run_isolated(framework, kind, batch):
    """One run in a fresh process, so peak memory and page faults are its own."""
    code = (f"import json, sys; sys.path.insert(0, {__file__.rsplit('/', 1)[0]!r}); import bench_fit as b; "
            f"print(json.dumps(b.RUNS[{framework!r}]({kind!r}, {batch})))")
    env = {"OPENBLAS_NUM_THREADS": "2", "FERRONET_NUM_THREADS": "2", "PATH": "/usr/bin:/bin",
           # Peers on two threads too; Keras on JAX unless another backend is asked for.
           "OMP_NUM_THREADS": "2", "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1",
           "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


CASES = [("mlp", 32), ("mlp", 128), ("cnn", 128)]


def main(frameworks=None):
    """Print the table; ``python benches/bench_fit.py keras pytorch`` runs only those (ferronet is always run)."""
    # NOTE: this process stays small (nothing imported that loads a peer framework): a child's peak RSS counts
    # its parent's at the time of the exec.
    machine = subprocess.run([sys.executable, "-c", "from ferronet._bench import machine; print(machine())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    names = ["ferronet"] + [f for f in RUNS if f != "ferronet" and (not frameworks or f in frameworks)]

    print(f"machine: {machine}; one epoch of 60,000 28x28 samples, 2 threads\n")
    print("| network | batch | framework | epoch s | vs ferronet | faults/step | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for kind, batch in CASES:
        res = {fw: run_isolated(fw, kind, batch) for fw in names}
        for fw, r in res.items():
            ratio = r["seconds"] / res["ferronet"]["seconds"]
            if fw == "keras":
                fw = f"keras ({os.environ.get('KERAS_BACKEND', 'jax')})"
            print(f"| {kind} | {batch} | {fw} | {r['seconds']:.2f} | {ratio:.2f}x | {r['faults_per_step']:.1f} | "
                  f"{r['peak_rss_mb']:.0f} |", flush=True)


# ---------------------------------------------------------------- pytest-benchmark


def test_fit_epoch(benchmark):
    import pytest

    for kind, batch in CASES:
        res = {fw: run_isolated(fw, kind, batch) for fw in RUNS}
        for fw, r in res.items():
            benchmark.extra_info[f"{kind}-{batch}-{fw}"] = r
    if not res:
        pytest.skip("nothing ran")
    benchmark.pedantic(lambda: None, rounds=1)


if __name__ == "__main__":
    main(sys.argv[1:])
