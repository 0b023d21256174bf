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


def _predict_block(block, model, batch_size, caller_pid):
    from .. import _core

    if os.getpid() != caller_pid:
        # A worker process of its own: ferronet uses the threads Dask gave the worker, not every core. The
        # worker's tasks share one unpickled model, whose lock makes them take turns on those threads.
        threads = _worker_threads()
        if threads and _core.get_num_threads() != threads:
            _core.set_num_threads(int(threads))
    if block.shape[0] == 0:
        return np.empty(tuple(model.compute_output_shape(block.shape)), model.dtype)
    return model.predict(block, batch_size=batch_size, verbose=0)


def predict(model, x, batch_size=None):
    """Model outputs for a Dask array, computed lazily block by block (``map_blocks``) where the blocks live.

    ``x`` is rechunked along the sample axis only (each block holds whole
    samples). The model travels to the workers once, as ferronet's byte
    format (weights and configuration, no code), and each worker process
    runs it with the number of threads Dask gave it.

    Args:
        model: a built ferronet model.
        x: a ``dask.array.Array`` ``(samples, ...)`` (a NumPy array is wrapped in one block).
        batch_size: rows per ``predict`` batch inside a block (default 32).

    Returns:
        A lazy ``dask.array.Array`` ``(samples, *output_shape)``; ``.compute()`` it (on a
        ``distributed.Client`` when one is active).

    Raises:
        ImportError: without Dask (``pip install 'ferronet[dask]'``).
        ValueError: if the model is not built or ``x`` has no sample axis.

    Example:

    >>> from dask.distributed import Client, LocalCluster
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    >>> x = dask.array.from_zarr("events.zarr")
    >>> scores = ferronet.distribution.predict(model, x, batch_size=1024).compute()
    """
    dask, da = _require_dask()
    if not isinstance(x, da.Array):
        arr = np.asarray(x)
        x = da.from_array(arr, chunks=arr.shape or (1,))
    if x.ndim == 0:
        raise ValueError(f"x needs a sample axis. Received: a scalar dask array of shape {x.shape}")
    if not model.built:
        model.build((None,) + tuple(x.shape[1:]))
    out_shape = tuple(model.compute_output_shape((None,) + tuple(x.shape[1:]))[1:])
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
                        dtype=np.dtype(model.dtype), chunks=chunks, **kwargs)
