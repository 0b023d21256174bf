"""Datasets: Keras' loaders (read from Keras' own cache files) and generators for physics course problems.

* :mod:`mnist`, :mod:`fashion_mnist`, :mod:`cifar10`, :mod:`cifar100`, :mod:`boston_housing`,
  :mod:`imdb`: ``load_data()`` with Keras' arguments and return formats, as ``keras.datasets``.
* :func:`ising`: 2-D Ising configurations by Monte Carlo (Metropolis or Wolff).
* :func:`photon_jet`: a toy photon vs jet sample with calorimeter shower features.
* :func:`jet_tracks`: a toy b-jet vs light-jet sample, each jet a padded sequence of tracks.
* :func:`logic_gate`: the truth tables of NAND, XOR and friends.
* :func:`quark_gluon`: toy quark vs gluon jets as sets of constituents (pT fraction, Δη, Δφ).
"""

from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist
from ._burgers import burgers_solution
from ._files import DatasetNotFoundError, read_idx
from ._ising import CRITICAL_TEMPERATURE, energy, exact_energy, exact_magnetization, ising, magnetization
from ._logic import logic_gate
from ._photon_jet import FEATURES as PHOTON_JET_FEATURES, photon_jet
from ._quark_gluon import QUARK_GLUON_FEATURES, quark_gluon
from ._jet_tracks import FEATURES as JET_TRACK_FEATURES, jet_tracks

__all__ = [
    "burgers_solution",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "boston_housing",
    "imdb",
    "ising",
    "magnetization",
    "energy",
    "exact_energy",
    "exact_magnetization",
    "CRITICAL_TEMPERATURE",
    "photon_jet",
    "PHOTON_JET_FEATURES",
    "jet_tracks",
    "JET_TRACK_FEATURES",
    "logic_gate",
    "quark_gluon",
    "QUARK_GLUON_FEATURES",
    "read_idx",
    "DatasetNotFoundError",
]
