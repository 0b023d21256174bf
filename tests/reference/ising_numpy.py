"""The NumPy Ising sampler ferronet used before its Rust one: the reference for tests and benchmarks.

Vectorised over chains with NumPy: checkerboard Metropolis sweeps on strided
views (one exponential variate per site), Wolff clusters grown breadth-first
for all chains at once. Same Markov chains as ``ferronet.datasets.ising``, a
different random stream.
"""

from __future__ import annotations

import numpy as np


def ising_numpy(L, temps, n_per_T, *, wolff=False, ordered=True, n_equilibrate=None, n_between=None,
                samples_per_chain=10, seed=None):
    """``(configs, temps)`` as ``ferronet.datasets.ising`` returns them (arguments already checked)."""
    temps = np.asarray(temps, dtype=np.float64)
    if n_equilibrate is None:
        n_equilibrate = 100 + 2 * L if wolff else 200 + L * L
    if n_between is None:
        n_between = 5 if wolff else L
    rng = np.random.default_rng(seed)

    per_chain = min(samples_per_chain, n_per_T)
    chains_per_T = -(-n_per_T // per_chain)
    beta = np.repeat(1.0 / temps, chains_per_T)
    n_chains = beta.size
    if ordered:
        spins = np.repeat(rng.choice(np.array([-1, 1], dtype=np.int8), n_chains)[:, None, None], L, axis=1).repeat(
            L, axis=2
        )
    else:
        spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_chains, L, L))
    lattice = _Lattice(L, beta, rng)

    def sweeps(k: int) -> None:
        for _ in range(k):
            lattice.metropolis_sweep(spins)
            if wolff:
                lattice.wolff_flip(spins)

    sweeps(n_equilibrate)
    samples = [spins.copy()]
    for _ in range(per_chain - 1):
        sweeps(n_between)
        samples.append(spins.copy())
    # (sample, T, chain, L, L) -> per temperature all chains' samples, truncated to n_per_T
    stack = np.stack(samples).reshape(per_chain, temps.size, chains_per_T, L, L)
    configs = stack.transpose(1, 2, 0, 3, 4).reshape(temps.size, chains_per_T * per_chain, L, L)[:, :n_per_T]
    return configs.reshape(-1, L, L), np.repeat(temps, n_per_T)


class _Lattice:
    """Update rules for a batch of chains, one inverse temperature each."""

    def __init__(self, L: int, beta: np.ndarray, rng: np.random.Generator):
        self.L, self.rng = L, rng
        self.inv_2beta = (0.5 / beta).astype(np.float32)[:, None, None]
        self.p_add = 1.0 - np.exp(-2.0 * beta)

    def metropolis_sweep(self, s: np.ndarray) -> None:
        """One checkerboard sweep: every site of colour 0, then every site of colour 1.

        A colour's sites are two strided views of ``s`` (its sites on even rows, its sites on
        odd rows), each ``(chains, L/2, L/2)``; the neighbours of one colour all have the other.
        """
        for c in (0, 1):
            even, odd = s[:, 0::2, c::2], s[:, 1::2, 1 - c :: 2]
            even_o, odd_o = s[:, 0::2, 1 - c :: 2], s[:, 1::2, c::2]  # the other colour
            # even-row site (2a, c+2b): up/down are odd_o[a-1, b], odd_o[a, b]; left/right in even_o
            nb_even = np.roll(odd_o, 1, axis=1) + odd_o + even_o + np.roll(even_o, 1 if c == 0 else -1, axis=2)
            # odd-row site (2a+1, 1-c+2b): up/down are even_o[a, b], even_o[a+1, b]; left/right in odd_o
            nb_odd = even_o + np.roll(even_o, -1, axis=1) + odd_o + np.roll(odd_o, -1 if c == 0 else 1, axis=2)
            for sites, nb in ((even, nb_even), (odd, nb_odd)):
                self._metropolis(sites, nb)

    def _metropolis(self, sites: np.ndarray, nb: np.ndarray) -> None:
        # ΔE = 2 J s Σnb; accept with min(1, exp(-βΔE)) = P(E > s Σnb) for E ~ Exponential(rate 2β)
        e = self.rng.standard_exponential(sites.shape, dtype=np.float32)
        e *= self.inv_2beta
        flip = (sites * nb < e).view(np.int8)
        sites *= 1 - 2 * flip

    def wolff_flip(self, s: np.ndarray) -> None:
        """Grow and flip one Wolff cluster in every chain; the breadth-first growth runs for all chains at once."""
        C, L = s.shape[0], self.L
        N = L * L
        flat = s.reshape(-1)
        chain_base = np.arange(C) * N
        frontier = chain_base + self.rng.integers(0, N, C)
        in_cluster = np.zeros(C * N, dtype=bool)
        in_cluster[frontier] = True
        while frontier.size:
            base, site = np.divmod(frontier, N)
            i, j = np.divmod(site, L)
            base *= N
            nbrs = np.concatenate(
                [
                    base + ((i + 1) % L) * L + j,
                    base + ((i - 1) % L) * L + j,
                    base + i * L + (j + 1) % L,
                    base + i * L + (j - 1) % L,
                ]
            )
            src = np.tile(frontier, 4)
            # each bond to an aligned neighbour outside the cluster is tried exactly once
            cand = (flat[nbrs] == flat[src]) & ~in_cluster[nbrs]
            nbrs = nbrs[cand]
            added = nbrs[self.rng.random(nbrs.size) < self.p_add[nbrs // N]]
            frontier = np.unique(added)
            in_cluster[frontier] = True
        flat[in_cluster] *= -1
