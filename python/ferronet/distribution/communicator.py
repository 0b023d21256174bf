"""``Communicator``: the collectives data-parallel training needs, over MPI, with a timeout.

Every collective is non-blocking underneath (``Iallreduce``, ``Ibcast``) and
waited for with a deadline, so a process that died or stopped calling
collectives turns into a ``CollectiveTimeoutError`` on the others instead of
a silent hang. A one-process communicator needs no MPI at all: its
collectives return their input.
"""

from __future__ import annotations

import os
import time

import numpy as np

__all__ = ["Communicator", "CollectiveTimeoutError", "require_mpi", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 300.0
"""Seconds a collective waits for the other processes (``FERRONET_COLLECTIVE_TIMEOUT`` overrides it)."""

# Waiting first polls back to back (a step's allreduce usually completes in well under a
# millisecond), then sleeps between polls so a process waiting for a slow peer leaves its
# core to the computing processes on an oversubscribed node.
_SPIN_SECONDS = 2e-3
_NAP_SECONDS = 1e-4
_yield = getattr(os, "sched_yield", lambda: None)


def aligned_zeros(n, dtype) -> np.ndarray:
    """Zeros whose first element sits on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    raw = np.zeros(n + 64 // dtype.itemsize, dtype)
    shift = (-raw.ctypes.data % 64) // dtype.itemsize
    return raw[shift:shift + n]


class CollectiveTimeoutError(RuntimeError):
    """A collective operation did not complete within the communicator's timeout.

    Example:
        It surfaces on the processes left waiting when another one dies or runs fewer steps; a script
        can catch it to save its state before it ends:

        >>> from ferronet.distribution import CollectiveTimeoutError
        >>> issubclass(CollectiveTimeoutError, RuntimeError)
        True
        >>> try:
        ...     raise CollectiveTimeoutError("Process 0 of 2 waited 300 s in an allreduce")
        ... except CollectiveTimeoutError as error:
        ...     print(f"stopping: {error}")
        stopping: Process 0 of 2 waited 300 s in an allreduce
    """


def require_mpi():
    """The ``mpi4py.MPI`` module, or an ImportError naming the ``ferronet[mpi]`` extra.

    Raises:
        ImportError: if mpi4py, or the MPI library it needs, is missing.

    Example:
        Code that works with and without the ``mpi`` extra:

        >>> from ferronet.distribution.communicator import require_mpi
        >>> try:
        ...     usable = require_mpi().COMM_WORLD.Get_size() >= 1  # the extra is installed
        ... except ImportError as error:
        ...     usable = "pip install 'ferronet[mpi]'" in str(error)  # the message names the extra
        >>> usable
        True
    """
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as e:
        # mpi4py missing, or present without an MPI library to load (mpi4py 4 raises RuntimeError
        # "cannot load MPI library" when pip installed it without one)
        raise ImportError(
            "Data-parallel training over several processes needs mpi4py and an MPI library: "
            "pip install 'ferronet[mpi]' (mpi4py and the MPICH wheel), or mpi4py built against your "
            f"cluster's MPI. Received: {type(e).__name__}: {e}"
        ) from e
    return MPI


def _timeout_from_env():
    raw = os.environ.get("FERRONET_COLLECTIVE_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"FERRONET_COLLECTIVE_TIMEOUT must be a positive number of seconds. Received: {raw!r}")
    return value


class Communicator:
    """Rank, size and timed collectives of a group of processes.

    Args:
        comm: an ``mpi4py.MPI.Comm``; None for the single-process communicator (no MPI needed).
        timeout: seconds each collective waits for the others before raising
            ``CollectiveTimeoutError``; default ``FERRONET_COLLECTIVE_TIMEOUT`` or 300.

    Attributes:
        rank: this process's index, 0 to ``size - 1``.
        size: number of processes.

    Example:
        ``Communicator()`` is a group of one, which needs no MPI: its collectives return their input.
        In a launched group, :func:`ferronet.distribution.initialize` returns one over ``MPI.COMM_WORLD``.

        >>> from ferronet.distribution import Communicator
        >>> comm = Communicator(timeout=60)
        >>> comm
        <Communicator single process, rank=0, size=1, timeout=60s>
        >>> comm.allreduce_sum_(np.array([1.0, 2.0]))  # summed over the processes, in place
        array([1., 2.])
        >>> comm.allgather([comm.rank, 0.5]), comm.broadcast_value(2.5)
        (array([[0. , 0.5]]), 2.5)
    """

    def __init__(self, comm=None, timeout=None):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        self.timeout = _timeout_from_env() if timeout is None else float(timeout)
        if not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds. Received: timeout={timeout!r}")
        self._shared = None  # whether buffers go in node-shared memory (decided collectively on first use)
        self._node_sums = {}  # id(buffer) -> NodeSum

    def _shared_memory_pays(self) -> bool:
        """Several processes on every node, the same number on each (collective on first call)."""
        if self._shared is None:
            self._shared = False
            if self.size > 1 and os.environ.get("FERRONET_SHARED_MEMORY", "1") != "0":
                from mpi4py import MPI

                node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
                counts = self.allgather([node.Get_size()])
                node.Free()
                self._shared = bool(counts.min() > 1 and counts.min() == counts.max())
        return self._shared

    def gradient_buffer(self, n: int, dtype) -> np.ndarray:
        """A zeroed 1-D buffer to sum with :meth:`allreduce_sum_` (collective: every process calls it).

        With several processes on each node it lives in memory shared by the
        node's processes, and its sums skip MPI's message copies
        (:class:`~ferronet.distribution.shared_memory.NodeSum`;
        ``FERRONET_SHARED_MEMORY=0`` turns that off). Its start is 64-byte aligned.
        """
        if self._shared_memory_pays():
            from .shared_memory import NodeSum

            node_sum = NodeSum(self, n, dtype)
            self._node_sums[id(node_sum.buffer)] = node_sum
            return node_sum.buffer
        return aligned_zeros(n, dtype)

    def _wait(self, request, what):
        deadline = time.monotonic() + self.timeout
        spin_until = time.monotonic() + _SPIN_SECONDS
        while not request.Test():
            now = time.monotonic()
            if now > deadline:
                raise CollectiveTimeoutError(
                    f"Process {self.rank} of {self.size} waited {self.timeout:g} s in {what} for the other "
                    "processes: one of them failed, hangs, or runs a different number of steps (different data "
                    "lengths or batch counts per process). Raise FERRONET_COLLECTIVE_TIMEOUT if steps are "
                    f"legitimately slower. Received: timeout={self.timeout:g}"
                )
            if now > spin_until:
                time.sleep(_NAP_SECONDS)
            else:
                _yield()  # lets a process sharing this core (a peer, on a crowded node) run

    def allreduce_sum_(self, buffer: np.ndarray) -> np.ndarray:
        """Sum ``buffer`` (a contiguous array) over all processes, in place; every process gets the sum."""
        node_sum = self._node_sums.get(id(buffer))
        if node_sum is not None and node_sum.buffer is buffer:
            return node_sum.allreduce_sum_()
        if self.size > 1:
            from mpi4py import MPI

            self._wait(self.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), "an allreduce")
        return buffer

    def broadcast_(self, buffer: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buffer`` (contiguous) with process ``root``'s, in place."""
        if self.size > 1:
            self._wait(self.comm.Ibcast(buffer, root=root), "a broadcast")
        return buffer

    def allgather(self, values) -> np.ndarray:
        """Every process's ``values`` (a few numbers, the same count on every process): ``(size, count)``."""
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if self.size == 1:
            return values[None, :].copy()
        out = np.empty((self.size, values.size), np.float64)
        self._wait(self.comm.Iallgather(values, out), "an allgather")
        return out

    def broadcast_value(self, value: float, root: int = 0) -> float:
        """Process ``root``'s float ``value``."""
        buf = np.array([value], np.float64)
        return float(self.broadcast_(buf, root)[0])

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            self._wait(self.comm.Ibarrier(), "a barrier")

    def abort(self, code: int = 1) -> None:
        """End every process of the group (after an unrecoverable error on this one)."""
        if self.size > 1:
            self.comm.Abort(code)

    def __repr__(self):
        kind = "single process" if self.comm is None else "MPI"
        return f"<Communicator {kind}, rank={self.rank}, size={self.size}, timeout={self.timeout:g}s>"
