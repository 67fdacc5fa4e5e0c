"""Each run's `model.onnx`: written from its Keras model at the end of training (or on first use for
older runs) and kept only once it predicts like Keras: the same class for every checked image,
probabilities within `TOLERANCE` (a line model: the same character at every step, logits within
`LINE_TOLERANCE`). `model.onnx.json` records that check and the digest of the Keras file it was made
from, so a retrained or replaced `model.keras` is never answered by a stale copy.

Checking a copy needs only onnxruntime; making one needs TensorFlow and tf2onnx (the `[train]` extra).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mnistlab import atomic
from mnistlab.errors import MnistlabError
from mnistlab.extras import quiet_native_stderr, require
from mnistlab.models.predict import predict_proba
from mnistlab.runs import RunDir

TOLERANCE = 1e-4  # the same bound `export` holds an exported model to
LINE_TOLERANCE = 1e-3  # logits of a line model (not probabilities)
PARITY_IMAGES = 1000


def onnx_path(run: RunDir) -> Path:
    return run.path / "model.onnx"


def record_path(run: RunDir) -> Path:
    return run.path / "model.onnx.json"


def keras_digest(run: RunDir) -> str:
    if not run.model_path.is_file():
        raise MnistlabError(f"{run.model_path} does not exist; is the run finished? (see `mnistlab runs`)")
    return hashlib.sha256(run.model_path.read_bytes()).hexdigest()


def is_current(run: RunDir) -> bool:
    path, rec = onnx_path(run), record_path(run)
    if not (path.is_file() and rec.is_file()):
        return False
    try:
        record = json.loads(rec.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("keras_sha256") == keras_digest(run)
        and record.get("onnx_sha256") == hashlib.sha256(path.read_bytes()).hexdigest()
    )


def signature():
    import tensorflow as tf

    return [tf.TensorSpec([None, 28, 28], tf.float32, name="pixels")]


def write_onnx(model, dest: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda pixels: model(pixels, training=False))
    tf2onnx.convert.from_function(fn, input_signature=signature(), opset=17, output_path=str(dest))


def parity(reference: np.ndarray, exported: np.ndarray) -> dict:
    return {
        "checked": int(len(reference)),
        "argmax_agreement": float((reference.argmax(1) == exported.argmax(1)).mean()),
        "max_abs_diff": float(np.abs(reference - exported).max()),
    }


def _session(path: Path):
    ort = require("onnxruntime", "core")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _onnx_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    sess = _session(path)
    return sess.run(None, {sess.get_inputs()[0].name: np.asarray(x, np.float32)})[0]


def ensure_onnx(run: RunDir, keras_model=None, check_images: np.ndarray | None = None) -> dict:
    """Write the run's `model.onnx` from its Keras model, verified; returns the parity record.

    Refuses (and writes nothing) unless every checked image gets the same class from both and no
    probability differs by more than TOLERANCE.
    """
    digest = keras_digest(run)
    try:
        require("tf2onnx", "train")
    except MnistlabError:
        raise MnistlabError(
            f"{run.path} has no verified model.onnx, and making one needs TensorFlow: "
            "pip install 'mnistlab[train]' (or use a run trained with mnistlab 0.3+)"
        ) from None

    model = keras_model if keras_model is not None else run.load_model()
    x = _parity_images(run) if check_images is None else np.asarray(check_images, np.float32)
    with atomic.atomic_path(onnx_path(run), suffix=".onnx") as tmp:
        write_onnx(model, Path(tmp))
        got = _onnx_probabilities(Path(tmp), x)
        want = predict_proba(model, x)
        record = {
            "keras_sha256": digest,
            "onnx_sha256": hashlib.sha256(Path(tmp).read_bytes()).hexdigest(),
            **parity(want, got),
        }
        if record["argmax_agreement"] < 1.0 or record["max_abs_diff"] > TOLERANCE:
            raise MnistlabError(
                f"the ONNX copy of {run.model_path} does not predict like it "
                f"(agreement {record['argmax_agreement']:.4f}, max difference "
                f"{record['max_abs_diff']:.2e}); use --engine keras"
            )
    atomic.write_text(record_path(run), json.dumps(record, indent=2) + "\n")
    return record


def _parity_images(run: RunDir) -> np.ndarray:
    """The first test images of the run's dataset, plus blank, full and noise images."""
    from mnistlab.data.datasets import load_dataset

    ds = load_dataset(run.config["dataset"]["spec"])
    rng = np.random.default_rng(0)
    odd = np.stack([np.zeros((28, 28)), np.full((28, 28), 255.0), rng.uniform(0, 255, (28, 28))])
    return np.concatenate([ds.x_test[:PARITY_IMAGES].astype(np.float32), odd.astype(np.float32)])


def line_onnx_path(run: RunDir) -> Path:
    return run.path / "model.onnx"


def ensure_line_onnx(run: RunDir, keras_model, strips: list[np.ndarray]) -> dict:
    """A line run's `model.onnx` (input (N, 32, W) strips), kept only if it reads the check strips
    exactly as Keras does: the same best class at every step, logits within LINE_TOLERANCE."""
    import tensorflow as tf

    from mnistlab.data.strip import HEIGHT

    spec = [tf.TensorSpec([None, HEIGHT, None], tf.float32, name="strip")]
    checks = [s[None].astype(np.float32) for s in strips]
    return _ensure_map_onnx(run, keras_model, spec, checks, lambda out: out.argmax(-1), "read")


def ensure_detector_onnx(run: RunDir, keras_model, photos: np.ndarray) -> dict:
    """A detector run's `model.onnx` (input (N, H, W, 1) standardized photos), kept only if it maps
    the check photos as Keras does: the same side of 0 at every cell, logits within LINE_TOLERANCE."""
    import tensorflow as tf

    from mnistlab.data.pages import standardize

    spec = [tf.TensorSpec([None, None, None, 1], tf.float32, name="photo")]
    checks = [standardize(p)[None, :, :, None] for p in photos]
    return _ensure_map_onnx(run, keras_model, spec, checks, lambda out: out > 0, "map")


def _ensure_map_onnx(run: RunDir, keras_model, spec, checks: list[np.ndarray], decide, verb: str) -> dict:
    """`model.onnx` for a model whose output is a map (per step or per cell): written with tf2onnx and
    kept only if, on every check input, `decide` gives the same at every place and no output
    differs from Keras's by more than LINE_TOLERANCE."""
    require("tf2onnx", "train")
    import tensorflow as tf
    import tf2onnx

    digest = keras_digest(run)
    fn = tf.function(lambda x: keras_model(x, training=False))
    worst, agree, places = 0.0, 0, 0
    with atomic.atomic_path(onnx_path(run), suffix=".onnx") as tmp:
        with quiet_native_stderr():
            tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=str(tmp))
        sess = _session(Path(tmp))
        for x in checks:
            got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            want = np.asarray(keras_model(x, training=False))
            worst = max(worst, float(np.abs(got - want).max()))
            agree += int((decide(got) == decide(want)).sum())
            places += int(decide(got).size)
        record = {
            "keras_sha256": digest,
            "onnx_sha256": hashlib.sha256(Path(tmp).read_bytes()).hexdigest(),
            "checked": len(checks),
            "argmax_agreement": agree / max(1, places),
            "max_abs_diff": worst,
        }
        if agree != places or worst > LINE_TOLERANCE:
            raise MnistlabError(
                f"the ONNX copy of {run.model_path} does not {verb} like it (agreement "
                f"{agree}/{places}, max logit difference {worst:.2e})"
            )
    atomic.write_text(record_path(run), json.dumps(record, indent=2) + "\n")
    return record
