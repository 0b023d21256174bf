"""Convolution, decoder, sequence and depthwise layers against PyTorch eager, and the cost of augmentation in ``fit``.

Forward + backward (input and weight gradients) of single layers at the shapes
of a residual block on 16 channels, of the three convolutions of the
performance guide (a first layer on one channel, the tutorial CNN's second
layer, a 64-channel 'same' layer), of a 28x28 convolutional autoencoder's
decoder and of a small time-series model, then one epoch of a convolutional denoising autoencoder on synthetic
MNIST-shaped data, and that epoch again with a ``RandomFlip`` +
``RandomTranslation`` front end (ferronet only: the augmentation's share).
Each framework runs in its own process, interleaved A B A B, best of two
rounds; PyTorch in its fastest eager configuration (channels_last, denormals
flushed, fused Adam). A missing peer is reported as not installed.

    python benches/bench_layers.py [--peer-python /path/to/venv/bin/python]
    pytest benches/bench_layers.py         # pytest-benchmark, ferronet only
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from _child import peer_main, peer_rows

THREADS = int(os.environ.get("LAYERS_BENCH_THREADS", "2"))
N = int(os.environ.get("LAYERS_BENCH_N", "4096"))
BATCH = 64

# name -> (layer kind, input shape, arguments)
CASES = {
    "Conv2D 28x28x16 -> 16, 3x3 same": ("conv", (64, 28, 28, 16), dict(filters=16, kernel_size=3, padding="same")),
    "Conv2D 28x28x1 -> 32, 3x3": ("conv", (64, 28, 28, 1), dict(filters=32, kernel_size=3, padding="valid")),
    "Conv2D 13x13x32 -> 64, 3x3": ("conv", (64, 13, 13, 32), dict(filters=64, kernel_size=3, padding="valid")),
    "Conv2D 32x32x64 -> 64, 3x3 same": ("conv", (32, 32, 32, 64), dict(filters=64, kernel_size=3, padding="same")),
    "Conv2DTranspose 7x7x32 -> 14x14x32": ("convT", (64, 7, 7, 32), dict(filters=32, kernel_size=3)),
    "Conv2DTranspose 14x14x32 -> 28x28x32": ("convT", (64, 14, 14, 32), dict(filters=32, kernel_size=3)),
    "Conv1D 500 steps x 64 -> 64, k=3": ("conv1d", (32, 500, 64), dict(filters=64, kernel_size=3)),
    "DepthwiseConv2D 28x28x32, 3x3 same": ("depthwise", (64, 28, 28, 32), dict(kernel_size=3)),
}


def _best(fn, reps=7):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def data(n=N):
    rng = np.random.default_rng(0)
    clean = rng.random((n, 28, 28, 1), dtype=np.float32)
    noisy = np.clip(clean + 0.4 * rng.standard_normal(clean.shape, dtype=np.float32), 0, 1)
    return noisy, clean


# ----------------------------------------------------------------- ferronet
def ferronet_layer(kind, shape, args):
    import ferronet as fn
    from ferronet import layers

    x = fn.constant(np.random.default_rng(1).standard_normal(shape, dtype=np.float32))
    layer = {"conv": lambda: layers.Conv2D(**args),
             "convT": lambda: layers.Conv2DTranspose(strides=2, padding="same", **args),
             "conv1d": lambda: layers.Conv1D(**args),
             "depthwise": lambda: layers.DepthwiseConv2D(padding="same", **args)}[kind]()
    probe = np.random.default_rng(2).standard_normal(layer(x).shape, dtype=np.float32)

    def step():
        with fn.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return tape.gradient(y, [x] + layer.trainable_weights, output_gradients=probe)

    return _best(step)


def ferronet_autoencoder(augment):
    import ferronet as fn
    from ferronet import layers

    fn.utils.set_random_seed(0)
    front = [layers.RandomFlip("horizontal", seed=1), layers.RandomTranslation(0.1, 0.1, seed=2)] if augment else []
    model = fn.Sequential([
        fn.Input((28, 28, 1)), *front,
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same"),
        layers.Conv2D(32, 3, activation="relu", padding="same"), layers.MaxPooling2D(2, padding="same"),
        layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
        layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
        layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    noisy, clean = data()
    model.fit(noisy[:BATCH * 4], clean[:BATCH * 4], batch_size=BATCH, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(noisy, clean, batch_size=BATCH, epochs=1, verbose=0)
    return time.perf_counter() - t0


def run_ferronet():
    import ferronet as fn

    fn.set_num_threads(THREADS)
    out = {name: ferronet_layer(*case) for name, case in CASES.items()}
    # with and without augmentation interleaved in this process, best of two each
    plain, aug = [], []
    for _ in range(2):
        plain.append(ferronet_autoencoder(False))
        aug.append(ferronet_autoencoder(True))
    out["denoising autoencoder epoch"] = min(plain)
    out["same + RandomFlip + RandomTranslation"] = min(aug)
    return out


# ------------------------------------------------------------------ pytorch
def run_torch():
    import torch
    from torch import nn

    torch.set_num_threads(THREADS)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    cl = torch.channels_last
    out = {}
    for name, (kind, shape, args) in CASES.items():
        x = torch.from_numpy(np.random.default_rng(1).standard_normal(shape, dtype=np.float32))
        if kind == "conv1d":
            layer = nn.Conv1d(shape[-1], args["filters"], args["kernel_size"])
            x = x.permute(0, 2, 1).contiguous()
        else:
            x = x.permute(0, 3, 1, 2).contiguous(memory_format=cl)
            c = shape[-1]
            layer = {"conv": lambda: nn.Conv2d(c, args["filters"], 3, padding=1 if args["padding"] == "same" else 0),
                     "convT": lambda: nn.ConvTranspose2d(c, args["filters"], 3, stride=2, padding=1, output_padding=1),
                     "depthwise": lambda: nn.Conv2d(c, c, 3, padding=1, groups=c)}[kind]().to(memory_format=cl)
        x.requires_grad_(True)
        probe = torch.randn_like(layer(x))

        def step(layer=layer, x=x, probe=probe):
            x.grad = None
            layer.zero_grad(set_to_none=True)
            layer(x).backward(probe)

        out[name] = _best(step)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.Conv2d(32, 1, 3, padding=1), nn.Sigmoid()).to(memory_format=cl)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    noisy, clean = (torch.from_numpy(a).permute(0, 3, 1, 2).contiguous(memory_format=cl) for a in data())

    def epoch(n):
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            nn.functional.binary_cross_entropy(model(noisy[idx]), clean[idx]).backward()
            opt.step()

    epoch(BATCH * 4)
    t0 = time.perf_counter()
    epoch(N)
    out["denoising autoencoder epoch"] = time.perf_counter() - t0
    return out


RUNNERS = {"ferronet": run_ferronet, "pytorch": run_torch}


def main(argv):
    best = peer_main(__file__, argv, RUNNERS)
    if best is None:
        return
    ours = best.get("ferronet") or {}
    print(f"Layers forward + backward and a denoising-autoencoder epoch ({N} samples, batch {BATCH}), "
          f"{THREADS} threads, best of two interleaved rounds")
    print("| case | ferronet ms | PyTorch ms | PyTorch / ferronet |")
    print("|---|---|---|---|")
    print("\n".join(peer_rows(ours, best.get("pytorch"))))
    if "same + RandomFlip + RandomTranslation" in ours:
        extra = ours["same + RandomFlip + RandomTranslation"] / ours["denoising autoencoder epoch"] - 1
        print(f"augmentation cost: {extra * 100:+.1f}% of the epoch")


def test_layers_forward_backward_ferronet(benchmark):
    name = "DepthwiseConv2D 28x28x32, 3x3 same"
    seconds = benchmark.pedantic(ferronet_layer, args=CASES[name], rounds=1, iterations=1)
    assert seconds > 0


def test_augmented_epoch_ferronet(benchmark):
    global N
    N = 512
    seconds = benchmark.pedantic(ferronet_autoencoder, args=(True,), rounds=1, iterations=1)
    assert seconds > 0


if __name__ == "__main__":
    main(sys.argv[1:])
