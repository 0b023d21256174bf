"""A physics-informed network solves Burgers' equation (DeepXDE's setup), checked against the exact solution.

    u_t + u u_x = (0.01/pi) u_xx,   x in [-1, 1], t in [0, 1],
    u(x, 0) = -sin(pi x),           u(-1, t) = u(1, t) = 0.

A 2-[20]x3-1 tanh network in float64 is trained on 2,540 collocation points,
80 boundary and 160 initial points: Adam, then L-BFGS (SciPy, the ``scipy``
extra). The PDE residual needs u, u_x, u_t and u_xx at every collocation
point; ``ferronet.pinn.mlp_taylor`` carries them through the network in one
fused pass. The result is compared with the Cole-Hopf solution
(``ferronet.datasets.burgers_solution``): the relative L2 error should be
about 1e-2 or better with the full schedule.

Run: python examples/pinn_burgers.py  (FERRONET_EXAMPLES_QUICK=1 for a short run)
"""

import os
import time

import numpy as np

import ferronet as fn
from ferronet import layers

QUICK = os.environ.get("FERRONET_EXAMPLES_QUICK") == "1"
NU = 0.01 / np.pi
ADAM_STEPS = 300 if QUICK else 15000
LBFGS_STEPS = 50 if QUICK else 15000


def make_points(rng):
    collocation = np.column_stack([rng.uniform(-1, 1, 2540), rng.uniform(0, 1, 2540)])
    t_b = rng.uniform(0, 1, 80)
    boundary = np.column_stack([np.where(np.arange(80) % 2 == 0, -1.0, 1.0), t_b])
    x_i = rng.uniform(-1, 1, 160)
    initial = np.column_stack([x_i, np.zeros(160)])
    return collocation, boundary, initial, -np.sin(np.pi * x_i)[:, None]


def main():
    fn.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    collocation, boundary, initial, u0 = make_points(rng)
    model = fn.Sequential([fn.Input((2,), dtype="float64")]
                          + [layers.Dense(20, activation="tanh", dtype="float64") for _ in range(3)]
                          + [layers.Dense(1, dtype="float64")])
    edges = np.concatenate([boundary, initial])
    edge_targets = np.concatenate([np.zeros((80, 1)), u0])

    def loss_fn():
        u, du, d2u = fn.pinn.mlp_taylor(model, collocation, second=1)  # inputs ordered (x, t): u_xx only
        residual = du[1] + u * du[0] - NU * d2u[0]
        pde = fn.reduce_mean(fn.square(residual))
        return pde + fn.reduce_mean(fn.square(model(edges) - edge_targets))

    optimizer = fn.optimizers.Adam(learning_rate=1e-3)
    variables = model.trainable_variables
    start = time.perf_counter()
    for step in range(ADAM_STEPS):
        with fn.GradientTape() as tape:
            loss = loss_fn()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        if step % 1000 == 0 or step == ADAM_STEPS - 1:
            print(f"adam step {step:5d}  loss {float(loss):.3e}")
    adam_seconds = time.perf_counter() - start
    print(f"Adam: {ADAM_STEPS / adam_seconds:.0f} steps/s")
    try:
        result = fn.pinn.lbfgs_minimize(loss_fn, variables, maxiter=LBFGS_STEPS)
        print(f"L-BFGS: {result.nit} iterations, loss {result.fun:.3e}")
    except ImportError as e:
        print(f"skipping L-BFGS: {e}")

    xs, ts = np.meshgrid(np.linspace(-1, 1, 256), np.linspace(0, 1, 100))
    grid = np.column_stack([xs.ravel(), ts.ravel()])
    exact = fn.datasets.burgers_solution(grid[:, 0], grid[:, 1], NU)
    predicted = model.predict(grid, batch_size=4096, verbose=0).ravel()
    error = np.linalg.norm(predicted - exact) / np.linalg.norm(exact)
    print(f"relative L2 error against the Cole-Hopf solution: {error:.2e}")
    return error


if __name__ == "__main__":
    main()
