"""Exports load in their own runtimes and agree with Keras on 1,000 test images."""

import pytest

from conftest import run_cli
from mnistlab.errors import MnistlabError
from mnistlab.export import formats as export


@pytest.mark.parametrize("fmt", ["savedmodel", "tflite", "onnx"])
def test_export_parity(real_run, tmp_path, fmt):
    out = tmp_path / f"model.{fmt}"
    result = export.export_run(real_run, fmt, str(out))
    assert out.exists()
    assert result["checked"] == 1000
    assert result["argmax_agreement"] == 1.0 and result["max_abs_diff"] <= 1e-4


def test_export_cli_and_refusals(real_run, tmp_path, monkeypatch):
    out = tmp_path / "m.onnx"
    res = run_cli("export", real_run.path, "--format", "onnx", "--out", out)
    assert res.returncode == 0, res.stderr
    assert "parity on 1000 test images" in res.stdout
    res = run_cli("export", real_run.path, "--format", "onnx", "--out", out)
    assert res.returncode == 2 and "already exists" in res.stderr
    # An export that does not agree is refused and leaves nothing behind.
    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(MnistlabError, match="disagrees"):
        export.export_run(real_run, "tflite", str(tmp_path / "bad.tflite"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]


def test_exports_carry_the_calibration(real_run, tmp_path):
    import json

    import numpy as np

    from mnistlab.training.evaluate import predict_proba

    cal = real_run.calibration
    result = export.export_run(real_run, "onnx", str(tmp_path / "m.onnx"))
    meta = json.loads((tmp_path / "m.onnx.json").read_text())
    assert meta["temperature"] == cal.temperature and meta["accept_threshold"] == cal.threshold
    assert meta["temperature_in_graph"] is True and meta["classes"] == [str(d) for d in range(10)]
    assert result["metadata"] == str(tmp_path / "m.onnx.json")
    # The exported probabilities are the calibrated ones, not the raw model's.
    x = real_run_x(real_run)
    got = export._run_onnx(tmp_path / "m.onnx", x)
    want = cal.apply(predict_proba(real_run.load_model(), x))
    assert np.abs(got - want).max() < 1e-4


def real_run_x(run):
    from mnistlab.data.datasets import load_dataset

    return load_dataset(run.config["dataset"]["spec"]).x_test[:200].astype("float32")


@pytest.mark.parametrize("quantize", ["float16", "dynamic", "int8"])
def test_quantized_tflite_is_judged_by_accuracy(real_run, tmp_path, quantize):
    out = tmp_path / f"m-{quantize}.tflite"
    r = export.export_run(real_run, "tflite", str(out), quantize=quantize)
    assert out.exists() and r["checked"] == 10000
    assert r["accuracy_drop_points"] <= 100 * export.MAX_QUANT_DROP  # the refusal rule held
    assert r["bytes"] < r["float_bytes"] and r["latency_ms"] > 0
    if quantize == "int8":
        assert r["size_ratio"] >= 3.5
    print(
        f"{quantize}: acc {r['test_accuracy']:.4f} vs {r['float_test_accuracy']:.4f}, "
        f"{r['bytes']} vs {r['float_bytes']} bytes, {r['latency_ms']} vs {r['float_latency_ms']} ms"
    )


def test_quantized_export_refusals(real_run, tmp_path, monkeypatch):
    with pytest.raises(MnistlabError, match="tflite only"):
        export.export_run(real_run, "onnx", str(tmp_path / "q.onnx"), quantize="int8")
    monkeypatch.setattr(export, "MAX_QUANT_DROP", -1.0)
    with pytest.raises(MnistlabError, match="nothing was written"):
        export.export_run(real_run, "tflite", str(tmp_path / "q.tflite"), quantize="int8")
    assert list(tmp_path.iterdir()) == []
    res = run_cli("export", real_run.path, "--format", "tflite", "--quantize", "int8", "--out", tmp_path / "c.tflite")
    assert res.returncode == 0, res.stderr
    assert "smaller" in res.stdout and "points)" in res.stdout
