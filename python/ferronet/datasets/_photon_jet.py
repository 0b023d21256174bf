"""A toy photon (signal) vs hadronic-jet (background) sample for ROC-curve exercises.

At a hadron collider most "photon candidates" are jets whose energy is carried by
π⁰ → γγ decays. Three classic calorimeter variables separate real photons from them:

* ``h_over_e``: hadronic over electromagnetic energy. A photon showers almost
  entirely in the ECAL (H/E ~ 0.01, exponential); a jet's charged and neutral hadrons
  leak into the HCAL (broad distribution, mean ~ 0.06, tail beyond 0.2).
* ``sigma_ieta_ieta``: the energy-weighted width of the shower in η, in units of
  ECAL crystals ×0.01. One photon gives a narrow shower (≈ 0.0095 ± 0.0008, a bit wider
  for the ~20 % that convert in the tracker); the two photons of a π⁰ and the jet's other
  particles give a wider one (≈ 0.010-0.016).
* ``iso_sum``: scalar sum of transverse energy (GeV) in a cone ΔR < 0.3 around the
  candidate, excluding itself. Prompt photons are isolated (only pile-up and underlying
  event, ~1.5 GeV on average, gamma-distributed); jets are accompanied by their own
  fragments (~5 GeV on average, long tail).

For jets all three variables depend on one hidden quantity, the fraction ``f`` of the
jet's energy carried by π⁰/η photons (Beta(3, 1.5), mean 2/3, as a loose photon
preselection keeps mostly electromagnetic jets): the more electromagnetic the jet,
the more photon-like it looks in every variable. That correlation is what makes
jets hard to reject and gives realistic, overlapping distributions: each variable alone
gives an AUC of 0.85-0.89, a good classifier on all three about 0.95.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError

__all__ = ["photon_jet", "FEATURES"]

FEATURES = ("h_over_e", "sigma_ieta_ieta", "iso_sum")


def photon_jet(n: int = 10000, *, signal_fraction: float = 0.5, seed=None, dtype=np.float32):
    """Generate ``n`` photon (label 1) and jet (label 0) candidates with three shower features.

    Args:
        n: Number of candidates.
        signal_fraction: Expected fraction of photons (each candidate is a photon with this probability).
        seed: Seed for ``np.random.default_rng``.
        dtype: dtype of the features.

    Returns:
        ``(x, y)``: features ``(n, 3)`` in the order of :data:`FEATURES`
        (``h_over_e``, ``sigma_ieta_ieta``, ``iso_sum`` in GeV) and int64 labels ``(n,)``.

    Example:
        >>> x, y = photon_jet(1000, seed=0)
        >>> bool(x[y == 1, 2].mean() < x[y == 0, 2].mean())   # photons are isolated
        True
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"photon_jet: n must be a positive integer. Received: n={n!r}")
    if not 0.0 <= signal_fraction <= 1.0:
        raise ArgumentError(
            f"photon_jet: signal_fraction must be in [0, 1]. Received: signal_fraction={signal_fraction}"
        )
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < signal_fraction).astype(np.int64)
    x = np.empty((n, 3), dtype=np.float64)
    ph, jet = y == 1, y == 0
    x[ph] = _photons(int(ph.sum()), rng)
    x[jet] = _jets(int(jet.sum()), rng)
    return x.astype(dtype), y


def _photons(k: int, rng) -> np.ndarray:
    converted = rng.random(k) < 0.2
    late = rng.random(k) < 0.05  # showers starting deep in the ECAL leak more into the HCAL
    hoe = rng.exponential(np.where(late, 0.04, 0.01))
    width = rng.normal(np.where(converted, 0.0102, 0.0095), np.where(converted, 0.0010, 0.0008))
    iso = rng.gamma(1.5, 1.0, k)
    return np.column_stack([hoe, np.maximum(width, 0.006), iso])


def _jets(k: int, rng) -> np.ndarray:
    f = rng.beta(3.0, 1.5, k)  # electromagnetic (π⁰/η) energy fraction; a photon preselection favours large f
    hadronic = 1.0 - f
    hoe = hadronic * rng.exponential(0.15, k) + rng.exponential(0.01, k)
    width = rng.normal(0.0100 + 0.006 * hadronic, 0.0010 + 0.001 * hadronic)
    iso = rng.gamma(2.0, 1.0 + 5.0 * hadronic)
    return np.column_stack([hoe, np.maximum(width, 0.006), iso])
