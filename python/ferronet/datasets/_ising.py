"""2-D Ising model configurations by Monte Carlo, for learning phases of matter.

Spins ``s = ±1`` on an ``L x L`` square lattice with periodic boundaries and energy
``E = -J Σ_<ij> s_i s_j`` (J = 1, k_B = 1). Below Onsager's critical temperature
``T_c = 2 / ln(1 + √2) ≈ 2.269`` the lattice orders (|m| → 1); above it, it is disordered.

Two samplers, both running many independent Markov chains in Rust, in parallel over
``ferronet.set_num_threads`` threads (a rayon pool); chain ``c`` has its own random
stream seeded from ``(seed, c)``, so the configurations depend on ``seed`` alone,
never on the thread count:

* ``"metropolis"``: checkerboard Metropolis. A sweep updates all "black" sites, then
  all "white" sites (sites of one colour have no common bonds), each with the
  single-spin-flip acceptance ``min(1, exp(-ΔE/T))``.
* ``"wolff"``: each sweep is one Metropolis sweep plus one Wolff cluster flip per chain
  (bonds to aligned neighbours activated with ``p = 1 - exp(-2J/T)``), which removes
  the critical slowing down near T_c that plain Metropolis suffers from.

Chains start ordered (all spins equal, a random sign per chain: starting from a random
state, chains below T_c get stuck for a long time in striped domain states) or random,
are equilibrated for ``n_equilibrate`` sweeps, then sampled every ``n_between`` sweeps.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from ..errors import ArgumentError

__all__ = ["ising", "magnetization", "energy", "exact_energy", "exact_magnetization", "CRITICAL_TEMPERATURE"]

CRITICAL_TEMPERATURE = 2.0 / math.log(1.0 + math.sqrt(2.0))


def ising(
    L: int = 16,
    temperatures=None,
    n_per_T: int = 100,
    *,
    method: str = "metropolis",
    start: str = "ordered",
    n_equilibrate: int | None = None,
    n_between: int | None = None,
    samples_per_chain: int = 10,
    seed=None,
    dtype=np.int8,
):
    """Sample equilibrium 2-D Ising configurations at several temperatures.

    Args:
        L: Lattice side (even, at least 4).
        temperatures: Temperatures in units of J/k_B; default 16 values evenly spread over [1.0, 3.5].
        n_per_T: Configurations returned per temperature.
        method: ``"metropolis"`` (checkerboard) or ``"wolff"`` (cluster flips plus Metropolis sweeps).
        start: ``"ordered"`` (all spins aligned, random sign per chain) or ``"random"``.
        n_equilibrate: Sweeps before the first sample; default ``200 + L²`` for Metropolis
            (several autocorrelation times even at T_c) and ``100 + 2L`` for Wolff.
        n_between: Sweeps between samples of one chain; default ``L`` (Metropolis) or 5 (Wolff).
        samples_per_chain: Samples taken from each chain; fewer means more independent
            chains (more equilibration work, less correlation between samples).
        seed: Seed for ``np.random.default_rng`` (an int, a SeedSequence or a Generator); the same
            seed gives the same configurations, for any number of threads.
        dtype: dtype of the returned spins.

    Returns:
        ``(configs, temps)``: ``configs`` of shape ``(len(temperatures) * n_per_T, L, L)``
        holding ±1, grouped by temperature in the order given; ``temps`` the temperature of each.

    Example:
        >>> x, t = ising(L=16, temperatures=[1.5, 3.0], n_per_T=50, seed=0)
        >>> bool(np.abs(x.mean(axis=(1, 2)))[t < 2.269].mean() > 0.9)
        True
    """
    if not (isinstance(L, (int, np.integer)) and L >= 4 and L % 2 == 0):
        raise ArgumentError(
            f"ising: L must be an even integer >= 4 (the checkerboard update needs two colours). Received: L={L!r}"
        )
    temps = (
        np.linspace(1.0, 3.5, 16) if temperatures is None else np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    )
    if temps.ndim != 1 or temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise ArgumentError(f"ising: temperatures must be positive numbers. Received: temperatures={temps.tolist()}")
    if n_per_T < 1 or samples_per_chain < 1:
        raise ArgumentError(
            f"ising: n_per_T and samples_per_chain must be >= 1. Received: n_per_T={n_per_T}, "
            f"samples_per_chain={samples_per_chain}"
        )
    if method not in ("metropolis", "wolff"):
        raise ArgumentError(f"ising: method must be 'metropolis' or 'wolff'. Received: method={method!r}")
    if start not in ("ordered", "random"):
        raise ArgumentError(f"ising: start must be 'ordered' or 'random'. Received: start={start!r}")
    wolff = method == "wolff"
    if n_equilibrate is None:
        n_equilibrate = 100 + 2 * L if wolff else 200 + L * L
    if n_between is None:
        n_between = 5 if wolff else L
    per_chain = min(samples_per_chain, n_per_T)
    chains_per_T = -(-n_per_T // per_chain)
    beta = np.repeat(1.0 / temps, chains_per_T)
    # One 63-bit seed drawn from ``seed`` (an int, a SeedSequence or a Generator, as np.random.default_rng takes);
    # chain c then draws from its own stream, seeded by (that seed, c), in Rust.
    seed64 = int(np.random.default_rng(seed).integers(0, 2**63))
    out = _core.ising_sample(beta, L, n_equilibrate, n_between, per_chain, wolff, start == "ordered", seed64)
    # (chain, sample, L, L), chains grouped by temperature -> per temperature all chains' samples, up to n_per_T
    configs = out.reshape(temps.size, chains_per_T * per_chain, L, L)[:, :n_per_T]
    return configs.reshape(-1, L, L).astype(dtype, copy=False), np.repeat(temps, n_per_T)


def magnetization(configs) -> np.ndarray:
    """Magnetization per spin ``m = <s>`` of each configuration ``(n, L, L)``.

    Example:
        >>> from ferronet.datasets import ising, magnetization
        >>> up, down = np.ones((4, 4)), -np.ones((4, 4))
        >>> magnetization(np.stack([up, down]))
        array([ 1., -1.])
        >>> spins, t = ising(L=16, temperatures=[1.5, 3.5], n_per_T=20, seed=0)
        >>> m = np.abs(magnetization(spins))  # ordered below T_c, near 0 above
        >>> bool(m[t == 1.5].mean() > 0.9), bool(m[t == 3.5].mean() < 0.3)
        (True, True)
    """
    c = np.asarray(configs)
    return c.reshape(c.shape[0], -1).mean(axis=1, dtype=np.float64)


def energy(configs) -> np.ndarray:
    """Energy per spin ``-(1/N) Σ_<ij> s_i s_j`` of each configuration ``(n, L, L)``, periodic boundaries.

    Example:
        >>> from ferronet.datasets import energy
        >>> aligned = np.ones((4, 4))
        >>> checkerboard = np.indices((4, 4)).sum(axis=0) % 2 * 2.0 - 1  # every neighbour opposite
        >>> energy(np.stack([aligned, checkerboard]))  # the two extremes: -2 and +2 per spin
        array([-2.,  2.])
    """
    s = np.asarray(configs, dtype=np.float64)
    bonds = s * np.roll(s, 1, axis=1) + s * np.roll(s, 1, axis=2)
    return -bonds.reshape(s.shape[0], -1).mean(axis=1)


def _elliptic_k(k: np.ndarray) -> np.ndarray:
    """Complete elliptic integral of the first kind K(k) (modulus k) by the arithmetic-geometric mean."""
    a, b = np.ones_like(k), np.sqrt(1.0 - k * k)
    for _ in range(40):
        a, b = (a + b) / 2, np.sqrt(a * b)
    return np.pi / (2 * a)


def exact_energy(T) -> np.ndarray:
    """Onsager's exact energy per spin of the infinite 2-D Ising model at temperature(s) ``T``.

    Example:
        >>> from ferronet.datasets import CRITICAL_TEMPERATURE, exact_energy
        >>> np.round(exact_energy([1.0, CRITICAL_TEMPERATURE, 5.0]), 4)  # -sqrt(2) at T_c
        array([-1.9972, -1.4142, -0.4282])
    """
    T = np.asarray(T, dtype=np.float64)
    b = 1.0 / T
    k = 2 * np.sinh(2 * b) / np.cosh(2 * b) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        term = (2 * np.tanh(2 * b) ** 2 - 1) * _elliptic_k(np.minimum(k, 1 - 1e-16))
    return -1.0 / np.tanh(2 * b) * (1 + 2 / np.pi * term)


def exact_magnetization(T) -> np.ndarray:
    """Spontaneous magnetization of the infinite lattice (Onsager–Yang).

    ``(1 - sinh(2/T)^-4)^(1/8)`` below T_c, 0 above.

    Example:
        >>> from ferronet.datasets import exact_magnetization
        >>> np.round(exact_magnetization([1.0, 2.0, 2.5]), 4)
        array([0.9993, 0.9113, 0.    ])
    """
    T = np.asarray(T, dtype=np.float64)
    with np.errstate(over="ignore"):
        x = 1.0 - np.sinh(2.0 / T) ** -4.0
    return np.where(T < CRITICAL_TEMPERATURE, np.clip(x, 0, None) ** 0.125, 0.0)
