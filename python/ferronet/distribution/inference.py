"""``predict``: batch inference of a model over a Dask array, block by block on the Dask workers."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["predict"]


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as e:
        raise ImportError(
            "ferronet.distribution.predict needs Dask: pip install 'ferronet[dask]' (dask[array] and distributed). "
            f"Received: {type(e).__name__}: {e}"
        ) from e
    return dask, da


def _worker_threads():
    """Threads the Dask worker running this task was given, or None outside a distributed worker."""
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        worker = get_worker()
    except ValueError:  # not inside a worker (local schedulers)
        return None
    state = getattr(worker, "state", None)
    return getattr(state, "nthreads", None) or getattr(worker, "nthreads", None)


def _predict_block(block, model, batch_size, caller_pid, out_shape, dtype):
    from .. import _core

    if os.getpid() != caller_pid:
        # A worker process of its own: ferronet uses the threads Dask gave the worker, not every core. The
        # worker's tasks share one unpickled model, whose lock makes them take turns on those threads.
        threads = _worker_threads()
        if threads and _core.get_num_threads() != threads:
            _core.set_num_threads(int(threads))
    if block.shape[0] == 0:
        return np.empty((0,) + out_shape, dtype)
    return model.predict(block, batch_size=batch_size, verbose=0)


def predict(model, x, batch_size=None):
    """Model outputs for a Dask array, computed lazily block by block (``map_blocks``) where the blocks live.

    ``x`` is rechunked along the sample axis only (each block holds whole
    samples). The model travels to the workers once, as ferronet's byte
    format (weights and configuration, no code), and each worker process
    runs it with the number of threads Dask gave it.

    Args:
        model: a ferronet model (built on the first call if needed).
        x: a ``dask.array.Array`` ``(samples, ...)`` (a NumPy array is wrapped in one block).
        batch_size: rows per ``predict`` batch inside a block (default 32).

    Returns:
        A lazy ``dask.array.Array`` ``(samples, *output_shape)``; ``.compute()`` it (on a
        ``distributed.Client`` when one is active).

    Raises:
        ImportError: without Dask (``pip install 'ferronet[dask]'``).
        ValueError: if ``x`` has no sample axis or its samples do not fit the model (checked before any
            block is computed).

    Example:

    On a cluster, with the events in a Zarr store (not run here):

    >>> import dask.array
    >>> from dask.distributed import Client, LocalCluster
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> x = dask.array.from_zarr("events.zarr")  # doctest: +SKIP
    >>> scores = ferronet.distribution.predict(model, x, batch_size=1024).compute()  # doctest: +SKIP
    """
    dask, da = _require_dask()
    if not isinstance(x, da.Array):
        arr = np.asarray(x)
        x = da.from_array(arr, chunks=arr.shape or (1,))
    if x.ndim == 0:
        raise ValueError(f"x needs a sample axis. Received: a scalar dask array of shape {x.shape}")
    # One zero sample through the model here: a shape mismatch fails now, with ferronet's message, not on a
    # worker at compute time; and it gives the output's shape and dtype.
    probe = model.predict(np.zeros((1,) + tuple(x.shape[1:]), np.dtype(x.dtype) if x.dtype.kind == "f" else
                                   np.float32), verbose=0)
    out_shape = probe.shape[1:]
    if x.ndim > 1:
        x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    chunks = (x.chunks[0],) + tuple((d,) for d in out_shape)
    out_ndim = 1 + len(out_shape)
    kwargs = {}
    if x.ndim > out_ndim:
        kwargs["drop_axis"] = list(range(out_ndim, x.ndim))
    elif x.ndim < out_ndim:
        kwargs["new_axis"] = list(range(x.ndim, out_ndim))
    payload = dask.delayed(model, pure=True, traverse=False)
    return x.map_blocks(_predict_block, payload, 32 if batch_size is None else int(batch_size), os.getpid(),
                        out_shape, probe.dtype, dtype=probe.dtype, chunks=chunks, **kwargs)
