"""Allocator tuning: keep freed array memory for reuse instead of returning it to the OS at once.

Tensor code (tapes, custom loops, ``ferronet.pinn``) allocates and frees
arrays of a few hundred KB to a few MB every step. glibc serves those with
``mmap`` and gives them back with ``munmap`` on free, so every step touches
fresh pages again, at about 1.8 µs per 4 KiB page (page faults dominated a
physics-informed training step). Raising ``M_MMAP_THRESHOLD`` to its maximum
(32 MiB) and ``M_TRIM_THRESHOLD`` to 1 GiB makes freed blocks reusable, as
PyTorch's caching allocator does for its tensors: a training step through the
tape keeps a hundred MB or more of activations alive, and with a lower trim
threshold the top of the heap went back to the OS after every step (a small
residual network: 7,500 page faults per step with 128 MiB, 940 with 1 GiB).
The cost is that up to 1 GiB of freed memory may stay with the process. Set ``FERRONET_MALLOC_TUNING=0``
to leave the allocator alone. Nothing is done on other C libraries.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30

tuned = False


def tune_allocator() -> bool:
    """Apply the tuning once (glibc on Linux); returns whether it is in effect."""
    global tuned
    if tuned or os.environ.get("FERRONET_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return tuned
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return tuned
