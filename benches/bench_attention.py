"""Multi-head self-attention, forward and backward: ferronet against PyTorch eager.

A 4-head attention layer over 128 tokens of width 64 (key_dim 16), batch 32:
forward, then the gradients of the input and of the four projections for a
fixed output gradient. ferronet runs ``layers.MultiHeadAttention`` under a
``GradientTape`` (fused attention kernel); PyTorch ``nn.MultiheadAttention``
with ``batch_first=True`` and ``need_weights=False`` (its fused
scaled-dot-product path), denormals flushed. Each framework runs in its own
process, and the script alternates them (A B A B) and keeps each one's best.

    python benches/bench_attention.py [--peer-python /path/to/venv/bin/python] [--causal]
    pytest benches/bench_attention.py      # pytest-benchmark, ferronet (and PyTorch if importable)
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from _child import best_seconds, run_child

BATCH, TOKENS, WIDTH, HEADS = 32, 128, 64, 4
THREADS = int(os.environ.get("ATTENTION_BENCH_THREADS", "2"))


def data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((BATCH, TOKENS, WIDTH)).astype(np.float32),
            rng.standard_normal((BATCH, TOKENS, WIDTH)).astype(np.float32))


def ferronet_step(causal=False):
    """One forward+backward of the layer as a function of no arguments."""
    import ferronet as fn

    x, dy = data()
    layer = fn.layers.MultiHeadAttention(num_heads=HEADS, key_dim=WIDTH // HEADS)
    xv = fn.Variable(x)
    layer(x, x)
    sources = [xv] + layer.trainable_weights

    def step():
        with fn.GradientTape() as tape:
            y = layer(xv, xv, use_causal_mask=causal)
        return tape.gradient(y, sources, output_gradients=dy)

    return step


def torch_step(causal=False):
    import torch
    from torch import nn

    torch.set_flush_denormal(True)
    x, dy = data()
    mha = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
    xt = torch.from_numpy(x).requires_grad_(True)
    dyt = torch.from_numpy(dy)
    mask = nn.Transformer.generate_square_subsequent_mask(TOKENS) if causal else None

    def step():
        mha.zero_grad(set_to_none=True)
        xt.grad = None
        out = mha(xt, xt, xt, need_weights=False, attn_mask=mask, is_causal=causal)[0]
        out.backward(dyt)

    return step


def _best_ms(step):
    return best_seconds(step) * 1e3


def _child_run(name, causal):
    if name == "ferronet":
        import ferronet as fn

        fn.set_num_threads(THREADS)
        return {"ms": _best_ms(ferronet_step(causal))}
    import torch

    torch.set_num_threads(THREADS)
    return {"ms": _best_ms(torch_step(causal))}


def _child(name, python, causal):
    return run_child(__file__, python, name, *(["--causal"] if causal else []))


def main(argv):
    causal = "--causal" in argv
    if argv[:1] == ["--child"]:
        print(json.dumps(_child_run(argv[1], causal)))
        return
    peer = argv[argv.index("--peer-python") + 1] if "--peer-python" in argv else sys.executable
    best = {}
    for _ in range(3):
        for name in ("ferronet", "pytorch"):
            res = _child(name, sys.executable if name == "ferronet" else peer, causal)
            if res is None or "error" in res:
                best.setdefault(name, res)
            elif not best.get(name) or "error" in best[name] or res["ms"] < best[name]["ms"]:
                best[name] = res
    load = os.getloadavg()[0]
    print(f"MultiHeadAttention forward+backward, batch {BATCH}, {TOKENS} tokens, width {WIDTH}, {HEADS} heads"
          f"{', causal' if causal else ''}, {THREADS} threads, load {load:.2f} (best of three interleaved rounds)")
    print("| framework | ms per step | time vs ferronet |")
    print("|---|---|---|")
    ours = (best.get("ferronet") or {}).get("ms")
    for name, res in best.items():
        if res is None:
            print(f"| {name} | not installed | |")
        elif "error" in res:
            print(f"| {name} | failed: {res['error'][:60]} | |")
        else:
            print(f"| {name} | {res['ms']:.2f} | {res['ms'] / ours:.2f}x |")


def test_attention_forward_backward(benchmark, threads):
    from ferronet import _bench

    step = ferronet_step()
    fns = {"ferronet": step}
    if _bench._load_torch() is not None:
        fns["torch"] = torch_step()
    times = _bench.interleaved(fns, min_time=0.5, rounds=3)
    if "torch" in times:
        benchmark.extra_info["vs_torch"] = round(times["torch"] / times["ferronet"], 3)
    benchmark.extra_info["load"] = round(os.getloadavg()[0], 2)
    benchmark(step)


if __name__ == "__main__":
    main(sys.argv[1:])
