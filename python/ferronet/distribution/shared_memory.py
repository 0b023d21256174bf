"""``NodeSum``: the gradient allreduce through memory shared by the processes of a node.

Each process's gradient buffer is its own segment of one MPI shared-memory
window, so the backward pass writes straight into memory the other processes
of the node can read. A step's sum is then a reduce-scatter and an allgather
done by plain loads and stores: process ``r`` adds chunk ``r`` of every
segment, in rank order, and writes the sum into chunk ``r`` of every
segment, between two barriers. Every process of a node therefore ends with
the same bytes, summed in rank order. When the group spans several nodes, chunk
``r`` is then summed across the nodes by an ``Allreduce`` among the
processes with the same index on their node, before being written back.
On one node this moves each byte about twice instead of the several copies
through MPI's own buffers; and every process holds the same bytes.
"""

from __future__ import annotations

import atexit

import numpy as np

__all__ = ["NodeSum"]

_OPEN = []  # windows to free (a collective call) before MPI finalizes at exit


@atexit.register
def _free_all():
    # Registered after mpi4py's own exit handler (mpi4py is imported first), so it runs before MPI_Finalize.
    while _OPEN:
        _OPEN.pop().free()


class NodeSum:
    """A buffer of ``n`` elements in shared memory and the in-place sum of it over the group.

    Created collectively by every process of ``communicator``; use :attr:`buffer`
    as this process's data and :meth:`allreduce_sum_` to sum it.

    Args:
        communicator: a :class:`Communicator` over MPI whose nodes all hold the same number of processes.
        n: elements of the buffer.
        dtype: its dtype.
    """

    def __init__(self, communicator, n, dtype):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = communicator
        world = communicator.comm
        self.dtype = np.dtype(dtype)
        self.node = world.Split_type(MPI.COMM_TYPE_SHARED, key=world.Get_rank())
        local, count = self.node.Get_rank(), self.node.Get_size()
        self.cross = None
        if count < world.Get_size():
            self.cross = world.Split(color=local, key=world.Get_rank())
        info = MPI.Info.Create()
        info.Set("alloc_shared_noncontig", "true")  # each segment page-aligned, near its process
        self.win = MPI.Win.Allocate_shared(max(n, 1) * self.dtype.itemsize, self.dtype.itemsize, info=info,
                                           comm=self.node)
        info.Free()
        self.segments = []
        for r in range(count):
            memory, _ = self.win.Shared_query(r)
            self.segments.append(np.frombuffer(memory, self.dtype, n))
        self.win.Lock_all(MPI.MODE_NOCHECK)
        self.buffer = self.segments[local]
        self.buffer[...] = 0
        lo, hi = n * local // count, n * (local + 1) // count
        self.chunk = slice(lo, hi)
        _OPEN.append(self)

    def _barrier(self):
        self.win.Sync()  # this process's stores become visible ...
        self.comm._wait(self.node.Ibarrier(), "a node barrier")
        self.win.Sync()  # ... and the others' stores are seen

    def allreduce_sum_(self):
        """Sum :attr:`buffer` over every process of the group, in place."""
        self._barrier()  # every segment holds its process's gradients
        # Chunk c of every segment is this process's alone between the barriers: the sum, in rank order,
        # accumulates into segment 0's chunk and is copied into the others'.
        c, segs = self.chunk, self.segments
        acc = segs[0][c]
        for seg in segs[1:]:
            np.add(acc, seg[c], out=acc)
        if self.cross is not None:
            self.comm._wait(self.cross.Iallreduce(self._MPI.IN_PLACE, acc, op=self._MPI.SUM), "an allreduce")
        for seg in segs[1:]:
            seg[c] = acc
        self._barrier()  # every chunk is written back everywhere
        return self.buffer

    def free(self):
        """Release the window (collective: every process of the node calls it)."""
        if self.win is not None:
            self.win.Unlock_all()
            self.win.Free()
            self.win = None
            self.segments = []
            self.buffer = None
