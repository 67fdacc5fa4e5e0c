"""Hostile and broken input: random bytes and headers at every decoder, models that carry code."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mnistlab.data import datasets as data
from mnistlab.errors import MnistlabError
from mnistlab.images import ImageError, image_bytes_to_array

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=2048))
def test_idx_decoder_random_bytes(blob):
    try:
        arr = data.parse_idx(blob, "fuzz")
        assert arr.dtype == np.uint8
    except MnistlabError:
        pass


@FAST
@given(
    st.integers(0, 4),
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=4),
    st.binary(max_size=512),
    st.booleans(),
)
# An empty dimension beside huge ones: zero bytes of data, but a shape numpy cannot lay out.
@example(ndim=4, dims=[0, 6821, 281163653], body=b"\x00Ib[", gz=False)
def test_idx_decoder_random_headers(ndim, dims, body, gz):
    blob = bytes([0, 0, 8, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + body
    if gz:
        blob = gzip.compress(blob)
    raw = bytes([0, 0, 8, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + body
    try:
        arr = data.parse_idx(blob, "fuzz")
    except MnistlabError:
        return
    # The header is 4 + 4*ndim bytes whatever `dims` held: missing dims are read from the body, and
    # extra ones are data. Whatever was decoded is exactly the bytes after the header.
    assert arr.ndim == ndim
    assert arr.size == len(raw) - (4 + 4 * ndim)
    assert arr.tobytes() == raw[4 + 4 * ndim :]


@FAST
@given(st.binary(max_size=2048))
def test_pickle_decoder_random_bytes(blob):
    try:
        data.safe_unpickle(blob)
    except MnistlabError:
        pass


@FAST
@given(st.binary(max_size=2048))
def test_mnist_archive_decoder_random_bytes(blob):
    with pytest.raises(MnistlabError):
        data.decode_mnist_pickle(blob)
    with pytest.raises(MnistlabError):
        data.decode_mnist_pickle(gzip.compress(blob))


@FAST
@given(st.binary(max_size=4096))
def test_image_decoder_random_bytes(blob):
    try:
        arr = image_bytes_to_array(blob)
        assert arr.shape == (28, 28)
    except ImageError:
        pass


@FAST
@given(st.sampled_from(["PNG", "GIF", "BMP", "JPEG"]), st.integers(0, 400), st.integers(0, 255))
def test_image_decoder_bit_flipped_files(fmt, position, value):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (40, 40), 255).save(buf, fmt)
    blob = bytearray(buf.getvalue())
    blob[position % len(blob)] = value
    try:
        image_bytes_to_array(bytes(blob))
    except ImageError:
        pass


@FAST
@given(st.binary(max_size=1024))
def test_npz_loader_random_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("npz") / "f.npz"
    path.write_bytes(blob)
    with pytest.raises(MnistlabError):
        data.load_npz(path)


def test_truncated_cache_is_reported(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("MNISTLAB_HOME", str(tmp_path))
    cache = data.mnist_cache_path()
    data.save_npz(cache, mnist)
    cache.write_bytes(cache.read_bytes()[:1_000_000])
    with pytest.raises(MnistlabError, match=str(cache)):
        data.load_mnist(fetch=False)


def test_model_with_lambda_layer_is_refused(tmp_path):
    import keras

    from mnistlab.runs import load_keras_model

    inputs = keras.Input((28, 28))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(MnistlabError, match="refused"):
        load_keras_model(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken zip", b"\x89HDF\r\n\x1a\n broken h5"])
def test_non_models_are_clear_errors(tmp_path, content):
    from mnistlab.runs import load_keras_model

    path = tmp_path / "m.keras"
    path.write_bytes(content)
    with pytest.raises(MnistlabError, match="not a Keras model"):
        load_keras_model(path)
