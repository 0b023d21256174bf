"""Data-parallel training over MPI, on loopback: ``mpiexec -n 2`` runs tests/distribution_worker.py.

Both processes must end with bit-identical weights, equal (to float32
summation order) to one process trained on the same global batches; only
process 0 writes files and prints; bad inputs and failing or stalled
processes stop the whole group with a clear message instead of hanging.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="the MPI tests need the mpi extra: pip install 'ferronet[mpi]'")

from ferronet import distribution  # noqa: E402
from ferronet.distribution import Communicator  # noqa: E402

from . import distribution_worker as worker  # noqa: E402

WORKER = os.path.join(os.path.dirname(__file__), "distribution_worker.py")


def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def launch(scenario, out, n=2, timeout=120, env=None):
    exe = _mpiexec()
    if exe is None:
        pytest.skip("no mpiexec on PATH (pip install 'ferronet[mpi]' brings MPICH's)")
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("FERRONET_NUM_THREADS", None)
    return subprocess.run([exe, "-n", str(n), sys.executable, WORKER, scenario, str(out)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=str(out))


def ok(proc):
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def results(out, scenario, rank):
    with np.load(os.path.join(out, f"{scenario}-{rank}.npz")) as f:
        return {k: f[k] for k in f.files}


def weights(r):
    return [r[f"arr_{i}"] for i in range(sum(k.startswith("arr_") for k in r))]


def one_process():
    return distribution.DataParallel(communicator=Communicator())


def check_equal_ranks(out, scenario):
    r0, r1 = results(out, scenario, 0), results(out, scenario, 1)
    for a, b in zip(weights(r0), weights(r1)):
        np.testing.assert_array_equal(a, b)  # every process applied the same averaged updates
    for key in r0:
        if not key.startswith("arr_"):
            np.testing.assert_array_equal(r0[key], r1[key])
    return r0


@pytest.mark.parametrize("shared", ["1", "0"], ids=["shared-memory", "mpi-allreduce"])
def test_two_processes_equal_one_process_with_the_same_global_batches(tmp_path, shared):
    proc = ok(launch("train", tmp_path, env={"FERRONET_SHARED_MEMORY": shared}))
    r = check_equal_ranks(tmp_path, "train")
    assert int(r["threads"]) == 1  # two processes on two cores: one thread each
    assert bool(r["shared"]) == (shared == "1")  # which path summed the gradients
    # One process, plain fit: same data, global batch, order (no shuffling) and validation tail.
    model = worker.build(100)
    x, y = worker.data()
    h = model.fit(x, y, batch_size=worker.BATCH, epochs=worker.EPOCHS, validation_split=0.2, shuffle=False,
                  verbose=0).history
    for got, want in zip(weights(r), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(r[key], h[key], rtol=2e-5, atol=1e-6)
    xt, yt = worker.data(90, seed=2)
    np.testing.assert_allclose(r["eval"], model.evaluate(xt, yt, batch_size=worker.BATCH, verbose=0), rtol=2e-5)
    # Only process 0 printed and wrote files.
    assert proc.stdout.count("Epoch 1/3") == 1
    assert (tmp_path / "rank0" / "ckpt.ferronet").exists() and (tmp_path / "rank0" / "log.csv").exists()
    assert not any((tmp_path / "rank1").iterdir())


def test_three_processes_equal_one_process(tmp_path):
    ok(launch("source", tmp_path, n=3))  # batches of 40 cut 14/13/13; three segments summed in rank order
    r = check_equal_ranks(tmp_path, "source")
    for a, b in zip(weights(r), weights(results(tmp_path, "source", 2))):
        np.testing.assert_array_equal(a, b)
    model = worker.build(100)
    x, y = worker.data()
    h = model.fit(worker.Batches(x, y, 40), epochs=worker.EPOCHS, verbose=0).history
    for got, want in zip(weights(r), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(r["loss"], h["loss"], rtol=2e-5)


def test_shuffled_batches_are_the_same_on_two_processes_and_on_one(tmp_path):
    ok(launch("train_shuffled", tmp_path))
    r = check_equal_ranks(tmp_path, "train_shuffled")
    (tmp_path / "alone").mkdir()
    model, ref = worker.train(str(tmp_path / "alone"), shuffle=True, strategy=one_process())
    for got, want in zip(weights(r), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(r["loss"], ref["loss"], rtol=2e-5)


def test_a_batch_source_is_split_batch_by_batch(tmp_path):
    ok(launch("source", tmp_path))
    r = check_equal_ranks(tmp_path, "source")
    model = worker.build(100)
    x, y = worker.data()
    h = model.fit(worker.Batches(x, y, 40), epochs=worker.EPOCHS, verbose=0).history
    for got, want in zip(weights(r), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(r["loss"], h["loss"], rtol=2e-5)


def test_broadcast_gives_every_process_the_weights_and_optimizer_state_of_process_zero(tmp_path):
    ok(launch("broadcast", tmp_path))
    r = check_equal_ranks(tmp_path, "broadcast")
    assert int(r["iterations"]) == 1 and np.abs(r["0_momentum"]).max() > 0


def test_batchnorm_statistics_end_every_epoch_equal_on_all_processes(tmp_path):
    ok(launch("batchnorm", tmp_path))
    check_equal_ranks(tmp_path, "batchnorm")


def test_a_stop_requested_on_one_process_ends_training_on_all(tmp_path):
    ok(launch("stop_on_one", tmp_path, timeout=60))
    r = check_equal_ranks(tmp_path, "stop_on_one")
    assert int(r["epochs"]) == 1 and int(r["steps"]) == 4


def test_apply_gradients_averages_over_processes(tmp_path):
    ok(launch("apply_gradients", tmp_path))
    for rank in (0, 1):
        for delta in weights(results(tmp_path, "apply_gradients", rank)):
            np.testing.assert_allclose(delta, 2 * 1.5)  # two SGD steps of lr 1 on the mean of 1 and 2


@pytest.mark.parametrize(
    "scenario, message",
    [
        ("different_lengths", "Every process must pass the same data"),
        ("small_batch", "at least the number of processes (2)"),
        ("crash", "a failure on purpose in process 1"),
    ],
)
def test_a_failing_process_stops_the_group_with_its_message(tmp_path, scenario, message):
    proc = launch(scenario, tmp_path, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "stopping all 2 processes" in proc.stderr


def test_a_stalled_process_makes_the_others_time_out(tmp_path):
    proc = launch("stall", tmp_path, timeout=60, env={"FERRONET_COLLECTIVE_TIMEOUT": "1"})
    assert proc.returncode != 0
    assert "CollectiveTimeoutError" in proc.stderr and "waited 1 s" in proc.stderr
