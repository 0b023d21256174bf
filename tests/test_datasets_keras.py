"""CIFAR-10/100, Boston housing and IMDB loaders on small synthetic files in Keras' cache formats."""

import io
import json
import os
import pickle
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

import ferronet
from ferronet.datasets import DatasetNotFoundError, boston_housing, cifar10, cifar100, imdb, mnist


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty data folder, a HOME without ~/.keras, and no network."""
    monkeypatch.setenv("FERRONET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRONET_OFFLINE", "1")
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def cifar_batch(rng, n, **labels) -> bytes:
    # the real files are Python 2 pickles of dicts with byte-string keys
    batch = {b"batch_label": b"synthetic", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
    batch.update({k.encode(): list(map(int, v)) for k, v in labels.items()})
    return pickle.dumps(batch, protocol=2)


def write_members(target, folder, members: dict, as_tar: bool):
    if as_tar:
        with tarfile.open(target, "w:gz") as tar:
            for name, blob in members.items():
                info = tarfile.TarInfo(f"{folder}/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        (target / folder).mkdir(parents=True)
        for name, blob in members.items():
            (target / folder / name).write_bytes(blob)


def cifar10_members(rng):
    return {
        **{f"data_batch_{i}": cifar_batch(rng, 3, labels=rng.integers(0, 10, 3)) for i in range(1, 6)},
        "test_batch": cifar_batch(rng, 4, labels=rng.integers(0, 10, 4)),
    }


def expected_images(blob):
    data = pickle.loads(blob, encoding="bytes")[b"data"]
    n = data.shape[0]
    # Keras layout: channel-major rows of 1024 red, 1024 green, 1024 blue bytes -> (n, 32, 32, 3)
    out = np.empty((n, 32, 32, 3), np.uint8)
    for i in range(n):
        for ch in range(3):
            out[i, :, :, ch] = data[i, ch * 1024 : (ch + 1) * 1024].reshape(32, 32)
    return out


@pytest.mark.parametrize("layout", ["keras2-folder", "keras3-folder", "archive", "keras2-archive", "keras3-archive"])
def test_cifar10_shapes_dtypes_and_pixel_layout(data_home, rng, layout):
    members = cifar10_members(rng)
    if layout == "keras2-folder":
        write_members(data_home, "cifar-10-batches-py", members, as_tar=False)
    elif layout == "keras3-folder":
        write_members(data_home / "cifar-10-batches-py", "cifar-10-batches-py", members, as_tar=False)
    else:
        name = {"archive": "cifar-10-python.tar.gz", "keras2-archive": "cifar-10-batches-py.tar.gz",
                "keras3-archive": "cifar-10-batches-py_archive"}[layout]
        write_members(data_home / name, "cifar-10-batches-py", members, as_tar=True)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (4, 32, 32, 3)
    assert y_train.shape == (15, 1) and y_test.shape == (4, 1)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    want = np.concatenate([expected_images(members[f"data_batch_{i}"]) for i in range(1, 6)])
    np.testing.assert_array_equal(x_train, want)
    np.testing.assert_array_equal(x_test, expected_images(members["test_batch"]))
    labels = [pickle.loads(members[f"data_batch_{i}"], encoding="bytes")[b"labels"] for i in range(1, 6)]
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate(labels))
    assert x_train.flags.c_contiguous


def test_cifar100_label_modes(data_home, rng):
    fine = {s: rng.integers(0, 100, n) for s, n in (("train", 6), ("test", 2))}
    coarse = {s: v // 5 for s, v in fine.items()}
    members = {
        s: cifar_batch(rng, len(fine[s]), fine_labels=fine[s], coarse_labels=coarse[s]) for s in ("train", "test")
    }
    write_members(data_home / "cifar-100-python-target", "cifar-100-python", members, as_tar=False)
    (xf, yf), (xt, yt) = cifar100.load_data()
    assert xf.shape == (6, 32, 32, 3) and yf.shape == (6, 1) and yt.shape == (2, 1) and yf.dtype == np.uint8
    np.testing.assert_array_equal(yf[:, 0], fine["train"])
    (_, yc), (_, yct) = cifar100.load_data(label_mode="coarse")
    np.testing.assert_array_equal(yc[:, 0], coarse["train"])
    np.testing.assert_array_equal(yct[:, 0], coarse["test"])
    np.testing.assert_array_equal(xt, expected_images(members["test"]))
    with pytest.raises(ValueError, match="label_mode must be one of .*Received: label_mode='medium'"):
        cifar100.load_data(label_mode="medium")


def test_cifar_files_that_run_code_are_refused(data_home, rng):
    members = cifar10_members(rng)
    members["test_batch"] = pickle.dumps(os.getcwd)  # any global other than NumPy's array rebuild
    write_members(data_home, "cifar-10-batches-py", members, as_tar=False)
    with pytest.raises(ferronet.FerronetError, match="refusing to load posix.getcwd"):
        cifar10.load_data()


def test_cifar_missing_member_and_bad_keys(data_home, rng):
    members = cifar10_members(rng)
    del members["data_batch_3"]
    write_members(data_home / "cifar-10-python.tar.gz", "cifar-10-batches-py", members, as_tar=True)
    with pytest.raises(ferronet.FerronetError, match="lacks cifar-10-batches-py/data_batch_3"):
        cifar10.load_data()
    members = {"train": cifar_batch(rng, 2, labels=[1, 2]), "test": cifar_batch(rng, 2, labels=[1, 2])}
    write_members(data_home, "cifar-100-python", members, as_tar=False)
    (data_home / "cifar-100-python" / "train").unlink()
    with pytest.raises(ferronet.FerronetError, match="lacks train: the extraction is incomplete"):
        cifar100.load_data()
    (data_home / "cifar-100-python" / "train").write_bytes(members["train"])
    with pytest.raises(ferronet.FerronetError, match="'fine_labels'. Received: keys"):
        cifar100.load_data()


def test_boston_housing_split_matches_keras_shuffle(data_home, rng):
    x, y = rng.normal(size=(50, 13)), rng.uniform(5, 50, 50)
    np.savez(data_home / "boston_housing.npz", x=x, y=y)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    order = np.random.RandomState(113).permutation(50)
    assert x_train.shape == (40, 13) and y_train.shape == (40,) and x_test.shape == (10, 13)
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x[order])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y[order])
    (a, _), (b, _) = boston_housing.load_data(test_split=0.5, seed=7)
    assert len(a) == len(b) == 25
    np.testing.assert_array_equal(a, x[np.random.RandomState(7).permutation(50)][:25])
    (a, _), (b, _) = boston_housing.load_data(path=str(data_home / "boston_housing.npz"), test_split=0)
    assert len(a) == 50 and len(b) == 0
    with pytest.raises(ValueError, match=r"test_split must be a number in \[0, 1\). Received: test_split=1"):
        boston_housing.load_data(test_split=1)


def write_imdb(folder, train, test, y_train, y_test):
    def ragged(seqs):
        out = np.empty(len(seqs), dtype=object)
        out[:] = [list(s) for s in seqs]
        return out

    np.savez(folder / "imdb.npz", x_train=ragged(train), y_train=np.array(y_train), x_test=ragged(test),
             y_test=np.array(y_test))


IMDB_TRAIN = [[1, 2, 3], [4, 5], [1, 1, 1, 1, 1, 9], [7]]
IMDB_TEST = [[2, 8], [3, 3, 3]]


def keras_order(n_train, n_test, seed=113):
    rng = np.random.RandomState(seed)
    a = np.arange(n_train)
    rng.shuffle(a)
    b = np.arange(n_test)
    rng.shuffle(b)
    return a, b


def test_imdb_index_shift_start_and_order(data_home):
    write_imdb(data_home, IMDB_TRAIN, IMDB_TEST, [0, 1, 0, 1], [1, 0])
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    assert x_train.dtype == object and x_train.shape == (4,) and x_test.shape == (2,)
    order_train, order_test = keras_order(4, 2)
    # every word moves up by index_from=3 and each review starts with start_char=1; the largest
    # index (9 + 3 = 12) becomes oov_char=2 because Keras keeps w < num_words = max index
    shift = lambda s: [1] + [w + 3 if w + 3 < 12 else 2 for w in s]  # noqa: E731
    assert list(x_train) == [shift(IMDB_TRAIN[i]) for i in order_train]
    assert list(x_test) == [shift(IMDB_TEST[i]) for i in order_test]
    np.testing.assert_array_equal(y_train, np.array([0, 1, 0, 1])[order_train])
    np.testing.assert_array_equal(y_test, np.array([1, 0])[order_test])


def test_imdb_num_words_skip_top_oov_and_maxlen(data_home):
    write_imdb(data_home, IMDB_TRAIN, IMDB_TEST, [0, 1, 0, 1], [1, 0])
    (x_train, _), (x_test, _) = imdb.load_data(num_words=7, skip_top=5, seed=0)
    for seq in list(x_train) + list(x_test):
        assert seq[0] == 2 or seq[0] == 1  # start_char 1 is below skip_top, so it becomes oov too
        assert all(w == 2 or 5 <= w < 7 for w in seq)
    (x_train, _), _ = imdb.load_data(num_words=7, oov_char=None, start_char=None, index_from=0, seed=0)
    assert sorted(map(list, x_train)) == sorted([[1, 2, 3], [4, 5], [1, 1, 1, 1, 1], []])
    (x_train, y_train), (x_test, y_test) = imdb.load_data(maxlen=4)
    # with start_char a review of k words has length k + 1; only lengths < maxlen stay
    assert sorted(len(s) for s in x_train) == [2, 3] and sorted(len(s) for s in x_test) == [3]
    assert len(y_train) == 2 and len(y_test) == 1
    with pytest.raises(ValueError, match="maxlen=2, no sequence was kept"):
        imdb.load_data(maxlen=2)
    with pytest.raises(ValueError, match="num_words must be None or an integer >= 0. Received: num_words=-1"):
        imdb.load_data(num_words=-1)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments: \\['nb_words'\\]"):
        imdb.load_data(nb_words=10)


def test_imdb_equal_length_reviews_stay_lists(data_home):
    write_imdb(data_home, [[1, 2], [3, 4]], [[5, 6]], [0, 1], [1])
    (x_train, _), (x_test, _) = imdb.load_data()
    assert x_train.shape == (2,) and isinstance(x_train[0], list) and x_test.shape == (1,)


def test_imdb_word_index_and_keras_namespace(data_home):
    (data_home / "imdb_word_index.json").write_text(json.dumps({"the": 1, "and": 2}))
    assert imdb.get_word_index() == {"the": 1, "and": 2}
    import ferronet.keras

    assert ferronet.keras.datasets.imdb.get_word_index is imdb.get_word_index
    from ferronet.keras.datasets import cifar10 as k_cifar10

    assert k_cifar10.load_data is cifar10.load_data


def test_offline_errors_name_the_file_and_folder(data_home):
    for loader, names in (
        (cifar10.load_data, ["the folder cifar-10-batches-py/", "cifar-10-python.tar.gz"]),
        (cifar100.load_data, ["the folder cifar-100-python/", "cifar-100-python.tar.gz"]),
        (boston_housing.load_data, ["the file boston_housing.npz"]),
        (imdb.load_data, ["the file imdb.npz"]),
        (imdb.get_word_index, ["the file imdb_word_index.json"]),
    ):
        with pytest.raises(DatasetNotFoundError) as err:
            loader()
        msg = str(err.value)
        assert all(n in msg for n in names), msg
        assert f"in {data_home}/ (FERRONET_DATA" in msg and "FERRONET_OFFLINE" in msg and "Received: nothing in" in msg
        assert isinstance(err.value, FileNotFoundError)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_downloads_are_checked_and_nothing_is_left_behind(data_home, monkeypatch):
    monkeypatch.delenv("FERRONET_OFFLINE")
    urls = []

    def fake_urlopen(url, timeout=None):
        urls.append(url)
        return FakeResponse(b"not the real file")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch .*imdb.npz; expected sha256 69664113"):
        imdb.load_data()
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch .*expected md5 bfafd718b763782e994055a2d397834f"):
        imdb.get_word_index()
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch .*cifar-10-python.tar.gz"):
        cifar10.load_data()
    assert urls[-1] == cifar10.URL and urls[0] == imdb.URL
    assert list(data_home.iterdir()) == []

    payload = json.dumps({"film": 1}).encode()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    import hashlib

    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(payload).hexdigest())
    assert imdb.get_word_index() == {"film": 1}
    assert (data_home / "imdb_word_index.json").read_bytes() == payload

    def unreachable(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DatasetNotFoundError, match="download failed: .*name resolution.*Put the file boston_housing.npz"):
        boston_housing.load_data()


def test_an_explicit_path_is_used_as_given(data_home, tmp_path):
    np.savez(tmp_path / "elsewhere.npz", x=np.ones((10, 13)), y=np.arange(10.0))
    (x_train, _), (x_test, _) = boston_housing.load_data(path=str(tmp_path / "elsewhere.npz"))
    assert len(x_train) == 8 and len(x_test) == 2
    with pytest.raises(DatasetNotFoundError, match=f"Put the file missing.npz .* in {tmp_path}/ .*Received: nothing "
                                                    f"in {tmp_path}/missing.npz"):
        boston_housing.load_data(path=str(tmp_path / "missing.npz"))


def test_a_path_in_the_current_folder_is_used_as_given(data_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez("houses.npz", x=np.ones((10, 13)), y=np.arange(10.0))
    (x_train, _), _ = boston_housing.load_data(path="./houses.npz")  # not looked for in the data folders
    assert len(x_train) == 8
    with pytest.raises(DatasetNotFoundError, match="Put the file houses.npz .*Received: nothing in .*data, "):
        boston_housing.load_data(path="houses.npz")  # a bare name is: not found there
    images = np.zeros((2, 28, 28), np.uint8)
    np.savez("digits.npz", x_train=images, y_train=np.array([1, 2], np.uint8), x_test=images,
             y_test=np.array([3, 4], np.uint8))
    (_, y_train), _ = mnist.load_data(path="./digits.npz")
    assert y_train.tolist() == [1, 2]
