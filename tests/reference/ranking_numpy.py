"""The NumPy score sort ``roc_curve`` used before the parallel Rust one: the reference for tests and benchmarks."""

from __future__ import annotations

import numpy as np


def sort_descending_numpy(s: np.ndarray, pos: np.ndarray):
    """Scores in decreasing order with their labels carried along (NaN excluded)."""
    s32 = s.astype(np.float32) if s.dtype != np.float32 else s
    if s.dtype.kind == "f" and s.dtype.itemsize <= 4 or np.array_equal(s32, s):
        # float32 scores fit in 32 bits: append the label bit and sort plain uint64 keys
        bits = (s32 + np.float32(0.0)).view(np.uint32)  # + 0.0 turns -0.0 into +0.0, so the two tie
        sortable = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(1 << 31)).astype(np.uint64)
        keys = np.sort((sortable << np.uint64(1)) | pos.astype(np.uint64))[::-1]
        k32 = (keys >> np.uint64(1)).astype(np.uint32)
        bits = np.where(k32 >> 31 == 1, k32 & np.uint32(0x7FFFFFFF), ~k32)
        return bits.view(np.float32), (keys & np.uint64(1)).astype(bool)
    order = np.argsort(s)[::-1]
    return s[order], pos[order]
