"""Training and inference beyond one process, on the engines clusters already run: MPI and Dask.

Data parallelism over MPI (Keras 3's ``keras.distribution`` names)::

    from ferronet import distribution
    distribution.initialize()                  # rank and size from the launcher (mpiexec, srun)
    strategy = distribution.DataParallel()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    strategy.fit(model, x, y, batch_size=256, epochs=5)   # same call, same data, in every process

Launch with ``mpiexec -n 2 python train.py`` (``pip install 'ferronet[mpi]'``)
or ``srun`` on SLURM. Batch inference over Dask: :func:`predict`
(``pip install 'ferronet[dask]'``).
"""

from .callbacks import GlobalMetrics, StopTogether, SyncWeights, average_weights, broadcast_weights, global_logs
from .communicator import CollectiveTimeoutError, Communicator
from .context import communicator, distribution, initialize, num_processes, process_id, set_distribution
from .data_parallel import DataParallel
from .dataset import ShardedBatches
from .inference import predict
from .optimizer import DistributedOptimizer

__all__ = [
    "initialize",
    "process_id",
    "num_processes",
    "communicator",
    "set_distribution",
    "distribution",
    "DataParallel",
    "DistributedOptimizer",
    "ShardedBatches",
    "SyncWeights",
    "GlobalMetrics",
    "StopTogether",
    "broadcast_weights",
    "average_weights",
    "global_logs",
    "Communicator",
    "CollectiveTimeoutError",
    "predict",
]
