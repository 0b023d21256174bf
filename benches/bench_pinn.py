"""Adam steps per second on DeepXDE's Burgers PINN: ferronet against PyTorch autograd and JAX.

Same problem for every framework: a 2-[20]x3-1 tanh network, 2,540
collocation points (u, u_x, u_t, u_xx), 80 boundary and 160 initial points,
Adam with lr 1e-3, the same threads. Each framework runs in its own process
(threads are set before its first op), in float32 and float64.

    python benches/bench_pinn.py                       # ferronet, plus peers importable by this python
    python benches/bench_pinn.py --peer-python /path/to/venv/bin/python   # peers from another environment
    pytest benches/bench_pinn.py                       # pytest-benchmark, ferronet only

PyTorch runs eagerly with ``torch.autograd.grad(create_graph=True)`` for the
input derivatives (and ``set_flush_denormal(True)``); JAX jit-compiles the
whole step (``jax.grad`` of ``jax.grad``, ``jax.vmap`` over points).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from _child import run_child

NU = 0.01 / np.pi
STEPS = int(os.environ.get("PINN_BENCH_STEPS", "200"))


def points(dtype):
    rng = np.random.default_rng(0)
    col = np.column_stack([rng.uniform(-1, 1, 2540), rng.uniform(0, 1, 2540)]).astype(dtype)
    edges = np.concatenate([
        np.column_stack([np.where(np.arange(80) % 2 == 0, -1.0, 1.0), rng.uniform(0, 1, 80)]),
        np.column_stack([rng.uniform(-1, 1, 160), np.zeros(160)]),
    ]).astype(dtype)
    targets = np.concatenate([np.zeros(80), -np.sin(np.pi * edges[80:, 0])])[:, None].astype(dtype)
    return col, edges, targets


def init_weights(dtype):
    rng = np.random.default_rng(1)
    sizes = [2, 20, 20, 20, 1]
    out = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lim = np.sqrt(6.0 / (a + b))
        out += [rng.uniform(-lim, lim, (a, b)).astype(dtype), np.zeros(b, dtype)]
    return out


def run_ferronet(dtype, threads):
    import ferronet as fn

    fn.set_num_threads(threads)
    col, edges, targets = points(dtype)
    model = fn.Sequential([fn.Input((2,), dtype=dtype)]
                          + [fn.layers.Dense(20, activation="tanh", dtype=dtype) for _ in range(3)]
                          + [fn.layers.Dense(1, dtype=dtype)])
    model.set_weights(init_weights(dtype))
    opt = fn.optimizers.Adam(learning_rate=1e-3)
    variables = model.trainable_variables

    def step():
        with fn.GradientTape() as tape:
            u, du, d2u = fn.pinn.mlp_taylor(model, col, second=1)
            res = du[1] + u * du[0] - NU * d2u[0]
            loss = fn.reduce_mean(fn.square(res)) + fn.reduce_mean(fn.square(model(edges) - targets))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return _time(step)


def run_torch(dtype, threads):
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    tdt = getattr(torch, dtype)
    col, edges, targets = (torch.tensor(a) for a in points(dtype))
    params = [torch.tensor(w, requires_grad=True) for w in init_weights(dtype)]
    opt = torch.optim.Adam(params, lr=1e-3)

    def net(x):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = torch.tanh(h @ params[i] + params[i + 1])
        return h @ params[-2] + params[-1]

    def step():
        x = col.clone().requires_grad_(True)
        u = net(x)
        du = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]
        u_x, u_t = du[:, :1], du[:, 1:]
        u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0][:, :1]
        res = u_t + u * u_x - NU * u_xx
        loss = (res ** 2).mean() + ((net(edges) - targets) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    del tdt
    return _time(step)


def run_jax(dtype, threads):
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                                       f"intra_op_parallelism_threads={threads}")
    import jax
    import jax.numpy as jnp

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    col, edges, targets = (jnp.asarray(a) for a in points(dtype))
    params = [jnp.asarray(w) for w in init_weights(dtype)]

    def net(p, x):
        h = x
        for i in range(0, len(p) - 2, 2):
            h = jnp.tanh(h @ p[i] + p[i + 1])
        return h @ p[-2] + p[-1]

    def u_scalar(p, x, t):
        return net(p, jnp.stack([x, t])[None])[0, 0]

    def loss_fn(p):
        u_x = jax.vmap(jax.grad(u_scalar, 1), (None, 0, 0))
        u_t = jax.vmap(jax.grad(u_scalar, 2), (None, 0, 0))
        u_xx = jax.vmap(jax.grad(jax.grad(u_scalar, 1), 1), (None, 0, 0))
        x, t = col[:, 0], col[:, 1]
        u = net(p, col)[:, 0]
        res = u_t(p, x, t) + u * u_x(p, x, t) - NU * u_xx(p, x, t)
        return jnp.mean(res ** 2) + jnp.mean((net(p, edges) - targets) ** 2)

    b1, b2, eps, lr = 0.9, 0.999, 1e-7, 1e-3

    @jax.jit
    def update(p, m, v, k):
        loss, g = jax.value_and_grad(loss_fn)(p)
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        a = lr * jnp.sqrt(1 - b2 ** k) / (1 - b1 ** k)
        p = [pi - a * mi / (jnp.sqrt(vi) + eps) for pi, mi, vi in zip(p, m, v)]
        return p, m, v, loss

    state = {"p": params, "m": [jnp.zeros_like(w) for w in params], "v": [jnp.zeros_like(w) for w in params],
             "k": 0}

    def step():
        state["k"] += 1
        state["p"], state["m"], state["v"], loss = update(state["p"], state["m"], state["v"], state["k"])
        loss.block_until_ready()
        return loss

    return _time(step)


def _time(step, warmup=10):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(STEPS):
        loss = step()
    seconds = time.perf_counter() - start
    return {"steps_per_s": STEPS / seconds, "final_loss": float(np.asarray(loss.detach() if hasattr(loss, "detach")
                                                                           else loss))}


RUNNERS = {"ferronet": run_ferronet, "pytorch": run_torch, "jax": run_jax}


def _child(framework, dtype, threads, python):
    return run_child(__file__, python, framework, dtype, threads)


def main(argv):
    if argv[:1] == ["--child"]:
        framework, dtype, threads = argv[1], argv[2], int(argv[3])
        print(json.dumps(RUNNERS[framework](dtype, threads)))
        return
    peer_python = sys.executable
    if "--peer-python" in argv:
        peer_python = argv[argv.index("--peer-python") + 1]
    threads = int(os.environ.get("PINN_BENCH_THREADS", "1"))
    print(f"Burgers PINN, Adam steps/s, {threads} thread(s), {STEPS} timed steps, interleaved runs")
    print("| dtype | framework | steps/s | ferronet vs it |")
    print("|---|---|---|---|")
    for dtype in ("float32", "float64"):
        rows = {}
        for _ in range(2):  # A B A B: keep the best of two interleaved rounds
            for fw in RUNNERS:
                res = _child(fw, dtype, threads, sys.executable if fw == "ferronet" else peer_python)
                if res is None or "error" in res:
                    rows.setdefault(fw, res)
                    continue
                best = rows.get(fw)
                if not best or "error" in best or res["steps_per_s"] > best["steps_per_s"]:
                    rows[fw] = res
        ours = rows.get("ferronet") or {}
        for fw, res in rows.items():
            if res is None:
                print(f"| {dtype} | {fw} | not installed | |")
            elif "error" in res:
                print(f"| {dtype} | {fw} | failed: {res['error'][:60]} | |")
            else:
                ratio = ours.get("steps_per_s", 0) / res["steps_per_s"]
                print(f"| {dtype} | {fw} | {res['steps_per_s']:.0f} | {ratio:.2f}x |")


def test_pinn_adam_step_ferronet(benchmark):
    """pytest-benchmark: one Adam step of the float64 Burgers PINN in ferronet."""
    global STEPS
    STEPS = 20
    result = benchmark.pedantic(run_ferronet, args=("float64", 1), rounds=1, iterations=1)
    assert result["steps_per_s"] > 0


if __name__ == "__main__":
    main(sys.argv[1:])
