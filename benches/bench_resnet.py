"""A small residual network (functional, skip connections through ``Add``): ferronet against PyTorch eager.

One epoch of 10,000 MNIST-shaped samples (synthetic), batch 64, two threads,
each framework in its own process, interleaved A B A B. The network: a 3x3
convolution to 16 channels, two residual blocks (two 3x3 'same' convolutions
and an ``Add`` of the block's input), global average pooling and a softmax
layer. ferronet trains it through its plan (functional models), PyTorch in its
fastest eager configuration (fused Adam, denormals flushed, channels_last).

    python benches/bench_resnet.py [--peer-python /path/to/venv/bin/python]
    pytest benches/bench_resnet.py         # pytest-benchmark, ferronet only
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np

from _child import peer_main

N = int(os.environ.get("RESNET_BENCH_N", "10000"))
BATCH = 64
THREADS = int(os.environ.get("RESNET_BENCH_THREADS", "2"))


def data(n=N):
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def run_ferronet():
    import ferronet as fn
    from ferronet import layers

    fn.set_num_threads(THREADS)
    fn.utils.set_random_seed(0)
    inputs = fn.Input((28, 28, 1))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    for _ in range(2):
        h = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        h = layers.Conv2D(16, 3, padding="same")(h)
        x = layers.Activation("relu")(layers.add([x, h]))
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    model = fn.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_all, y_all = data()
    model.fit(x_all[:BATCH * 5], y_all[:BATCH * 5], batch_size=BATCH, epochs=1, verbose=0)
    return _timed(lambda: model.fit(x_all, y_all, batch_size=BATCH, epochs=1, verbose=0))


def run_torch():
    import torch
    from torch import nn

    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(16, 16, 3, padding=1)
            self.b = nn.Conv2d(16, 16, 3, padding=1)

        def forward(self, x):
            return torch.relu(x + self.b(torch.relu(self.a(x))))

    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), Block(), Block(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)).to(
        memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x_all, y_all = data()
    xt = torch.from_numpy(x_all).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(y_all)

    def epoch(n):
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    epoch(BATCH * 5)
    return _timed(lambda: epoch(N))


def _timed(fn):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    steps = -(-N // BATCH)
    return {"seconds": seconds, "faults_per_step": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / steps}


RUNNERS = {"ferronet": run_ferronet, "pytorch": run_torch}


def main(argv):
    best = peer_main(__file__, argv, RUNNERS, key="seconds")
    if best is None:
        return
    print(f"Residual network, {N} samples, batch {BATCH}, {THREADS} threads (best of two interleaved rounds)")
    print("| framework | epoch s | vs ferronet | faults/step |")
    print("|---|---|---|---|")
    ours = (best.get("ferronet") or {}).get("seconds")
    for name, res in best.items():
        if res is None:
            print(f"| {name} | not installed | | |")
        elif "error" in res:
            print(f"| {name} | failed: {res['error'][:60]} | | |")
        else:
            ratio = res["seconds"] / ours if ours else float("nan")
            print(f"| {name} | {res['seconds']:.2f} | {ratio:.2f}x | {res['faults_per_step']:.1f} |")


def test_resnet_epoch_ferronet(benchmark):
    global N
    N = 640
    result = benchmark.pedantic(run_ferronet, rounds=1, iterations=1)
    assert result["seconds"] > 0


if __name__ == "__main__":
    main(sys.argv[1:])
