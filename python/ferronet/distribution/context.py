"""Which process is this, how many are there: ``initialize``, ``process_id``, ``num_processes``, and the
global distribution (``set_distribution`` / ``distribution``), with Keras 3's names.

The launcher (``mpiexec``, ``mpirun``, ``srun``) starts the processes; MPI
tells each its rank and the count. Before ``initialize`` (or without MPI),
``process_id`` and ``num_processes`` read the launcher's environment
variables: SLURM's (``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS``), Open MPI's
(``OMPI_COMM_WORLD_RANK``/``SIZE``) or MPICH's (``PMI_RANK``/``PMI_SIZE``).
"""

from __future__ import annotations

import os
import sys
import time
import traceback

from .. import _core
from .communicator import Communicator, require_mpi

__all__ = ["initialize", "process_id", "num_processes", "communicator", "set_distribution", "distribution"]

_ABORT_GRACE = 0.2  # seconds between printing a failure and ending the group

_state = {"comm": None, "distribution": None, "hook": None}

# (rank variable, size variable) set by each launcher for the processes it starts.
_LAUNCHER_VARS = (
    ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS"),  # srun (a batch script alone has no step task count > 1)
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),  # Open MPI's mpirun
    ("PMI_RANK", "PMI_SIZE"),  # MPICH's mpiexec (Hydra) and PMI-based launchers
)


def _launcher_env():
    """``(rank, size, variable name)`` from the launcher's environment, or None."""
    for rank_var, size_var in _LAUNCHER_VARS:
        rank, size = os.environ.get(rank_var), os.environ.get(size_var)
        if rank is not None and size is not None:
            try:
                return int(rank), int(size), size_var
            except ValueError:
                continue
    return None


def initialize(job_addresses=None, num_processes=None, process_id=None, timeout=None, num_threads="auto"):
    """Join the group of processes started by the launcher (``mpiexec -n 2 python train.py``, ``srun``).

    Call it at the top of the script, in every process (later calls return
    the same communicator). With one process and no MPI installed it still
    works (a one-process group). In a group of several, an uncaught exception
    in any process prints its traceback and ends all of them (``MPI_Abort``)
    instead of leaving the others waiting.

    Args:
        job_addresses: Keras' argument; must be None (the launcher connects the processes).
        num_processes: Keras' argument; if given, checked against the launched count.
        process_id: Keras' argument; if given, checked against this process's rank.
        timeout: seconds a collective waits for the other processes before
            raising ``CollectiveTimeoutError`` (default ``FERRONET_COLLECTIVE_TIMEOUT`` or 300).
        num_threads: ferronet threads per process. ``"auto"``: in a group of
            several, the cores this process may use divided among the
            processes on its node (at least 1), unless ``FERRONET_NUM_THREADS``
            is set; an int sets it; None leaves it alone.

    Returns:
        The :class:`Communicator` (also returned later by :func:`communicator`).

    Raises:
        ImportError: several processes were launched but mpi4py is missing (``pip install 'ferronet[mpi]'``).
        RuntimeError: the launcher started several processes but MPI sees only this one (a launcher and an
            MPI library that do not match).

    Example:
        Run as a plain script, this is a group of one (with or without the ``mpi`` extra); under
        ``mpiexec -n 4 python train.py`` the same lines print ``0 4`` to ``3 4``:

        >>> from ferronet import distribution
        >>> comm = distribution.initialize()
        >>> comm.rank, comm.size
        (0, 1)
        >>> distribution.initialize() is comm  # later calls join nothing new
        True
    """
    if job_addresses is not None:
        raise ValueError(
            "ferronet's processes find each other through the MPI launcher (mpiexec, mpirun, srun), not "
            f"addresses. Received: job_addresses={job_addresses!r}"
        )
    comm = _state["comm"]
    if comm is None:
        comm = _join(timeout, num_threads)
    elif timeout is not None:  # already part of the group: one communicator per process
        comm.timeout = float(timeout)
    for name, want, have in (("num_processes", num_processes, comm.size), ("process_id", process_id, comm.rank)):
        if want is not None and int(want) != have:
            raise ValueError(f"The launcher gave this process {name}={have}. Received: {name}={want!r}")
    return comm


def _join(timeout, num_threads):
    env = _launcher_env()
    try:
        MPI = require_mpi()
    except ImportError:
        if env is not None and env[1] > 1:
            raise
        MPI = None
    comm = Communicator(None if MPI is None else MPI.COMM_WORLD, timeout=timeout)
    if env is not None and env[1] > 1 and comm.size == 1:
        raise RuntimeError(
            f"The launcher started {env[1]} processes ({env[2]}={env[1]}) but MPI sees only this one: mpi4py's MPI "
            "library does not speak to this launcher. Launch with the mpiexec of the same MPI (the MPICH wheel's "
            "`mpiexec`, or `srun --mpi=pmi2`), or build mpi4py against the cluster's MPI. Received: MPI size 1"
        )
    _state["comm"] = comm
    if comm.size > 1:
        _install_abort_hook(comm)
    if num_threads == "auto":
        if comm.size > 1 and "FERRONET_NUM_THREADS" not in os.environ:
            _core.set_num_threads(_threads_per_process(MPI, comm))
    elif num_threads is not None:
        _core.set_num_threads(int(num_threads))
    return comm


def _threads_per_process(MPI, comm):
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if cores < (os.cpu_count() or cores):
        return max(1, cores)  # pinned by the launcher: use what this process was given
    local = comm.comm.Split_type(MPI.COMM_TYPE_SHARED)
    on_node = local.Get_size()
    local.Free()
    return max(1, cores // on_node)


def _install_abort_hook(comm):
    """An uncaught exception on one process prints its traceback, then ends every process of the group."""
    if _state["hook"] is not None:
        return
    def hook(kind, value, tb):
        # The cause comes first and everything goes out in one write: the launcher stops forwarding
        # output once MPI_Abort tears the group down.
        summary = "".join(traceback.format_exception_only(kind, value)).strip()
        text = (f"ferronet.distribution: process {comm.rank} of {comm.size} failed: {summary}\n"
                + "".join(traceback.format_exception(kind, value, tb))
                + f"ferronet.distribution: stopping all {comm.size} processes (MPI_Abort).\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(2, text.encode("utf-8", "replace"))
        time.sleep(_ABORT_GRACE)  # lets the launcher forward the message before the teardown
        comm.abort(1)

    _state["hook"] = hook
    sys.excepthook = hook


def communicator() -> Communicator:
    """The communicator made by :func:`initialize` (which it calls first if needed).

    Example:
        >>> from ferronet import distribution
        >>> comm = distribution.communicator()
        >>> comm is distribution.initialize(), comm.size
        (True, 1)
        >>> comm.allgather([comm.rank, 2.5])  # one row per process
        array([[0. , 2.5]])
    """
    if _state["comm"] is None:
        initialize()
    return _state["comm"]


def process_id() -> int:
    """This process's index, 0 to ``num_processes() - 1`` (0 when not launched as a group).

    Example:
        >>> from ferronet import distribution
        >>> distribution.process_id()
        0
        >>> if distribution.process_id() == 0:  # the usual guard: one process writes files
        ...     model.save("model.keras")
    """
    if _state["comm"] is not None:
        return _state["comm"].rank
    env = _launcher_env()
    return 0 if env is None else env[0]


def num_processes() -> int:
    """How many processes the launcher started (1 when not launched as a group).

    Example:
        >>> from ferronet import distribution
        >>> distribution.num_processes()
        1
        >>> global_batch = 256
        >>> global_batch // distribution.num_processes()  # samples each process gets per step
        256
    """
    if _state["comm"] is not None:
        return _state["comm"].size
    env = _launcher_env()
    return 1 if env is None else env[1]


def set_distribution(value) -> None:
    """Set the global distribution (a :class:`DataParallel`), or None to train in one process again.

    With it set, a plain ``model.fit`` trains data-parallel (each process takes its share of every global
    batch); the example runs in one process, where that changes nothing but the route.

    Example:
        >>> from ferronet import distribution
        >>> distribution.set_distribution(distribution.DataParallel())
        >>> history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        >>> len(history.history["loss"])
        2
        >>> distribution.set_distribution(None)  # back to one process
    """
    from .data_parallel import DataParallel

    if value is not None and not isinstance(value, DataParallel):
        raise ValueError(f"set_distribution expects a DataParallel or None. Received: {value!r}")
    _state["distribution"] = value


def distribution():
    """The global distribution set by :func:`set_distribution` (None if unset).

    Example:
        >>> from ferronet import distribution
        >>> print(distribution.distribution())
        None
        >>> distribution.set_distribution(distribution.DataParallel())
        >>> distribution.distribution()
        <DataParallel processes=1, process_id=0>
        >>> distribution.set_distribution(None)
    """
    return _state["distribution"]
