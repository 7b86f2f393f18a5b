"""Dataset loaders on the real shared files and on generated fixtures; corrupted files;
downloads against a local HTTP server; generators and preprocessing."""

import gzip
import hashlib
import http.server
import pickle
import threading

import numpy as np
import pytest

import neuralab.datasets as D
from neuralab.datasets import download
from neuralab.datasets.cifar import write_batch
from neuralab.datasets.idx import write_idx

from .conftest import shared_data


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- real files from ../shared/data (checks from MANIFEST.md) -------------------------------------
MNIST_SHA = {
    "train-images-idx3-ubyte.gz": "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
FASHION_SHA = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}


def test_mnist_real_files():
    folder = shared_data("mnist")
    for name, digest in MNIST_SHA.items():
        assert sha256(folder / name) == digest
    (x_train, y_train), (x_test, y_test) = D.load_mnist(folder)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:20].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9]
    assert y_test[:20].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4]
    pixels = x_train.astype(np.float64) / 255
    assert round(pixels.mean(), 4) == 0.1307 and round(pixels.std(), 4) == 0.3081
    # the decompressed payload is the authentic one (manifest: uncompressed sha256)
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
        assert hashlib.sha256(f.read()).hexdigest() == download.REGISTRY["mnist"].files[0].payload_sha256


def test_fashion_mnist_real_files():
    folder = shared_data("fashion_mnist")
    for name, digest in FASHION_SHA.items():
        assert sha256(folder / name) == digest
    (x_train, y_train), (x_test, y_test) = D.load_fashion_mnist(folder)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:20].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]
    assert D.FASHION_CLASSES[9] == "Ankle boot"


def test_cat_vs_car_real_file_comes_out_upright():
    h5py = pytest.importorskip("h5py")
    path = shared_data("eee443_assign2", "assign2_data1.h5")
    assert sha256(path) == "355b1fd01cf0500a67b73376f60139c503fc7c20ccc89336abac9227d209c520"
    (x_train, y_train), (x_test, y_test) = D.load_cat_vs_car(path)
    assert x_train.shape == (1900, 32, 32) and x_test.shape == (1000, 32, 32)
    assert np.bincount(y_train).tolist() == [950, 950] and np.bincount(y_test).tolist() == [500, 500]
    assert y_train[:950].max() == 0 and y_train[950:].min() == 1  # class-sorted, as documented
    with h5py.File(path) as f:
        raw = np.asarray(f["trainims"][0])
    np.testing.assert_array_equal(x_train[0], raw.T)  # MATLAB column-major -> upright
    assert round(float(x_train.mean()), 1) == 117.6


def test_letters_real_files():
    folder = shared_data("eee443_assign1_letters")
    assert sha256(folder / "train_images.npy") == \
        "1861b5118dc85decf8221aaa15d06df28f1e3f29a6c933ed3d49cffcb7e54ce8"
    (x_train, y_train), (x_test, y_test) = D.load_letters(folder)
    assert x_train.shape == (5200, 28, 28) and x_test.shape == (1300, 28, 28)
    assert np.bincount(y_train).tolist() == [200] * 26
    assert np.bincount(y_test).tolist() == [50] * 26
    raw = np.load(folder / "train_images.npy")
    np.testing.assert_array_equal(x_train[7], raw[:, :, 7])  # image i is X[:, :, i]
    assert abs(x_train.mean() - 43.9) < 0.1


# --- IDX: fixtures and damage -----------------------------------------------------------------------
def write_mnist_fixture(folder, n_train=20, n_test=10, compress=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    parts = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
             "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    for name, array in parts.items():
        write_idx(folder / (name + suffix), array)
    return parts


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip_gz_and_raw(tmp_path, compress):
    parts = write_mnist_fixture(tmp_path, compress=compress)
    (x_train, y_train), (x_test, y_test) = D.load_mnist(tmp_path)
    np.testing.assert_array_equal(x_train, parts["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, parts["t10k-labels-idx1-ubyte"])


def test_truncated_idx_is_refused(tmp_path):
    write_mnist_fixture(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(D.DatasetFileError, match="truncated"):
        D.load_mnist(tmp_path)


def test_truncated_gzip_is_refused(tmp_path):
    write_mnist_fixture(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(D.DatasetFileError, match="damaged or truncated"):
        D.load_mnist(tmp_path)


def test_wrong_magic_number_is_refused(tmp_path):
    write_mnist_fixture(tmp_path, compress=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[:4] = b"\x12\x34\x56\x78"
    path.write_bytes(bytes(data))
    with pytest.raises(D.DatasetFileError, match="wrong magic number"):
        D.load_mnist(tmp_path)


def test_images_where_labels_belong_are_refused(tmp_path):
    write_mnist_fixture(tmp_path, compress=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(
        (tmp_path / "train-images-idx3-ubyte").read_bytes())
    with pytest.raises(D.DatasetFileError, match="expected labels"):
        D.load_mnist(tmp_path)


def test_label_count_must_match_image_count(tmp_path):
    write_mnist_fixture(tmp_path, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(19, dtype=np.uint8))
    with pytest.raises(D.DatasetFileError, match="20 images but .* 19 labels"):
        D.load_mnist(tmp_path)


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="neuralab data get mnist"):
        D.load_mnist()


# --- CIFAR-10: format-faithful fixtures and a crafted pickle ----------------------------------------
def write_cifar_fixture(folder, per_batch=6):
    rng = np.random.default_rng(1)
    images, labels = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images[name] = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, per_batch)
        write_batch(folder / name, images[name], labels[name])
    return images, labels


def test_cifar10_fixture_loads_channels_last(tmp_path):
    images, labels = write_cifar_fixture(tmp_path)
    (x_train, y_train), (x_test, y_test) = D.load_cifar10(tmp_path)
    assert x_train.shape == (30, 32, 32, 3) and x_test.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(x_train[6:12], images["data_batch_2"])
    np.testing.assert_array_equal(y_test, labels["test_batch"])
    # the stored row is the R plane, then G, then B: pixel (0, 1) green is element 1024 + 1
    raw = pickle.loads((tmp_path / "test_batch").read_bytes(), encoding="bytes")[b"data"]
    assert x_test[0, 0, 1, 1] == raw[0, 1024 + 1]


def test_cifar10_batches_written_by_python2_era_numpy_load(tmp_path):
    """Real batches name numpy.core.multiarray (NumPy 1); the loader maps it without warnings."""
    write_cifar_fixture(tmp_path)
    for path in tmp_path.iterdir():
        path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray",
                                                   b"numpy.core.multiarray"))
    with warnings_as_errors():
        (x_train, _), _ = D.load_cifar10(tmp_path)
    assert x_train.shape == (30, 32, 32, 3)


class warnings_as_errors:
    def __enter__(self):
        import warnings
        self.ctx = warnings.catch_warnings()
        self.ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        self.ctx.__exit__(*exc)


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_without_running_code(tmp_path):
    write_cifar_fixture(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(
        {b"data": np.zeros((1, 3072), np.uint8), b"labels": [Exploit(marker)]}, protocol=2))
    with pytest.raises(D.UnsafePickleError, match="data_batch_3.*refusing to load .*system"):
        D.load_cifar10(tmp_path)
    assert not marker.exists()


def test_truncated_cifar_batch_is_refused(tmp_path):
    write_cifar_fixture(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(D.DatasetFileError, match="test_batch.*damaged or truncated"):
        D.load_cifar10(tmp_path)


def test_cifar_batch_with_mismatched_labels_is_refused(tmp_path):
    write_cifar_fixture(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(
        {b"data": np.zeros((4, 3072), np.uint8), b"labels": [1, 2, 3]}, protocol=2))
    with pytest.raises(D.DatasetFileError, match="4 images but 3 labels"):
        D.load_cifar10(tmp_path)


# --- UIowa features ---------------------------------------------------------------------------------------
def write_uiowa_fixture(folder, n_train=40, n_test=12):
    rng = np.random.default_rng(2)
    arrays = {"uiowa_train_data.npy": rng.random((n_train, 120)),
              "uiowa_train_labels.npy": rng.integers(0, 10, n_train),
              "uiowa_test_data.npy": rng.random((n_test, 120)),
              "uiowa_test_labels.npy": rng.integers(0, 10, n_test)}
    for name, array in arrays.items():
        np.save(folder / name, array)
    return arrays


def test_uiowa_fixture(tmp_path):
    arrays = write_uiowa_fixture(tmp_path)
    (x_train, y_train), (x_test, y_test) = D.load_uiowa(tmp_path)
    assert x_train.shape == (40, 120) and x_train.dtype == np.float32
    np.testing.assert_array_equal(y_test, arrays["uiowa_test_labels.npy"])


@pytest.mark.parametrize("name, array, message", [
    ("uiowa_train_data.npy", np.zeros((40, 119)), r"features of shape \(N, 120\)"),
    ("uiowa_test_labels.npy", np.zeros(11, dtype=int), "11 labels for 12 samples"),
    ("uiowa_train_data.npy", np.array([{"evil": 1}] * 40, dtype=object), "not a readable .npy"),
    ("uiowa_train_labels.npy", np.full(40, 0.5), "integers"),
])
def test_damaged_uiowa_files_are_refused(tmp_path, name, array, message):
    write_uiowa_fixture(tmp_path)
    np.save(tmp_path / name, array, allow_pickle=True)
    with pytest.raises(D.DatasetFileError, match=message):
        D.load_uiowa(tmp_path)


# --- next-word data -----------------------------------------------------------------------------------------
TEXT = ("I do not think that it is. It's late, isn't it? " * 30 +
        "Could you not come? I do not know who these people are. " * 30)


def test_build_nextword_from_text_and_round_trip_in_eee443_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    assert D.tokenize("It's late, isn't it?") == ["it", "'s", "late", ",", "is", "n't", "it", "?"]
    data = D.build_nextword(TEXT, vocab_size=12, seed=0)
    # 'it' and 'not' both occur 90 times: ties go alphabetically
    assert data.vocab_size == 12 and data.words[:2] == ["it", "not"]
    n = len(data.x_train) + len(data.x_val) + len(data.x_test)
    assert data.x_train.shape[1] == 3 and abs(len(data.x_train) / n - 0.8) < 0.01
    assert data.x_train.max() < 12 and data.y_test.min() >= 0
    # every sample is four consecutive in-vocabulary tokens of the text
    tokens = D.tokenize(TEXT)
    sample = data.decode(data.x_train[0]) + data.decode(data.y_train[:1])
    assert any(tokens[i:i + 4] == sample for i in range(len(tokens) - 3))
    path = tmp_path / "trigrams.h5"
    D.save_nextword(path, data)
    with h5py.File(path) as f:
        assert f["trainx"][:].min() == 1  # the file is 1-based, as EEE443's
        assert f["words"][0] == data.words[0].encode()
    loaded = D.load_nextword(path)
    np.testing.assert_array_equal(loaded.x_train, data.x_train)
    np.testing.assert_array_equal(loaded.y_val, data.y_val)
    assert loaded.words == data.words
    assert D.build_nextword(TEXT, vocab_size=12, seed=0).x_train.tolist() == data.x_train.tolist()


def test_nextword_file_with_missing_key_or_bad_ids_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["trainx"] = np.ones((5, 3), int)
        f["traind"] = np.ones(5, int)
    with pytest.raises(D.DatasetFileError, match=r"missing key\(s\) \['valx'"):
        D.load_nextword(path)
    data = D.build_nextword(TEXT, vocab_size=12)
    D.save_nextword(path, data)
    with h5py.File(path, "a") as f:
        f["traind"][0] = 13  # beyond the 12 words
    with pytest.raises(D.DatasetFileError, match="traind labels must be integers in 1..12"):
        D.load_nextword(path)


def test_h5_that_is_not_hdf5_is_refused(tmp_path):
    pytest.importorskip("h5py")
    path = tmp_path / "assign2_data1.h5"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(D.DatasetFileError, match="not a readable HDF5 file"):
        D.load_cat_vs_car(path)


def test_cat_vs_car_with_wrong_label_count_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as f:
        f["trainims"] = np.zeros((4, 32, 32), np.uint8)
        f["trainlbls"] = np.zeros(3)
        f["testims"] = np.zeros((2, 32, 32), np.uint8)
        f["testlbls"] = np.zeros(2)
    with pytest.raises(D.DatasetFileError, match="4 images but 3 trainlbls labels"):
        D.load_cat_vs_car(path)


def test_sklearn_digits():
    pytest.importorskip("sklearn")
    (x_train, y_train), (x_test, y_test) = D.load_digits(test_size=0.25, seed=0)
    assert x_train.shape[1:] == (8, 8) and len(x_train) + len(x_test) == 1797
    assert abs(len(x_test) / 1797 - 0.25) < 0.01
    assert set(np.unique(y_test)) == set(range(10))


# --- downloads against a local server -----------------------------------------------------------------------
PAYLOAD = np.random.default_rng(3).integers(0, 256, 200_000, dtype=np.uint8).tobytes()


class Handler(http.server.BaseHTTPRequestHandler):
    mode = {"drops": 0}

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = PAYLOAD if self.path != "/corrupt.bin" else PAYLOAD[:-1] + b"\0"
        start = 0
        if self.headers.get("Range") and self.path != "/norange.bin":
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
        if self.path == "/drop.bin" and self.mode["drops"] == 0:
            self.mode["drops"] += 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection dies midway
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    Handler.mode["drops"] = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def remote(url, name="file.bin"):
    return download.RemoteFile(name, (url,), sha256=hashlib.sha256(PAYLOAD).hexdigest())


def test_download_verifies_and_renames(server, tmp_path):
    path = download.download_file(remote(f"{server}/good.bin"), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no .part left behind


def test_checksum_mismatch_deletes_the_download_and_names_the_hashes(server, tmp_path):
    expected = hashlib.sha256(PAYLOAD).hexdigest()
    actual = hashlib.sha256(PAYLOAD[:-1] + b"\0").hexdigest()
    with pytest.raises(download.ChecksumError) as info:
        download.download_file(remote(f"{server}/corrupt.bin"), tmp_path, progress=False)
    message = str(info.value)
    assert "file.bin" in message and expected in message and actual in message
    assert list(tmp_path.iterdir()) == []


def test_dropped_connection_keeps_the_part_file_and_resumes(server, tmp_path):
    with pytest.raises(download.DownloadError, match="connection dropped.*to resume"):
        download.download_file(remote(f"{server}/drop.bin"), tmp_path, progress=False)
    part = tmp_path / "file.bin.part"
    assert part.exists() and 0 < part.stat().st_size < len(PAYLOAD)
    assert not (tmp_path / "file.bin").exists()  # never looks finished
    path = download.download_file(remote(f"{server}/drop.bin"), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and not part.exists()


def test_server_without_ranges_restarts_the_download(server, tmp_path):
    (tmp_path / "file.bin.part").write_bytes(b"stale bytes")
    path = download.download_file(remote(f"{server}/norange.bin"), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_gzip_payload_hash_is_checked_after_decompression(server, tmp_path, monkeypatch):
    """A mirror may recompress a .gz: the hash of the decompressed bytes is what counts."""
    original = PAYLOAD
    monkeypatch.setitem(globals(), "PAYLOAD", gzip.compress(original, mtime=0))  # served bytes
    spec = download.RemoteFile("f.gz", (f"{server}/good.bin",),
                               payload_sha256=hashlib.sha256(original).hexdigest())
    path = download.download_file(spec, tmp_path, progress=False)
    assert gzip.decompress(path.read_bytes()) == original


def test_fetch_uses_the_cache_folder(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path))
    parts = {}
    write_mnist_fixture(tmp_path / "src")
    for p in (tmp_path / "src").iterdir():
        parts[p.name] = p.read_bytes()
    files = tuple(download.RemoteFile(name, (f"{server}/good.bin",)) for name in parts)
    monkeypatch.setitem(download.REGISTRY, "mnist",
                        download.DatasetInfo("mnist", "fixture", files))
    served = iter(parts.values())
    monkeypatch.setattr(Handler, "do_GET", lambda self: _serve(self, next(served)))
    folder = download.fetch("mnist", progress=False)
    assert folder == tmp_path / "mnist" and download.is_present("mnist")
    (x_train, _), _ = D.load_mnist()
    assert x_train.shape == (20, 28, 28)


def _serve(handler, body):
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


# --- generators, preprocessing, batching --------------------------------------------------------------------
@pytest.mark.parametrize("make", [D.make_lecture_synthetic, D.make_xor, D.make_moons,
                                  D.make_circles, D.make_spirals])
def test_generators_are_seeded_and_shaped(make):
    x1, y1 = make(300, seed=5)
    x2, y2 = make(300, seed=5)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (300, 2) and y1.shape == (300,)
    assert len(np.unique(y1)) >= 2
    assert not np.array_equal(make(300, seed=6)[0], x1)


def test_lecture_data_is_a_noisy_disc():
    x, y = D.make_lecture_synthetic(4000, seed=0)
    r = np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5)
    assert y[r < 0.15].mean() > 0.9 and y[r > 0.45].mean() < 0.1
    assert 0.2 < y.mean() < 0.4


def test_sine_regression_data():
    x, y = D.make_sine(2000, noise=0.1, seed=1)
    assert x.shape == (2000, 1) and y.shape == (2000, 1)
    residual = y[:, 0] - np.sin(2 * np.pi * x[:, 0])
    assert abs(residual.std() - 0.1) < 0.01


def test_standardize_uses_training_statistics_only():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(4)
    x_train = rng.normal(5, 2, (500, 3))
    x_test = rng.normal(-3, 7, (100, 3))
    a, b, scaler = D.standardize(x_train, x_test)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(b, (x_test - x_train.mean(0)) / x_train.std(0), rtol=1e-5)
    images = rng.random((10, 4, 4))
    c, _ = D.standardize(images)
    assert c.shape == (10, 4, 4)


def test_minmax_scale_to_minus_one_one():
    x = np.array([[0, 127.5, 255]])
    scaled, data_range = D.minmax_scale(x)
    np.testing.assert_allclose(scaled, [[-1, 0, 1]])
    other, _ = D.minmax_scale(np.array([51.0]), data_range=data_range)
    np.testing.assert_allclose(other, [-0.6], rtol=1e-6)
    with pytest.raises(ValueError, match="constant"):
        D.minmax_scale(np.ones(3))


def test_stratified_split_keeps_class_proportions():
    pytest.importorskip("sklearn")
    y = np.array([0] * 90 + [1] * 10)
    x = np.arange(100)
    x_train, x_val, y_train, y_val = D.train_val_split(x, y, 0.2, stratify=True, seed=0)
    assert y_val.sum() == 2 and len(y_val) == 20
    assert sorted(np.concatenate([x_train, x_val]).tolist()) == list(range(100))


def test_minibatches_cover_each_sample_once_per_epoch():
    x = np.arange(10)[:, None]
    y = np.arange(10)
    rng = np.random.default_rng(0)
    batches = list(D.iterate_minibatches(x, y, batch_size=4, rng=rng))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert len(list(D.iterate_minibatches(x, y, 4, drop_last=True))) == 2


# --- the command line ---------------------------------------------------------------------------------------
def test_data_commands(tmp_path, monkeypatch, capsys):
    from neuralab.cli import main
    monkeypatch.setenv("NEURALAB_DATA", str(tmp_path / "cache"))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "cifar10" in out and str(tmp_path / "cache") in out
    write_cifar_fixture(tmp_path)
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "CIFAR-10" in out and "train: x (30, 32, 32, 3) uint8" in out
    assert main(["data", "info", str(tmp_path / "nothing")]) == 2
    assert main(["data", "get", "nosuch"]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err
