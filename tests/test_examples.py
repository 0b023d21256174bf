"""Smoke tests: every script in examples/ runs to the end with small sizes (FERRONET_EXAMPLES_QUICK=1)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script, tmp_path, *args, env=None, timeout=120):
    full_env = dict(os.environ, FERRONET_EXAMPLES_QUICK="1", MPLBACKEND="Agg", FERRONET_OFFLINE="1", **(env or {}))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_every_example_has_a_test():
    tested = {
        "nand_logistic.py",
        "xor_mlp.py",
        "photon_jet_roc.py",
        "ising_phases.py",
        "digits_cnn.py",
        "mnist_tutorial.py",
        "transfer_learning.py",
        "pinn_burgers.py",
        "mpi_mnist_mlp.py",
        "particle_transformer.py",
        "track_sequence_lstm.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_nand_logistic(tmp_path):
    out = run("nand_logistic.py", tmp_path)
    assert "accuracy 1.00" in out and "decision boundary" in out


def test_pinn_burgers(tmp_path):
    out = run("pinn_burgers.py", tmp_path)
    error = float(out.split("relative L2 error against the Cole-Hopf solution:")[1].split()[0])
    assert 0 < error < 1.0  # a short run; the full schedule reaches about 1e-2 (README)
    assert "L-BFGS:" in out


def test_xor_mlp(tmp_path):
    out = run("xor_mlp.py", tmp_path)
    assert "MLP 1.00" in out


def test_photon_jet_roc(tmp_path):
    import matplotlib  # noqa: F401  (in the test extra: a missing one must fail, not skip)
    out = run("photon_jet_roc.py", tmp_path, "plots")
    assert "ROC AUC of the network" in out and "rejection 1/eps_b" in out
    for name in ("history", "roc", "rejection", "confusion", "scores"):
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 10_000


def test_ising_phases(tmp_path):
    out = run("ising_phases.py", tmp_path, 8)
    assert "estimated T_c" in out and "Onsager's exact T_c = 2.269" in out


def test_digits_cnn(tmp_path):
    import sklearn  # noqa: F401  (in the test extra)
    out = run("digits_cnn.py", tmp_path)
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.5 and "confusion matrix" in out


def test_transfer_learning(tmp_path):
    import sklearn  # noqa: F401  (in the test extra)
    out = run("transfer_learning.py", tmp_path)
    assert "frozen conv" in out and "faster" in out


def test_mnist_tutorial_on_a_small_file(tmp_path):
    # the tutorial code, unchanged, reads mnist.npz from FERRONET_DATA: give it a small learnable stand-in
    rng = np.random.default_rng(0)
    centers = rng.integers(0, 256, (10, 28, 28))

    def split(n):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = np.clip(centers[y] + rng.normal(0, 40, (n, 28, 28)), 0, 255).astype(np.uint8)
        return x, y

    (xtr, ytr), (xte, yte) = split(300), split(100)
    np.savez(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    out = run("mnist_tutorial.py", tmp_path, env={"FERRONET_DATA": str(tmp_path)})
    assert "Epoch 5/5" in out and "accuracy" in out


@pytest.mark.slow
def test_mnist_tutorial_on_real_mnist(tmp_path):
    from ferronet.datasets import DatasetNotFoundError, mnist

    os.environ.setdefault("FERRONET_OFFLINE", "1")
    try:
        mnist.load_data()
    except DatasetNotFoundError:
        pytest.skip("MNIST is not on this machine")
    out = run("mnist_tutorial.py", tmp_path, timeout=300)
    assert "Epoch 5/5" in out


def test_mpi_mnist_mlp(tmp_path):
    pytest.importorskip("mpi4py", reason="needs the mpi extra")
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        pytest.skip("no mpiexec next to the Python executable")
    env = dict(os.environ, FERRONET_EXAMPLES_QUICK="1", FERRONET_OFFLINE="1")
    env.pop("FERRONET_NUM_THREADS", None)
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, str(EXAMPLES / "mpi_mnist_mlp.py")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.count("Epoch 2/2") == 1 and "2 processes, 1 thread(s) each: test accuracy" in proc.stdout
    assert (tmp_path / "mpi_mnist_mlp.ferronet").exists()


def test_particle_transformer(tmp_path):
    out = run("particle_transformer.py", tmp_path)
    auc = float(out.split("ROC AUC of the transformer:")[1].split()[0])
    change = float(out.split("reordered:")[1].split()[0])
    assert auc > 0.7 and change < 1e-4


def test_track_sequence_lstm(tmp_path):
    out = run("track_sequence_lstm.py", tmp_path)
    row = next(line for line in out.splitlines() if line.startswith("LSTM on the track sequence"))
    assert float(row.split()[-2]) > 0.75  # ROC AUC after a two-epoch run
