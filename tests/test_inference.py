"""Answers come from onnxruntime: same classes and probabilities as Keras, made and checked per run."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mnistlab.errors import MnistlabError
from mnistlab.inference import engine as inference
from mnistlab.runs import RunDir
from mnistlab.training import onnx as onnx_copy


def test_bundled_onnx_matches_keras_on_the_whole_test_set(mnist):
    import mnistlab as ml

    run = RunDir(ml.bundled_path())
    onnx = inference.load(run, "onnx").predict_proba(mnist.x_test)
    keras = inference.load(run, "keras").predict_proba(mnist.x_test)
    assert (onnx.argmax(1) == keras.argmax(1)).all()
    assert np.abs(onnx - keras).max() <= onnx_copy.TOLERANCE
    # ... and with test-time augmentation, on a slice
    a = inference.load(run, "onnx").predict_proba(mnist.x_test[:500], tta=5)
    b = inference.load(run, "keras").predict_proba(mnist.x_test[:500], tta=5)
    assert np.abs(a - b).max() <= onnx_copy.TOLERANCE


def test_every_trained_run_gets_a_verified_onnx_model(real_run):
    record = json.loads(onnx_copy.record_path(real_run).read_text())
    assert onnx_copy.onnx_path(real_run).is_file()
    assert record["argmax_agreement"] == 1.0 and record["max_abs_diff"] <= onnx_copy.TOLERANCE
    assert record["checked"] >= 1000


def test_an_older_run_gets_its_onnx_model_on_first_use_and_a_changed_one_is_remade(real_run, tmp_path, mnist):
    copy = RunDir(tmp_path / "old")
    shutil.copytree(real_run.path, copy.path)
    onnx_copy.onnx_path(copy).unlink()
    onnx_copy.record_path(copy).unlink()
    probs = inference.load(copy).predict_proba(mnist.x_test[:50])
    assert onnx_copy.onnx_path(copy).is_file()
    first = json.loads(onnx_copy.record_path(copy).read_text())
    # A damaged or stale model.onnx is never used: it no longer matches its record, and is remade.
    onnx_copy.onnx_path(copy).write_bytes(b"not a model")
    again = inference.load(copy).predict_proba(mnist.x_test[:50])
    np.testing.assert_allclose(again, probs, atol=1e-6)
    assert json.loads(onnx_copy.record_path(copy).read_text())["keras_sha256"] == first["keras_sha256"]


def test_read_and_predict_never_import_tensorflow(tmp_path):
    from conftest import REPO

    code = (
        "import sys, mnistlab as ml\n"
        f"r = ml.read({str(REPO / 'examples' / 'number-2026.png')!r})\n"
        "p = ml.predict(__import__('numpy').zeros((28, 28)))\n"
        "print(r[0]['text'], sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == "2026 []"


def test_engine_is_checked():
    import mnistlab as ml

    with pytest.raises(MnistlabError, match="engine must be one of onnx, keras"):
        ml.open_run(engine="torch")
