"""A run's model for answering: onnxruntime by default, Keras for checking.

Every run carries `model.onnx` beside `model.keras`, checked against it (`training/onnx.py`); a run
without a current one gets it on first use, where TensorFlow is installed.

Reading with the ONNX model needs only numpy and onnxruntime: no TensorFlow is imported, so a
`mnistlab read` starts in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.extras import require
from mnistlab.runs import RunDir

ENGINES = ("onnx", "keras")
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


def open_checked(folder: Path, info_name: str, what: str) -> tuple[dict, object]:
    """A model folder's description `info_name` (a JSON object) and a session of its `model.onnx`,
    which must match the digest its record (`model.onnx.json`) holds; one clear error otherwise."""
    import hashlib
    import json

    try:
        info = json.loads((folder / info_name).read_text())
        record = json.loads((folder / "model.onnx.json").read_text())
        onnx_bytes = (folder / "model.onnx").read_bytes()
    except (OSError, ValueError) as exc:
        raise MnistlabError(f"{folder} is not a {what} run mnistlab can use ({exc})") from None
    if not isinstance(info, dict):
        raise MnistlabError(f"{folder}/{info_name} does not describe a {what} model this mnistlab reads")
    if not isinstance(record, dict) or record.get("onnx_sha256") != hashlib.sha256(onnx_bytes).hexdigest():
        raise MnistlabError(f"{folder}/model.onnx does not match its record (model.onnx.json): damaged or replaced")
    return info, open_session(folder / "model.onnx", onnx_bytes)


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
        return ort.InferenceSession(
            str(path) if model is None else model, sess_options=opts, providers=["CPUExecutionProvider"]
        )
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
            from mnistlab.data import views as tta_mod

            return tta_mod.average_views(self.predict_proba(tta_mod.stack_views(x, tta)), tta)
        out = [self.session.run(None, {self.input: x[i : i + BATCH]})[0] for i in range(0, len(x), BATCH)]
        return np.concatenate(out) if out else np.zeros((0, self.session.get_outputs()[0].shape[-1]), np.float32)


class KerasModel:
    """The same interface over the Keras model itself (needs the `train` extra)."""

    def __init__(self, run: RunDir):
        require("keras", "train")
        self.keras = run.load_model()
        width = self.keras.output_shape[-1] if hasattr(self.keras, "output_shape") else None
        self.classes = width if isinstance(width, int) else None

    def predict_proba(self, x: np.ndarray, tta: int = 1) -> np.ndarray:
        from mnistlab.models.predict import predict_proba

        return predict_proba(self.keras, x, tta=tta)


def load(run: RunDir, engine: str = "onnx"):
    """The run's model for `engine`: OnnxModel (made and verified on first use) or KerasModel."""
    if check_engine(engine) == "keras":
        return KerasModel(run)
    from mnistlab.training.onnx import ensure_onnx, is_current, onnx_path

    if not is_current(run):
        ensure_onnx(run)
    return OnnxModel(onnx_path(run))
