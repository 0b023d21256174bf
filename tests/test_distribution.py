"""ferronet.distribution in one process: the optimizer wrapper, batch sharding and metric reduction (with a
stand-in communicator for other process counts), initialization from launcher variables, errors, and Dask
inference on a LocalCluster bound to 127.0.0.1."""

import os
import pickle
import sys

import numpy as np
import pytest

import ferronet as fn
from ferronet import distribution, layers, metrics, optimizers
from ferronet.distribution import Communicator, ShardedBatches, context, global_logs
from ferronet.distribution.communicator import require_mpi


def mlp(seed=0, optimizer="sgd", metric_list=None):
    fn.utils.set_random_seed(seed)
    m = fn.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=metric_list)
    return m


def data(n=120, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return x, x[:, :3].argmax(axis=1)


class StandIn:
    """A communicator for ``size`` processes that all hold this process's data: collectives act as if the
    other processes sent the same values (sums scale by ``size``)."""

    def __init__(self, rank=0, size=2):
        self.rank, self.size = rank, size

    def allreduce_sum_(self, buffer):
        buffer *= self.size
        return buffer

    def broadcast_(self, buffer, root=0):
        return buffer

    def broadcast_value(self, value, root=0):
        return value

    def allgather(self, values):
        return np.tile(np.asarray(values, np.float64).reshape(1, -1), (self.size, 1))


def one_process():
    return distribution.DataParallel(communicator=Communicator())


# ------------------------------------------------------------------ optimizer


def test_distributed_optimizer_stays_the_wrapped_class_for_saving_and_pickling(tmp_path):
    opt = distribution.DistributedOptimizer(optimizers.Adam(learning_rate=0.01), communicator=Communicator())
    assert isinstance(opt, optimizers.Adam) and type(opt).__name__ == "Adam"
    assert optimizers.serialize(opt)["class_name"] == "Adam"
    assert not opt._fuses_into_gradient()  # fused Adam would update kernels before the allreduce
    plain = pickle.loads(pickle.dumps(opt))
    assert type(plain) is optimizers.Adam and plain.learning_rate == pytest.approx(0.01)
    m = mlp(optimizer=opt)
    x, y = data()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    m.save(tmp_path / "m.ferronet")
    back = fn.models.load_model(tmp_path / "m.ferronet")
    assert type(back.optimizer) is optimizers.Adam and back.optimizer.iterations == opt.iterations
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))


def test_gradients_live_in_one_contiguous_buffer_and_one_process_trains_like_plain_fit():
    x, y = data()
    ref = mlp(optimizer=optimizers.SGD(0.1))
    ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    m = mlp(optimizer=distribution.DistributedOptimizer(optimizers.SGD(0.1), communicator=Communicator()))
    m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    (flat,) = m.optimizer._grad_buffer.flats
    for v in m.trainable_weights:
        assert np.shares_memory(v.grad, flat) and v.grad.ctypes.data % 64 == 0


def test_gradients_are_averaged_over_processes():
    opt = distribution.DistributedOptimizer(optimizers.SGD(1.0), communicator=StandIn(size=4))
    m = mlp()
    before = m.get_weights()
    opt.apply([np.ones(v.shape, np.float32) for v in m.trainable_weights], m.trainable_weights)
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_allclose(b - a, 1.0)  # four processes sent 1/4 each


def test_wrapping_takes_over_state_and_an_existing_wrapper_is_reused():
    inner = optimizers.RMSprop(learning_rate=0.02)
    inner.iterations = 5
    opt = distribution.DistributedOptimizer(inner, communicator=Communicator())
    assert opt.iterations == 5 and opt.learning_rate == pytest.approx(0.02)
    assert distribution.DistributedOptimizer(opt, communicator=Communicator()) is opt
    with pytest.raises(ValueError, match="Unknown optimizer"):
        distribution.DistributedOptimizer("nope", communicator=Communicator())


# ------------------------------------------------------------------- sharding


@pytest.mark.parametrize("size", [2, 3])
def test_the_parts_of_each_global_batch_cover_it_in_order(size):
    x, y = data(100)
    global_batches = ShardedBatches(x, y, batch_size=24, shuffle=True, seed=4, strategy=one_process())
    steps = len(global_batches)
    assert steps == 5
    parts = []
    for rank in range(size):
        strategy = distribution.DataParallel(communicator=StandIn(rank, size))
        parts.append(ShardedBatches(x, y, batch_size=24, shuffle=True, seed=4, strategy=strategy))
    for epoch in range(2):
        for i in range(steps):
            gx, gy = global_batches[i]
            shares = []
            for p in parts:
                px, py = p[i]
                shares.append(p.strategy._share)
            np.testing.assert_array_equal(np.concatenate([p[i][0] for p in parts]), gx)
            np.testing.assert_array_equal(np.concatenate([p[i][1] for p in parts]), gy)
            assert sum(shares) == pytest.approx(1.0)
            assert max(len(p[i][0]) for p in parts) - min(len(p[i][0]) for p in parts) <= 1
        for s in [global_batches, *parts]:
            s.on_epoch_end()
    with pytest.raises(IndexError):
        parts[0][steps]


def test_a_batch_share_holds_for_one_step_and_evaluation_data_sets_none():
    x, y = data(30)
    strategy = distribution.DataParallel(communicator=StandIn(0, 2))
    m = mlp(optimizer=strategy.optimizer("sgd"))
    strategy.distribute_dataset(x, y, batch_size=30, training=False)[0]
    assert strategy._share is None
    xb, yb = strategy.distribute_dataset(x, y, batch_size=30, shuffle=False)[0]
    assert strategy._share == 0.5 and len(xb) == 15
    m.train_on_batch(xb, yb)
    assert strategy._share is None  # a later custom step averages with equal weights


def test_a_tail_smaller_than_the_process_count_is_skipped_with_a_warning():
    x, y = data(101)
    strategy = distribution.DataParallel(communicator=StandIn(0, 2))
    with pytest.warns(UserWarning, match="hold 1 samples, fewer than the 2 processes"):
        batches = ShardedBatches(x, y, batch_size=20, strategy=strategy)
    assert len(batches) == 5


def test_sharding_refuses_bad_batches_and_different_data():
    x, y = data()
    strategy = distribution.DataParallel(communicator=StandIn(0, 4))
    with pytest.raises(ValueError, match=r"at least the number of processes \(4\).*batch_size=3"):
        ShardedBatches(x, y, batch_size=3, strategy=strategy)

    class Differs(StandIn):
        def allgather(self, values):
            table = super().allgather(values)
            table[1, 0] -= 1
            return table

    with pytest.raises(ValueError, match="process 0: 120 samples, x rows \\(6,\\), y rows \\(\\); process 1: 119"):
        ShardedBatches(x, y, batch_size=16, strategy=distribution.DataParallel(communicator=Differs()))
    with pytest.raises(ValueError, match="y and sample_weight must not be given"):
        ShardedBatches(iter([(x, y)]), y, strategy=strategy)


def test_a_generator_source_is_split_and_refuses_tiny_batches():
    x, y = data(40)
    strategy = distribution.DataParallel(communicator=StandIn(1, 2))
    src = ShardedBatches(((x[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)), steps=4, strategy=strategy)
    bx, by = src[0]
    np.testing.assert_array_equal(bx, x[5:10])
    tiny = ShardedBatches(iter([(x[:1], y[:1])]), steps=1, strategy=strategy)
    with pytest.raises(ValueError, match="holds 1 samples, fewer than the 2 processes"):
        tiny[0]


# -------------------------------------------------------------------- metrics


class Recorder(StandIn):
    """Process 1 of 2: keeps what it sends."""

    def allreduce_sum_(self, buffer):
        self.sent = buffer.copy()
        return buffer


class AddsProcessOne(StandIn):
    """Process 0 of 2: receives what the Recorder sent."""

    def __init__(self, other):
        super().__init__(0, 2)
        self.other = other

    def allreduce_sum_(self, buffer):
        buffer += self.other
        return buffer


def test_global_logs_combine_metric_states_like_one_process_over_all_samples():
    x, y = data(200)
    y = (y == 0).astype(np.float32)
    fn.utils.set_random_seed(0)
    m = fn.Sequential([layers.Input((6,)), layers.Dense(4, activation="relu"), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="sgd", loss="binary_crossentropy",
              metrics=["accuracy", "mae", metrics.Precision(name="p"), metrics.AUC(name="auc"),
                       metrics.AUC(exact=True, name="exact"), metrics.F1Score(threshold=0.5, name="f1")])
    whole = m.evaluate(x, y, verbose=0, return_dict=True)
    halves = [m.evaluate(x[:80], y[:80], verbose=0, return_dict=True)]
    one = Recorder(1, 2)
    global_logs(m, one)
    halves.append(m.evaluate(x[80:], y[80:], verbose=0, return_dict=True))
    logs = global_logs(m, AddsProcessOne(one.sent))
    for key in whole:
        if key == "exact":  # no additive state: the sample-weighted mean of the processes' values
            np.testing.assert_allclose(logs[key], 0.4 * halves[0][key] + 0.6 * halves[1][key], rtol=1e-12)
        else:
            np.testing.assert_allclose(logs[key], whole[key], rtol=1e-6, err_msg=key)
            assert not np.allclose(halves[1][key], whole[key], rtol=1e-6), key  # the combination mattered
    local = m._logs()
    for key, value in global_logs(m, Communicator()).items():
        np.testing.assert_allclose(value, local[key], rtol=1e-12)


def test_global_metrics_only_silences_the_progress_bar_on_other_processes():
    params = {"verbose": 1, "epochs": 1, "steps": 3}
    distribution.GlobalMetrics(StandIn(0, 2)).set_params(params)
    assert params["verbose"] == 1
    distribution.GlobalMetrics(StandIn(1, 2)).set_params(params)
    assert params["verbose"] == 0


def test_file_writers_stay_on_process_zero(tmp_path):
    ckpt = fn.callbacks.ModelCheckpoint(tmp_path / "m.ferronet")
    stop = fn.callbacks.EarlyStopping()
    zero = distribution.DataParallel(communicator=StandIn(0, 2)).callbacks([ckpt, stop])
    one = distribution.DataParallel(communicator=StandIn(1, 2)).callbacks([ckpt, stop])
    assert ckpt in zero and ckpt not in one and stop in one
    assert isinstance(one[0], distribution.SyncWeights) and isinstance(one[1], distribution.GlobalMetrics)
    assert not any(isinstance(c, distribution.StopTogether) for c in one)  # nothing can stop mid-epoch
    nan = fn.callbacks.TerminateOnNaN()
    assert isinstance(distribution.DataParallel(communicator=StandIn(1, 2)).callbacks([nan])[-1],
                      distribution.StopTogether)


# -------------------------------------------------------- initialization, API


def test_process_id_and_count_come_from_the_launcher_before_initialize(monkeypatch):
    monkeypatch.setitem(context._state, "comm", None)
    for var in ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK",
                "PMI_SIZE"):
        monkeypatch.delenv(var, raising=False)
    assert (distribution.process_id(), distribution.num_processes()) == (0, 1)
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    assert (distribution.process_id(), distribution.num_processes()) == (3, 4)


def test_several_processes_without_mpi4py_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(context._state, "comm", None)
    monkeypatch.setenv("PMI_RANK", "0")
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(ImportError, match=r"pip install 'ferronet\[mpi\]'"):
        distribution.initialize()
    monkeypatch.setenv("PMI_SIZE", "1")
    comm = distribution.initialize(num_threads=None)  # one process needs no MPI
    assert comm.size == 1 and comm.comm is None


class _NoLibMPI:
    """mpi4py 4's finder when no MPI library can be loaded: importing mpi4py.MPI raises RuntimeError."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "mpi4py.MPI":
            raise RuntimeError("cannot load MPI library\nlibmpi.so: cannot open shared object file")
        return None


def test_mpi4py_without_an_mpi_library_is_an_import_error_naming_the_extra(monkeypatch):
    package = type(sys)("mpi4py")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "mpi4py", package)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoLibMPI(), *sys.meta_path])
    monkeypatch.setitem(context._state, "comm", None)
    for var in ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK",
                "PMI_SIZE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ImportError, match=r"pip install 'ferronet\[mpi\]'.*cannot load MPI library"):
        require_mpi()
    comm = distribution.initialize(num_threads=None)  # one process needs no MPI
    assert comm.size == 1 and comm.comm is None


def test_a_launcher_mpi_cannot_see_is_reported(monkeypatch):
    pytest.importorskip("mpi4py")
    monkeypatch.setitem(context._state, "comm", None)
    monkeypatch.setenv("SLURM_PROCID", "0")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    with pytest.raises(RuntimeError, match="started 4 processes .* but MPI sees only this one"):
        distribution.initialize()


def test_set_distribution_and_argument_errors(monkeypatch):
    monkeypatch.setitem(context._state, "distribution", None)
    strategy = one_process()
    distribution.set_distribution(strategy)
    assert distribution.distribution() is strategy
    distribution.set_distribution(None)
    assert distribution.distribution() is None
    with pytest.raises(ValueError, match="expects a DataParallel or None"):
        distribution.set_distribution("data")
    with pytest.raises(ValueError, match="does not take a device list"):
        distribution.DataParallel(devices=["cpu:0"])
    with pytest.raises(ValueError, match="timeout=0"):
        Communicator(timeout=0)
    monkeypatch.setenv("FERRONET_COLLECTIVE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="FERRONET_COLLECTIVE_TIMEOUT"):
        Communicator()


def test_initialize_twice_returns_the_same_communicator(monkeypatch):
    monkeypatch.setitem(context._state, "comm", None)
    first = distribution.initialize(num_threads=None)
    assert distribution.initialize(timeout=7) is first and first.timeout == 7
    assert distribution.communicator() is first
    assert distribution.initialize(num_processes=1, process_id=0) is first  # Keras' arguments, checked
    with pytest.raises(ValueError, match="num_processes=1. Received: num_processes=4"):
        distribution.initialize(num_processes=4)
    with pytest.raises(ValueError, match="not addresses"):
        distribution.initialize(job_addresses="10.0.0.1:1234")


def test_validation_split_needs_arrays():
    x, y = data()
    source = one_process().distribute_dataset(x, y, batch_size=16)
    with pytest.raises(ValueError, match="validation_split needs arrays"):
        one_process().fit(mlp(), source, validation_split=0.2, verbose=0)


def test_one_process_fit_helper_matches_plain_fit():
    x, y = data()
    ref = mlp(optimizer=optimizers.SGD(0.05), metric_list=["accuracy"])
    h_ref = ref.fit(x, y, batch_size=16, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
    m = mlp(optimizer=optimizers.SGD(0.05), metric_list=["accuracy"])
    h = one_process().fit(m, x, y, batch_size=16, epochs=2, shuffle=False, validation_split=0.25, verbose=0).history
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    for key in h_ref:
        np.testing.assert_allclose(h[key], h_ref[key], rtol=1e-12)


# ----------------------------------------------------------------------- dask


def conv_model():
    fn.utils.set_random_seed(1)
    return fn.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                          layers.Dense(3, activation="softmax")])


def test_predict_without_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'ferronet\[dask\]'"):
        distribution.predict(conv_model(), np.zeros((2, 6, 6, 1), np.float32))


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_predictions_equal_predict(dask_client):
    import dask.array as da

    model = conv_model()
    x = np.random.default_rng(0).standard_normal((500, 6, 6, 1)).astype(np.float32)
    lazy = distribution.predict(model, da.from_array(x, chunks=(128, 3, 6, 1)), batch_size=64)
    assert lazy.shape == (500, 3) and lazy.chunks[0] == (128, 128, 128, 116)
    np.testing.assert_allclose(lazy.compute(), model.predict(x, batch_size=64, verbose=0), rtol=1e-6, atol=1e-7)
    # Each worker process runs ferronet on the one thread Dask gave it (every worker runs a block here).
    from ferronet.distribution.inference import _predict_block

    outs = dask_client.run(_predict_block, x[:5], model, 32, os.getpid(), (3,), np.float32)
    for out in outs.values():
        np.testing.assert_allclose(out, model.predict(x[:5], verbose=0), rtol=1e-6, atol=1e-7)
    assert set(dask_client.run(fn.get_num_threads).values()) == {1}


def test_dask_predict_in_process_and_on_numpy_input():
    pytest.importorskip("dask.array")
    import dask

    fn.utils.set_random_seed(2)
    model = fn.Sequential([layers.Input((4,)), layers.Dense(2)])
    x = np.random.default_rng(1).standard_normal((50, 4)).astype(np.float32)
    with dask.config.set(scheduler="threads"):
        out = distribution.predict(model, x).compute()
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="sample axis"):
        distribution.predict(model, np.float32(1.0))
    with pytest.raises(ValueError, match=r"expects inputs of shape \(None, 4\)"):
        distribution.predict(model, np.zeros((10, 5), np.float32))
