"""Global random state: one seed makes initialization, shuffling and dropout reproducible.

Every random draw ferronet makes in Python (initial weights, per-epoch
shuffling, the base seed of each Dropout layer) comes from one NumPy
``Generator`` kept here; dropout masks are then a counter-based hash of
(layer seed, call number, element index) computed in the Rust core, so the
results do not depend on the number of threads.
"""

from __future__ import annotations

import random as _pyrandom

import numpy as np

__all__ = ["set_random_seed", "generator", "next_seed"]

_state = {"rng": np.random.default_rng()}


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and ferronet's generator.

    Same call as ``keras.utils.set_random_seed``: call it once at the top of
    a script, before building the model, to make a run repeatable (weights,
    shuffling order and dropout masks), whatever ``ferronet.set_num_threads``.

    Args:
        seed: a non-negative integer.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.

    Example:
        >>> ferronet.utils.set_random_seed(42)
        >>> a = np.random.rand(2)
        >>> ferronet.utils.set_random_seed(42)
        >>> bool(np.array_equal(a, np.random.rand(2)))
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative integer. Received: seed={seed!r}")
    seed = int(seed)
    _pyrandom.seed(seed)
    np.random.seed(seed % (2**32))
    _state["rng"] = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The global generator (reseeded by :func:`set_random_seed`).

    Example:
        >>> from ferronet.utils.random import generator
        >>> ferronet.utils.set_random_seed(0)
        >>> a = generator().integers(100, size=3)
        >>> ferronet.utils.set_random_seed(0)
        >>> bool(np.array_equal(a, generator().integers(100, size=3)))
        True
    """
    return _state["rng"]


def next_seed() -> int:
    """A fresh 63-bit seed drawn from the global generator.

    Example:
        >>> from ferronet.utils.random import next_seed
        >>> ferronet.utils.set_random_seed(0)
        >>> s = next_seed()
        >>> ferronet.utils.set_random_seed(0)
        >>> next_seed() == s, 0 <= s < 2 ** 63
        (True, True)
    """
    return int(_state["rng"].integers(0, 2**63 - 1))
