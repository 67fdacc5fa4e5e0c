"""A run's model for answering: onnxruntime by default, Keras for checking.

Every run carries `model.onnx` beside `model.keras`: written at the end of training, or on first use
for older runs, and kept only once it predicts like the Keras model (the same class for every checked
image, probabilities within `TOLERANCE`). `model.onnx.json` records that check and the digest of the
Keras file it was made from, so a retrained or replaced `model.keras` is never answered by a stale copy.

Reading with the ONNX model needs only numpy and onnxruntime: no TensorFlow is imported, so a
`mnistlab read` starts in a fraction of a second.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from . import atomic
from .errors import MnistlabError
from .extras import require
from .runs import RunDir

ENGINES = ("onnx", "keras")
LINE_TOLERANCE = 1e-3  # logits of a line model (not probabilities)
TOLERANCE = 1e-4  # the same bound `export` holds an exported model to (export.TOLERANCE)
PARITY_IMAGES = 1000
BATCH = 1024  # images per onnxruntime call on the batch path (bounded memory, full cores)

# Threads each onnxruntime session of this process may use: None is onnxruntime's own choice (every
# core, best for one picture); a reading worker sets 1, as its siblings use the other cores.
_session_threads: int | None = None


def set_session_threads(threads: int | None) -> None:
    """How many threads the sessions this process opens from now on may use (None: every core)."""
    global _session_threads
    _session_threads = threads


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise MnistlabError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def onnx_path(run: RunDir) -> Path:
    return run.path / "model.onnx"


def record_path(run: RunDir) -> Path:
    return run.path / "model.onnx.json"


def open_session(path: Path, model: bytes | None = None):
    """An onnxruntime session on the CPU for `path` (or for `model`, its bytes already read and
    checked), quiet, or one clear error for a damaged file."""
    ort = require("onnxruntime", "core")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # warnings about unused initialisers say nothing to a user
    if _session_threads:
        opts.intra_op_num_threads = _session_threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path) if model is None else model, sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a damaged file
        raise MnistlabError(f"{path} is not an ONNX model mnistlab can load: {exc}") from None


class OnnxModel:
    """Class probabilities from an ONNX model of the run: (N, 28, 28) pixels 0..255 -> (N, C)."""

    def __init__(self, path: Path):
        self.session = open_session(path)
        self.input = self.session.get_inputs()[0].name
        self.path = path
        width = self.session.get_outputs()[0].shape[-1]
        self.classes = width if isinstance(width, int) else None  # how many classes it answers

    def predict_proba(self, x: np.ndarray, tta: int = 1) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if tta != 1:
            from . import tta as tta_mod

            return tta_mod.average_views(self.predict_proba(tta_mod.stack_views(x, tta)), tta)
        out = [self.session.run(None, {self.input: x[i:i + BATCH]})[0] for i in range(0, len(x), BATCH)]
        return np.concatenate(out) if out else np.zeros((0, self.session.get_outputs()[0].shape[-1]), np.float32)


class KerasModel:
    """The same interface over the Keras model itself (needs the `train` extra)."""

    def __init__(self, run: RunDir):
        require("keras", "train")
        self.keras = run.load_model()
        width = self.keras.output_shape[-1] if hasattr(self.keras, "output_shape") else None
        self.classes = width if isinstance(width, int) else None

    def predict_proba(self, x: np.ndarray, tta: int = 1) -> np.ndarray:
        from .evaluate import predict_proba

        return predict_proba(self.keras, x, tta=tta)


def load(run: RunDir, engine: str = "onnx"):
    """The run's model for `engine`: OnnxModel (made and verified on first use) or KerasModel."""
    if check_engine(engine) == "keras":
        return KerasModel(run)
    path = onnx_path(run)
    if not _is_current(run):
        ensure_onnx(run)
    return OnnxModel(path)


def _keras_digest(run: RunDir) -> str:
    if not run.model_path.is_file():
        raise MnistlabError(f"{run.model_path} does not exist; is the run finished? (see `mnistlab runs`)")
    return hashlib.sha256(run.model_path.read_bytes()).hexdigest()


def _is_current(run: RunDir) -> bool:
    path, rec = onnx_path(run), record_path(run)
    if not (path.is_file() and rec.is_file()):
        return False
    try:
        record = json.loads(rec.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("keras_sha256") == _keras_digest(run) and \
        record.get("onnx_sha256") == hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_onnx(run: RunDir, keras_model=None, check_images: np.ndarray | None = None) -> dict:
    """Write the run's `model.onnx` from its Keras model, verified; returns the parity record.

    Refuses (and writes nothing) unless every checked image gets the same class from both and no
    probability differs by more than TOLERANCE.
    """
    digest = _keras_digest(run)
    try:
        require("tf2onnx", "train")
    except MnistlabError:
        raise MnistlabError(f"{run.path} has no verified model.onnx, and making one needs TensorFlow: "
                            "pip install 'mnistlab[train]' (or use a run trained with mnistlab 0.3+)") from None
    from .evaluate import predict_proba
    from .export import _write_onnx, parity

    model = keras_model if keras_model is not None else run.load_model()
    x = _parity_images(run) if check_images is None else np.asarray(check_images, np.float32)
    with atomic.atomic_path(onnx_path(run), suffix=".onnx") as tmp:
        _write_onnx(model, Path(tmp))
        got = OnnxModel(Path(tmp)).predict_proba(x)
        want = predict_proba(model, x)
        record = {"keras_sha256": digest, "onnx_sha256": hashlib.sha256(Path(tmp).read_bytes()).hexdigest(),
                  **parity(want, got)}
        if record["argmax_agreement"] < 1.0 or record["max_abs_diff"] > TOLERANCE:
            raise MnistlabError(f"the ONNX copy of {run.model_path} does not predict like it "
                                f"(agreement {record['argmax_agreement']:.4f}, max difference "
                                f"{record['max_abs_diff']:.2e}); use --engine keras")
    atomic.write_text(record_path(run), json.dumps(record, indent=2) + "\n")
    return record


def _parity_images(run: RunDir) -> np.ndarray:
    """The first test images of the run's dataset, plus blank, full and noise images."""
    from .data import load_dataset

    ds = load_dataset(run.config["dataset"]["spec"])
    rng = np.random.default_rng(0)
    odd = np.stack([np.zeros((28, 28)), np.full((28, 28), 255.0), rng.uniform(0, 255, (28, 28))])
    return np.concatenate([ds.x_test[:PARITY_IMAGES].astype(np.float32), odd.astype(np.float32)])


def line_onnx_path(run: RunDir) -> Path:
    return run.path / "model.onnx"


def ensure_line_onnx(run: RunDir, keras_model, strips: list[np.ndarray]) -> dict:
    """A line run's `model.onnx` (input (N, 32, W) strips), kept only if it reads the check strips
    exactly as Keras does: the same best class at every step, logits within LINE_TOLERANCE."""
    require("tf2onnx", "train")
    import tensorflow as tf
    import tf2onnx

    from .reading.strip import HEIGHT

    digest = _keras_digest(run)
    spec = [tf.TensorSpec([None, HEIGHT, None], tf.float32, name="strip")]
    fn = tf.function(lambda strip: keras_model(strip, training=False))
    worst, agree, steps = 0.0, 0, 0
    with atomic.atomic_path(onnx_path(run), suffix=".onnx") as tmp:
        from .export import quiet_native_stderr

        with quiet_native_stderr():
            tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, output_path=str(tmp))
        sess = OnnxModel(Path(tmp)).session
        for s in strips:
            x = s[None].astype(np.float32)
            got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            want = np.asarray(keras_model(x, training=False))
            worst = max(worst, float(np.abs(got - want).max()))
            agree += int((got.argmax(-1) == want.argmax(-1)).sum())
            steps += got.shape[1]
        record = {"keras_sha256": digest, "onnx_sha256": hashlib.sha256(Path(tmp).read_bytes()).hexdigest(),
                  "checked": len(strips), "argmax_agreement": agree / max(1, steps), "max_abs_diff": worst}
        if agree != steps or worst > LINE_TOLERANCE:
            raise MnistlabError(f"the ONNX copy of {run.model_path} does not read like it (step agreement "
                                f"{agree}/{steps}, max logit difference {worst:.2e})")
    atomic.write_text(record_path(run), json.dumps(record, indent=2) + "\n")
    return record
