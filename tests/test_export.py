"""Exports load in their own runtimes and agree with Keras on 1,000 test images."""


import pytest

from conftest import run_cli
from mnistlab import export
from mnistlab.errors import MnistlabError


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
