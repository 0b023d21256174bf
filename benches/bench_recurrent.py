"""Recurrent layers, forward + backward through time, against PyTorch's nn.LSTM / nn.GRU (when installed).

Shapes: batch 64, 100 steps, 32 features, 128 units, float32. ferronet runs the
Keras layer on a GradientTape (the path ``fit`` takes), torch its module in
eager mode with ``set_flush_denormal(True)``; both compute the gradients of
the input and of every weight.

    python benches/bench_recurrent.py [--peer-python /path/to/venv/bin/python]
                                      [--keras-python /path/to/keras/venv/bin/python]
        each framework in its own process, alternated A B A B, best of three
        rounds (RECURRENT_BENCH_THREADS threads, default 2); with --keras-python
        also Keras 3 on JAX, the layer's gradient jit-compiled
    pytest benches/bench_recurrent.py
        pytest-benchmark; ``vs_torch`` = torch time / ferronet time, measured
        interleaved in one process (PyTorch importable)
"""

import os
import sys

import numpy as np

try:
    import pytest
except ModuleNotFoundError:  # a peer's interpreter running one --child case
    pytest = None

import ferronet as fn
from ferronet import _bench, layers
from ferronet.tensor import GradientTape
from ferronet.tensor import reduce_ops as R

from _child import best_seconds, peer_main, peer_rows

BATCH, STEPS, FEATURES, UNITS = 64, 100, 32, 128
CASES = [("lstm", layers.LSTM), ("gru", layers.GRU)]


def _ferronet_step(cls):
    rng = np.random.default_rng(0)
    x = fn.Tensor(rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32))
    layer = cls(UNITS, return_sequences=True)
    layer.build((None, STEPS, FEATURES))

    def step():
        with GradientTape() as tape:
            tape.watch(x)
            loss = R.reduce_sum(layer(x))
        return tape.gradient(loss, [x, *layer.weights])

    return step


def _torch_step(name):
    torch = _bench._load_torch()
    if torch is None:
        return None
    torch.set_flush_denormal(True)
    module = (torch.nn.LSTM if name == "lstm" else torch.nn.GRU)(FEATURES, UNITS, batch_first=True)
    x = torch.randn(BATCH, STEPS, FEATURES, requires_grad=True)

    def step():
        module.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = module(x)
        out.sum().backward()

    return step


THREADS = int(os.environ.get("RECURRENT_BENCH_THREADS", "2"))


def run_ferronet():
    fn.set_num_threads(THREADS)
    out = {name.upper(): best_seconds(_ferronet_step(cls)) for name, cls in CASES}
    out["GRU reset_after=False"] = best_seconds(_ferronet_step(lambda units, **kw: layers.GRU(
        units, reset_after=False, **kw)))
    return out


def run_torch():
    torch = _bench._load_torch()
    if torch is None:
        raise ModuleNotFoundError("torch")
    torch.set_num_threads(THREADS)
    return {name.upper(): best_seconds(_torch_step(name)) for name, _ in CASES}


def run_keras():
    """Keras 3 on JAX: the layer's stateless call under one jit-compiled ``jax.grad`` (its trainer's path)."""
    if THREADS == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import jax.numpy as jnp
    import keras

    x = jnp.asarray(np.random.default_rng(0).standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32))
    out = {}
    for name in ("lstm", "gru"):
        layer = (keras.layers.LSTM if name == "lstm" else keras.layers.GRU)(UNITS, return_sequences=True)
        layer.build((BATCH, STEPS, FEATURES))
        weights = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(weights, x, layer=layer, fixed=fixed):
            y, _ = layer.stateless_call(weights, fixed, x)
            return jnp.sum(y)

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        out[name.upper()] = best_seconds(lambda grad=grad, weights=weights: jax.block_until_ready(grad(weights, x)))
    return out


RUNNERS = {"ferronet": run_ferronet, "pytorch": run_torch}


def main(argv):
    runners = {**RUNNERS, "keras": run_keras} if "--keras-python" in argv or argv[:2] == ["--child", "keras"] \
        else RUNNERS
    best = peer_main(__file__, argv, runners, rounds=3)
    if best is None:
        return
    print(f"Recurrent layers forward + backward, batch {BATCH}, {STEPS} steps, {FEATURES} features, {UNITS} units, "
          f"{THREADS} threads, load {os.getloadavg()[0]:.2f} (best of three interleaved rounds)")
    print("| layer | ferronet ms | PyTorch ms | PyTorch / ferronet |")
    print("|---|---|---|---|")
    print("\n".join(peer_rows(best.get("ferronet") or {}, best.get("pytorch"))))
    if "keras" in runners:
        print("| layer | ferronet ms | Keras 3 (JAX, jit) ms | Keras / ferronet |")
        print("|---|---|---|---|")
        print("\n".join(peer_rows({k: v for k, v in (best.get("ferronet") or {}).items() if k in ("LSTM", "GRU")},
                                   best.get("keras"))))


# (the peer's interpreter of a --child run has no pytest)
_parametrize = pytest.mark.parametrize if pytest is not None else (lambda *a, **k: (lambda f: f))


@_parametrize("case", CASES, ids=lambda c: c[0])
def test_recurrent_forward_backward(benchmark, threads, case):
    name, cls = case
    fns = {"ferronet": _ferronet_step(cls)}
    peer = _torch_step(name)
    if peer is not None:
        fns["torch"] = peer
    times = _bench.interleaved(fns)
    if "torch" in times:
        benchmark.extra_info["vs_torch"] = round(times["torch"] / times["ferronet"], 3)
    benchmark.extra_info["ms"] = round(times["ferronet"] * 1e3, 2)
    benchmark(fns["ferronet"])


def test_gru_reset_before_against_reset_after(benchmark, threads):
    """GRU(reset_after=False) runs a second GEMM per step (``(r*h)·U_h``) and one more per step backward.

    ``vs_reset_after`` = time of Keras' default GRU / time of the reset-before GRU, interleaved.
    """
    fns = {"reset_before": _ferronet_step(lambda units, **kw: layers.GRU(units, reset_after=False, **kw)),
           "reset_after": _ferronet_step(layers.GRU)}
    times = _bench.interleaved(fns)
    benchmark.extra_info["vs_reset_after"] = round(times["reset_after"] / times["reset_before"], 3)
    benchmark.extra_info["ms"] = round(times["reset_before"] * 1e3, 2)
    benchmark(fns["reset_before"])


if __name__ == "__main__":
    main(sys.argv[1:])
