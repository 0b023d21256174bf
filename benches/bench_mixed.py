"""mixed_bfloat16 training speed: one epoch of MNIST-shaped data (synthetic), float32 against mixed_bfloat16.

Run ``python benches/bench_mixed.py`` for the table, or through pytest-benchmark
(``pytest benches/bench_mixed.py``). Rows: the tutorial MLP at batch 128 and
the small CNN (bench_fit's networks) in ferronet under the ``float32`` and
``mixed_bfloat16`` policies, and in PyTorch eager at its fastest (fused Adam,
denormals flushed, channels_last for the CNN) in float32 and under CPU
autocast to bfloat16 (oneDNN, on AMX where the CPU has it). PyTorch runs in the
Python named by ``FERRONET_TORCH_PYTHON`` (default: this one) and is skipped
when it cannot import torch. Each run is a fresh process on two threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
N = 60000
CASES = [("mlp", 128), ("cnn", 128)]


def run_ferronet(kind, batch, policy, n=N):
    sys.path.insert(0, HERE)
    import bench_fit
    import ferronet as fn

    fn.set_num_threads(2)
    fn.mixed_precision.set_global_policy(policy)
    x, y = bench_fit.data(n)
    if kind == "cnn":
        x = x[..., None]
    m = bench_fit.ferronet_model(kind)
    m.fit(x[: batch * 20], y[: batch * 20], batch_size=batch, epochs=1, verbose=0)  # warm-up: buffers, pool
    t0 = time.perf_counter()
    hist = m.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
    dt = time.perf_counter() - t0
    return {"seconds": dt * N / n, "loss": hist.history["loss"][-1], "amx": fn.amx()}


def run_torch(kind, batch, autocast, n=N):
    """bench_fit's PyTorch networks at their fastest eager setting; ``autocast``: CPU autocast to bfloat16."""
    import torch
    from torch import nn

    sys.path.insert(0, HERE)
    import bench_fit

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    x, y = bench_fit.data(n)
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))
        xt = torch.from_numpy(x)
    else:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
        model = model.to(memory_format=torch.channels_last)
        xt = torch.from_numpy(x[:, None]).contiguous(memory_format=torch.channels_last)
    yt = torch.from_numpy(y)
    try:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(count):
        perm = torch.randperm(count)
        for s in range(0, count, batch):
            idx = perm[s : s + batch]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return float(loss)

    epoch(batch * 20)
    t0 = time.perf_counter()
    loss = epoch(n)
    return {"seconds": (time.perf_counter() - t0) * N / n, "loss": loss}


RUNS = {
    "ferronet mixed_bfloat16": lambda kind, batch: run_ferronet(kind, batch, "mixed_bfloat16"),
    "ferronet float32": lambda kind, batch: run_ferronet(kind, batch, "float32"),
    "pytorch float32": lambda kind, batch: run_torch(kind, batch, False),
    "pytorch autocast bfloat16": lambda kind, batch: run_torch(kind, batch, True),
}


def _python_for(name):
    return os.environ.get("FERRONET_TORCH_PYTHON", sys.executable) if name.startswith("pytorch") else sys.executable


def _has_torch(python):
    return subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0


def run_isolated(name, kind, batch):
    code = (f"import json, sys; sys.path.insert(0, {HERE!r}); import bench_mixed as b; "
            f"print(json.dumps(b.RUNS[{name!r}]({kind!r}, {batch})))")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", FERRONET_NUM_THREADS="2", OMP_NUM_THREADS="2")
    out = subprocess.run([_python_for(name), "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def available():
    torch_ok = _has_torch(_python_for("pytorch"))
    return [name for name in RUNS if torch_ok or not name.startswith("pytorch")]


def main():
    machine = subprocess.run([sys.executable, "-c", "from ferronet._bench import machine; print(machine())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"machine: {machine}; load average {os.getloadavg()[0]:.2f}; one epoch of 60,000 28x28 samples, 2 threads\n")
    print("| network | batch | run | epoch s | vs ferronet mixed_bfloat16 | last loss |")
    print("|---|---|---|---|---|---|")
    for kind, batch in CASES:
        base = None
        for name in available():  # "ferronet mixed_bfloat16" runs first: the base of the ratios; rows print as they end
            r = run_isolated(name, kind, batch)
            base = base or r["seconds"]
            print(f"| {kind} | {batch} | {name} | {r['seconds']:.2f} | {r['seconds'] / base:.2f}x | {r['loss']:.3f} |",
                  flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def test_mixed_epoch(benchmark):
    for kind, batch in CASES:
        for name in available():
            benchmark.extra_info[f"{kind}-{batch}-{name}"] = run_isolated(name, kind, batch)
    benchmark.pedantic(lambda: None, rounds=1)


if __name__ == "__main__":
    main()
