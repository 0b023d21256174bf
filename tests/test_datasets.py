"""ferronet.datasets: MNIST-style loaders on small files in both formats, and the physics generators."""

import gzip
import io
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import ferronet
from ferronet import datasets
from ferronet.datasets import fashion_mnist, mnist

# ------------------------------------------------------------------ file formats


def tiny_split(rng, n_train=12, n_test=5, side=28):
    return (
        (rng.integers(0, 256, (n_train, side, side), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8)),
        (rng.integers(0, 256, (n_test, side, side), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)),
    )


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, a.ndim]) + np.array(a.shape, dtype=">u4").tobytes()
    return header + a.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, data, gz: bool, dotted: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = data
    for stem, a in (
        ("train-images-idx3-ubyte", xtr),
        ("train-labels-idx1-ubyte", ytr),
        ("t10k-images-idx3-ubyte", xte),
        ("t10k-labels-idx1-ubyte", yte),
    ):
        name = stem.replace("-idx", ".idx") if dotted else stem
        raw = idx_bytes(a)
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)


def assert_same(loaded, data):
    for (a, b), (c, d) in zip(loaded, data):
        assert a.dtype == np.uint8 and b.dtype == np.uint8
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """Empty FERRONET_DATA and HOME, downloads disabled."""
    monkeypatch.setenv("FERRONET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRONET_OFFLINE", "1")
    return tmp_path


def test_mnist_npz_with_keras_keys(data_home, rng):
    data = tiny_split(rng)
    (data_home / "data").mkdir()
    (xtr, ytr), (xte, yte) = data
    np.savez(data_home / "data" / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    assert_same(mnist.load_data(), data)
    assert_same(mnist.load_data(path=str(data_home / "data" / "mnist.npz")), data)  # explicit path


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (False, True)])
def test_mnist_idx_files(data_home, rng, gz, dotted):
    data = tiny_split(rng)
    write_idx_set(data_home / "data" / "mnist", data, gz=gz, dotted=dotted)
    assert_same(mnist.load_data(), data)


def test_keras_cache_is_searched_too(data_home, rng):
    data = tiny_split(rng)
    keras_dir = data_home / "home" / ".keras" / "datasets"
    write_idx_set(keras_dir / "fashion-mnist", data, gz=True)
    assert_same(fashion_mnist.load_data(), data)
    (xtr, ytr), (xte, yte) = data
    np.savez(keras_dir / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    assert_same(mnist.load_data(), data)
    assert len(fashion_mnist.CLASS_NAMES) == 10


def test_keras_namespace_loads_the_same(data_home, rng):
    data = tiny_split(rng)
    write_idx_set(data_home / "data" / "mnist", data, gz=True)
    import ferronet.keras

    assert_same(ferronet.keras.datasets.mnist.load_data(), data)


def test_offline_error_says_which_file_goes_where(data_home):
    with pytest.raises(datasets.DatasetNotFoundError) as err:
        mnist.load_data()
    msg = str(err.value)
    target = str(data_home / "data")
    assert f"{target}/mnist.npz" in msg and f"{target}/mnist/" in msg and "train-images-idx3-ubyte.gz" in msg
    assert "FERRONET_OFFLINE" in msg and "Received: nothing in" in msg
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, ferronet.FerronetError)
    with pytest.raises(datasets.DatasetNotFoundError, match=f"{target}/fashion-mnist/"):
        fashion_mnist.load_data()


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_atomic_and_checked(data_home, rng, monkeypatch):
    monkeypatch.delenv("FERRONET_OFFLINE")
    data = tiny_split(rng)
    served = {}
    (xtr, ytr), (xte, yte) = data
    for stem, a in (
        ("train-images-idx3-ubyte", xtr),
        ("train-labels-idx1-ubyte", ytr),
        ("t10k-images-idx3-ubyte", xte),
        ("t10k-labels-idx1-ubyte", yte),
    ):
        served[stem + ".gz"] = gzip.compress(idx_bytes(a))
    buf = io.BytesIO()
    np.savez(buf, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    served["mnist.npz"] = buf.getvalue()
    urls = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return FakeResponse(served[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    assert_same(fashion_mnist.load_data(), data)
    assert all(u.startswith("https://storage.googleapis.com/tensorflow/tf-keras-datasets/") for u in urls)
    assert sorted(p.name for p in (data_home / "data" / "fashion-mnist").iterdir()) == sorted(
        n for n in served if n.endswith(".gz")
    )
    # the served npz is not the real MNIST: the checksum fails and nothing is left behind
    with pytest.raises(datasets.DatasetNotFoundError, match="checksum mismatch"):
        mnist.load_data()
    assert list((data_home / "data").glob("mnist*")) == []

    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(
        datasets.DatasetNotFoundError, match="download failed: .*name resolution.*Put the Keras file mnist.npz"
    ):
        mnist.load_data()


def test_bad_files_give_clear_errors(data_home):
    folder = data_home / "data"
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ferronet.FerronetError, match=r"lacks the Keras keys \['y_train', 'x_test', 'y_test'\]"):
        mnist.load_data()
    bad = folder / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x01" + np.array([10], ">u4").tobytes() + b"\x01\x02")
    with pytest.raises(ferronet.FerronetError, match="truncated or corrupt"):
        datasets.read_idx(bad)
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(ferronet.FerronetError, match="not an IDX file"):
        datasets.read_idx(bad)


# ----------------------------------------------------------------------- Ising


def test_ising_shapes_values_and_seed():
    x, t = datasets.ising(L=8, temperatures=[1.5, 2.5, 3.5], n_per_T=7, seed=3, samples_per_chain=3)
    assert x.shape == (21, 8, 8) and x.dtype == np.int8 and set(np.unique(x)) <= {-1, 1}
    np.testing.assert_array_equal(t, np.repeat([1.5, 2.5, 3.5], 7))
    x2, _ = datasets.ising(L=8, temperatures=[1.5, 2.5, 3.5], n_per_T=7, seed=3, samples_per_chain=3)
    np.testing.assert_array_equal(x, x2)
    x3, _ = datasets.ising(
        L=8, temperatures=[2.5], n_per_T=4, seed=3, start="random", dtype=np.float32, n_equilibrate=10
    )
    assert x3.dtype == np.float32 and x3.shape == (4, 8, 8)


@pytest.mark.parametrize("method", ["metropolis", "wolff"])
def test_ising_phases_and_exact_energy(method):
    # L=32: finite-size corrections to the energy are far below the tolerance away from T_c, where
    # a few hundred sweeps from the ordered start equilibrate (the defaults also cover T near T_c)
    temps = [1.5, 2.0, 3.0, 4.0]
    x, t = datasets.ising(
        L=32,
        temperatures=temps,
        n_per_T=128,
        method=method,
        seed=11,
        samples_per_chain=2,
        n_equilibrate=250 if method == "metropolis" else 60,
    )
    m, e = np.abs(datasets.magnetization(x)), datasets.energy(x)
    for T in temps:
        k = t == T
        # the energy per spin fluctuates by ~0.05 from configuration to configuration: 0.02 is over 4 standard errors
        assert abs(e[k].mean() - datasets.exact_energy(T)) < 0.02, (T, e[k].mean(), datasets.exact_energy(T))
        if T < datasets.CRITICAL_TEMPERATURE:
            assert m[k].mean() > 0.85 and abs(m[k].mean() - datasets.exact_magnetization(T)) < 0.02
        else:
            assert m[k].mean() < 0.15


def test_ising_exact_solution_helpers():
    tc = datasets.CRITICAL_TEMPERATURE
    assert tc == pytest.approx(2.269185314213022)
    assert datasets.exact_energy(tc) == pytest.approx(-np.sqrt(2), abs=1e-6)
    assert datasets.exact_energy(0.5) == pytest.approx(-2.0, abs=1e-5) and datasets.exact_energy(
        100.0
    ) == pytest.approx(-2 * np.tanh(0.01), abs=1e-5)
    assert (
        datasets.exact_magnetization(1.0) == pytest.approx(0.99928, abs=1e-5) and datasets.exact_magnetization(3.0) == 0
    )
    cfg = np.ones((1, 4, 4))
    assert datasets.energy(cfg)[0] == -2.0 and datasets.magnetization(-cfg)[0] == -1.0
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 2 - 1
    assert datasets.energy(checker[None])[0] == 2.0


def test_ising_errors():
    with pytest.raises(ferronet.ArgumentError, match=r"even integer >= 4 .*Received: L=7"):
        datasets.ising(L=7)
    with pytest.raises(ferronet.ArgumentError, match=r"positive numbers. Received: temperatures=\[1.0, -2.0\]"):
        datasets.ising(L=8, temperatures=[1.0, -2.0])
    with pytest.raises(ferronet.ArgumentError, match="method='heatbath'"):
        datasets.ising(L=8, method="heatbath")
    with pytest.raises(ferronet.ArgumentError, match="start"):
        datasets.ising(L=8, start="hot")


# ----------------------------------------------------------- photon vs jet


def test_photon_jet_sample_is_physically_sensible():
    x, y = datasets.photon_jet(20000, seed=1)
    assert x.shape == (20000, 3) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.02 and np.all(x >= 0) and np.all(np.isfinite(x))
    ph, jet = x[y == 1], x[y == 0]
    hoe, width, iso = range(3)
    assert np.median(ph[:, hoe]) < 0.02 < np.median(jet[:, hoe])  # photons stay in the ECAL
    assert 0.009 < np.median(ph[:, width]) < 0.0105 < np.median(jet[:, width])  # narrow showers
    assert np.median(ph[:, iso]) < 2.0 < np.median(jet[:, iso])  # isolated
    aucs = [ferronet.metrics.roc_auc_score(y, -x[:, i]) for i in range(3)]
    assert all(0.8 < a < 0.95 for a in aucs)  # each variable helps, none is perfect
    assert datasets.PHOTON_JET_FEATURES == ("h_over_e", "sigma_ieta_ieta", "iso_sum")
    x2, y2 = datasets.photon_jet(20000, seed=1)
    np.testing.assert_array_equal(x, x2)
    assert datasets.photon_jet(1000, signal_fraction=0.1, seed=0)[1].mean() < 0.2
    with pytest.raises(ferronet.ArgumentError, match="Received: n=0"):
        datasets.photon_jet(0)


# ------------------------------------------------------------------ logic


@pytest.mark.parametrize(
    "gate,table",
    [
        ("nand", [1, 1, 1, 0]),
        ("AND", [0, 0, 0, 1]),
        ("or", [0, 1, 1, 1]),
        ("xor", [0, 1, 1, 0]),
        ("nor", [1, 0, 0, 0]),
        ("xnor", [1, 0, 0, 1]),
    ],
)
def test_logic_gates(gate, table):
    x, y = datasets.logic_gate(gate)
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y.ravel(), table)
    assert x.dtype == y.dtype == np.float32 and y.shape == (4, 1)


def test_logic_gate_repeat_noise_and_errors():
    x, y = datasets.logic_gate("xor", n_repeat=25, noise=0.05, seed=0)
    assert x.shape == (100, 2) and y.shape == (100, 1)
    a, b = np.round(x[:, 0]).astype(int), np.round(x[:, 1]).astype(int)
    np.testing.assert_array_equal(y.ravel(), a ^ b)
    with pytest.raises(ferronet.ArgumentError, match=r"unknown gate.*Received: name='nxor'"):
        datasets.logic_gate("nxor")


def test_jet_tracks_sample_is_physically_sensible():
    x, y = datasets.jet_tracks(3000, seed=2)
    assert x.shape == (3000, 15, 3) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    real = np.any(x != 0, axis=-1)
    assert real[:, 0].all()  # every jet has a track
    assert not np.any(real[:, 1:] & ~real[:, :-1])  # padding only after the last track
    sig = np.abs(x[..., 0])
    assert np.all(np.diff(np.where(real, sig, -1), axis=1) <= 0)  # sorted by |significance|
    assert np.median(sig[y == 1, 0]) > 3 * np.median(sig[y == 0, 0])  # B decays are displaced
    assert np.all(x[..., 1][real] > 0) and np.all(x[..., 2][real] <= 0.4)
    assert np.array_equal(datasets.jet_tracks(50, seed=3)[0], datasets.jet_tracks(50, seed=3)[0])
    with pytest.raises(ValueError, match="max_tracks"):
        datasets.jet_tracks(10, max_tracks=0)
