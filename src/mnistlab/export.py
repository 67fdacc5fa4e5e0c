"""Export a run's model to SavedModel, TFLite or ONNX, and prove each export agrees with Keras.

Every export is checked on 1,000 test images in its own runtime (TF, LiteRT, onnxruntime): the argmax
must match Keras on every image and probabilities must agree within 1e-4, otherwise nothing is left
behind and the export fails. Inputs are raw pixels, float32 (N, 28, 28) in 0..255.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from .data import load_dataset
from .errors import MnistlabError
from .evaluate import predict_proba
from .runs import RunDir

FORMATS = ("savedmodel", "tflite", "onnx")
TOLERANCE = 1e-4
PARITY_IMAGES = 1000


def _signature():
    import tensorflow as tf

    return [tf.TensorSpec([None, 28, 28], tf.float32, name="pixels")]


def _write_savedmodel(model, dest: Path) -> None:
    model.export(str(dest), format="tf_saved_model", input_signature=_signature(), verbose=False)


def _run_savedmodel(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return loaded.serve(tf.constant(x)).numpy()


def _write_tflite(model, dest: Path) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        _write_savedmodel(model, Path(tmp) / "sm")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        dest.write_bytes(converter.convert())


def _run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def _write_onnx(model, dest: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda pixels: model(pixels, training=False))
    tf2onnx.convert.from_function(fn, input_signature=_signature(), opset=17, output_path=str(dest))


def onnx_session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    sess = onnx_session(path)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


WRITERS = {
    "savedmodel": (_write_savedmodel, _run_savedmodel, ""),
    "tflite": (_write_tflite, _run_tflite, ".tflite"),
    "onnx": (_write_onnx, _run_onnx, ".onnx"),
}


def parity(reference: np.ndarray, exported: np.ndarray) -> dict:
    return {"checked": int(len(reference)),
            "argmax_agreement": float((reference.argmax(1) == exported.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(reference - exported).max())}


def export_run(run: RunDir, fmt: str, out: str | None = None) -> dict:
    if fmt not in FORMATS:
        raise MnistlabError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    write, execute, suffix = WRITERS[fmt]
    dest = Path(out) if out else run.path / "export" / (fmt + suffix)
    if dest.exists():
        raise MnistlabError(f"{dest} already exists; remove it or choose another --out")
    model = run.load_model()
    ds = load_dataset(run.config["dataset"]["spec"])
    x = ds.x_test[:PARITY_IMAGES].astype(np.float32)
    reference = predict_proba(model, x)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tmp = staging / dest.name
        try:
            write(model, tmp)
        except Exception as exc:
            raise MnistlabError(f"{fmt} export failed: {str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__}") from None
        result = parity(reference, execute(tmp, x))
        if result["argmax_agreement"] < 1.0 or result["max_abs_diff"] > TOLERANCE:
            raise MnistlabError(
                f"the {fmt} export disagrees with Keras on {PARITY_IMAGES} test images (argmax agreement "
                f"{result['argmax_agreement']:.4f}, max |Δp| {result['max_abs_diff']:.2e} > {TOLERANCE}); "
                "nothing was written")
        tmp.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"format": fmt, "path": str(dest), **result}
