"""Export a run's model to SavedModel, TFLite or ONNX, and prove each export agrees with Keras.

Every float export is checked on 1,000 test images in its own runtime (TF, LiteRT, onnxruntime): the
argmax must match Keras on every image and probabilities must agree within 1e-4, otherwise nothing is
left behind and the export fails. Quantized TFLite exports (float16, dynamic-range, full-integer int8)
are judged by accuracy instead: their MNIST test accuracy may fall at most `MAX_QUANT_DROP` points
below the float model's, and they report size and single-image latency beside it.

Inputs are raw pixels, float32 (N, 28, 28) in 0..255; outputs are calibrated probabilities: the run's
temperature is part of the exported graph (softmax(logits / T)). A `<export>.json` beside each export
records the classes, the temperature and the acceptance threshold for "not a digit".
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnistlab import atomic
from mnistlab.data.datasets import load_dataset
from mnistlab.errors import MnistlabError
from mnistlab.models.predict import predict_proba
from mnistlab.runs import RunDir
from mnistlab.training.onnx import TOLERANCE, parity, signature, write_onnx

FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZATIONS = ("float16", "dynamic", "int8")
PARITY_IMAGES = 1000
MAX_QUANT_DROP = 0.003  # accuracy a quantized export may lose (0.3 points)
REPRESENTATIVE_IMAGES = 500


def _write_savedmodel(model, dest: Path) -> None:
    model.export(str(dest), format="tf_saved_model", input_signature=signature(), verbose=False)


def _run_savedmodel(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return loaded.serve(tf.constant(x)).numpy()


def _write_tflite(model, dest: Path, quantize: str | None = None, representative=None) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        _write_savedmodel(model, Path(tmp) / "sm")
        converter = tf.lite.TFLiteConverter.from_saved_model(str(Path(tmp) / "sm"))
        if quantize:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantize == "int8":
            # Full-integer: every op runs in int8; float32 pixels in and probabilities out, so callers
            # feed it exactly like the float model.
            converter.representative_dataset = lambda: ([x[None]] for x in representative)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
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


def onnx_session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    sess = onnx_session(path)
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


WRITERS = {
    "savedmodel": (_write_savedmodel, _run_savedmodel, ""),
    "tflite": (_write_tflite, _run_tflite, ".tflite"),
    "onnx": (write_onnx, _run_onnx, ".onnx"),
}


def calibrated_model(model, temperature: float):
    """The model with its temperature inside: softmax(logits / T) from the final dense layer's logits.

    Returns (model, True), or (model, False) unchanged when T is 1 or the head is not a softmax dense
    layer (then the `.json` beside the export tells callers to apply softmax(log p / T) themselves).
    """
    import keras

    last = model.layers[-1]
    if (
        temperature == 1.0
        or not isinstance(last, keras.layers.Dense)
        or getattr(last.activation, "__name__", "") != "softmax"
    ):
        return model, False
    features = keras.Model(model.inputs, last.input)
    logits_layer = keras.layers.Dense(last.units, name="logits")
    inputs = keras.Input(shape=(28, 28), name="pixels")
    logits = logits_layer(features(inputs))
    logits_layer.set_weights(last.get_weights())
    scaled = keras.layers.Rescaling(1.0 / temperature, name="temperature")(logits)
    outputs = keras.layers.Activation("softmax", name="probabilities")(scaled)
    return keras.Model(inputs, outputs, name=f"{model.name}_calibrated"), True


def export_run(run: RunDir, fmt: str, out: str | None = None, quantize: str | None = None) -> dict:
    if fmt not in FORMATS:
        raise MnistlabError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if quantize is not None and (fmt != "tflite" or quantize not in QUANTIZATIONS):
        raise MnistlabError(
            f"--quantize {quantize} works with --format tflite only, as one of {', '.join(QUANTIZATIONS)}"
        )
    if run.is_line:
        return _export_line_run(run, fmt, out)
    if run.is_detector:
        return _export_detector_run(run, fmt, out)
    write, execute, suffix = WRITERS[fmt]
    name = fmt + (f"-{quantize}" if quantize else "") + suffix
    dest = Path(out) if out else run.path / "export" / name
    sidecar = dest.with_name(dest.name + ".json")
    if dest.exists() or sidecar.exists():
        raise MnistlabError(f"{dest if dest.exists() else sidecar} already exists; remove it or choose another --out")
    cal = run.calibration
    model, baked = calibrated_model(run.load_model(), cal.temperature)
    ds = load_dataset(run.config["dataset"]["spec"])
    x = ds.x_test[:PARITY_IMAGES].astype(np.float32)
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic.sweep_stale(dest.parent, dest.name)  # what an export killed before this one left behind
    staging = Path(tempfile.mkdtemp(prefix=atomic.stage_prefix(dest.name), dir=dest.parent))
    try:
        tmp = staging / dest.name
        try:
            if quantize:
                write(model, tmp, quantize, ds.x_train[:REPRESENTATIVE_IMAGES].astype(np.float32))
            else:
                write(model, tmp)
        except Exception as exc:
            raise MnistlabError(
                f"{fmt} export failed: {str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        if quantize:
            result = _judge_quantized(model, tmp, staging, ds)
        else:
            reference = predict_proba(model, x)
            result = parity(reference, execute(tmp, x))
            if result["argmax_agreement"] < 1.0 or result["max_abs_diff"] > TOLERANCE:
                raise MnistlabError(
                    f"the {fmt} export disagrees with Keras on {PARITY_IMAGES} test images (argmax agreement "
                    f"{result['argmax_agreement']:.4f}, max |Δp| {result['max_abs_diff']:.2e} > {TOLERANCE}); "
                    "nothing was written"
                )
        meta = {
            "format": fmt,
            "quantize": quantize,
            "run": run.name,
            "classes": list(run.class_names),
            "input": "float32 (N, 28, 28) raw pixels 0..255, bright ink on black (MNIST-style)",
            "output": "probabilities per class" + (" (calibrated)" if baked or cal.temperature == 1.0 else ""),
            "temperature": cal.temperature,
            "temperature_in_graph": baked,
            "accept_threshold": cal.threshold,
            "accept_rule": "accept the top class when its probability >= accept_threshold; else 'not a digit'"
            + ("" if baked or cal.temperature == 1.0 else "; first apply softmax(log(p) / temperature)"),
            "check": result,
        }
        atomic.write_json(staging / sidecar.name, meta)
        tmp.rename(dest)
        (staging / sidecar.name).rename(sidecar)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"format": fmt, "quantize": quantize, "path": str(dest), "metadata": str(sidecar), **result}


def _export_detector_run(run: RunDir, fmt: str, out: str | None) -> dict:
    """A detector's export: its verified ONNX model and a sidecar saying how to feed it and read its map."""
    import json

    if fmt != "onnx":
        raise MnistlabError("a detector exports to onnx only (--format onnx)")
    dest, sidecar, record = _onnx_copy(run, out, "detector.onnx", "a detector run")
    info = json.loads((run.path / "detector.json").read_text())
    meta = {
        "format": "onnx",
        "run": run.name,
        "kind": "detector",
        "input": "float32 (N, H, W, 1) grey photos (H, W multiples of 16, longer side about 768), each "
        "standardized: minus its mean, divided by its standard deviation (at least 4) "
        "(mnistlab.data.pages.standardize)",
        "output": f"(N, H/{info['stride']}, W/{info['stride']}, 1) logits that a cell is a line's core (the "
        "middle half of its height); a connected core above the threshold is one line",
        "threshold": info["threshold"],
        "check": record,
    }
    return _write_onnx_copy(run, dest, sidecar, meta, record)


def _onnx_copy(run: RunDir, out: str | None, name: str, what: str) -> tuple[Path, Path, dict]:
    import json

    from mnistlab.training.onnx import onnx_path, record_path

    dest = Path(out) if out else run.path / "export" / name
    sidecar = dest.with_name(dest.name + ".json")
    if dest.exists() or sidecar.exists():
        raise MnistlabError(f"{dest if dest.exists() else sidecar} already exists; remove it or choose another --out")
    if not (onnx_path(run).is_file() and record_path(run).is_file()):
        raise MnistlabError(f"{run.path} has no verified model.onnx: {what} writes one when it finishes training")
    return dest, sidecar, json.loads(record_path(run).read_text())


def _write_onnx_copy(run: RunDir, dest: Path, sidecar: Path, meta: dict, record: dict) -> dict:
    from mnistlab.training.onnx import onnx_path

    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(dest, onnx_path(run).read_bytes())
    atomic.write_json(sidecar, meta)
    return {
        "format": "onnx",
        "quantize": None,
        "path": str(dest),
        "metadata": str(sidecar),
        "checked": record.get("checked", 0),
        "argmax_agreement": record.get("argmax_agreement", 1.0),
        "max_abs_diff": record.get("max_abs_diff", 0.0),
    }


def _export_line_run(run: RunDir, fmt: str, out: str | None) -> dict:
    """A line model's export: its verified ONNX model and a sidecar saying how to feed and decode it."""
    import json

    if fmt != "onnx":
        raise MnistlabError("a line model exports to onnx only (--format onnx)")
    dest, sidecar, record = _onnx_copy(run, out, "line.onnx", "a line run")
    info = json.loads((run.path / "line.json").read_text())
    meta = {
        "format": "onnx",
        "run": run.name,
        "kind": "line",
        "input": f"float32 (N, {info['height']}, W) strips 0..255, bright ink on black: the line's ink scaled "
        f"to 24 rows, centred, 4 blank columns each side (mnistlab.data.strip.to_strip)",
        "output": f"(N, W/{info['stride']}, {len(info['vocab']) + 1}) logits per step; class 0 is CTC's blank, "
        f"class k is {info['vocab']!r}[k-1] ('?': not a digit)",
        "decode": "greedy: best class per step, merge repeats, drop blanks; accept the line when its least "
        "sure character's probability >= accept_threshold",
        "accept_threshold": info["threshold"],
        "check": record,
    }
    return _write_onnx_copy(run, dest, sidecar, meta, record)


def _judge_quantized(model, path: Path, staging: Path, ds) -> dict:
    """MNIST test accuracy, size and latency of a quantized TFLite model against the float one."""
    float_path = staging / "float.tflite"
    _write_tflite(model, float_path)
    x, y = ds.x_test.astype(np.float32), ds.y_test
    float_acc = float((_run_tflite(float_path, x).argmax(1) == y).mean())
    quant_acc = float((_run_tflite(path, x).argmax(1) == y).mean())
    result = {
        "checked": int(len(y)),
        "test_accuracy": quant_acc,
        "float_test_accuracy": float_acc,
        "accuracy_drop_points": round(100 * (float_acc - quant_acc), 3),
        "bytes": path.stat().st_size,
        "float_bytes": float_path.stat().st_size,
        "size_ratio": round(float_path.stat().st_size / path.stat().st_size, 2),
        "latency_ms": _latency_ms(path, x[0]),
        "float_latency_ms": _latency_ms(float_path, x[0]),
    }
    if float_acc - quant_acc > MAX_QUANT_DROP:
        raise MnistlabError(
            f"the quantized export reaches {quant_acc:.4f} test accuracy against {float_acc:.4f} "
            f"for the float model, a drop over {100 * MAX_QUANT_DROP:.1f} points; nothing was written"
        )
    return result


def _latency_ms(path: Path, image: np.ndarray, repeats: int = 300) -> float:
    """Median single-image latency in LiteRT (one thread), after a warm-up."""
    import time

    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], [1, 28, 28])
    interp.allocate_tensors()
    x = image[None].astype(np.float32)
    times = []
    for k in range(repeats + 20):
        start = time.perf_counter()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        if k >= 20:
            times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 4)
