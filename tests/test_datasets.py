"""Other MNIST-like datasets: Fashion-MNIST from Debian, class names carried through a run."""

import json
from pathlib import Path

import pytest

from conftest import run_cli
from mnistlab.data import datasets as data
from mnistlab.errors import MnistlabError

needs_fashion = pytest.mark.skipif(
    not data.FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)"
)


@needs_fashion
def test_fashion_loads_with_class_names():
    ds = data.load_fashion()
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
    assert list(ds.summary()["test_counts"]) == [1000] * 10


@needs_fashion
def test_fashion_run_remembers_its_classes(tmp_path):
    res = run_cli("train", "--dataset", "fashion", "--limit", "3000", "--epochs", "1", "--out", tmp_path / "f")
    assert res.returncode == 0, res.stderr
    cfg = json.loads((tmp_path / "f" / "config.json").read_text())
    assert cfg["dataset"]["spec"] == "fashion" and cfg["dataset"]["classes"][1] == "Trouser"
    preds = json.loads(run_cli("predict", tmp_path / "f", "--test-index", "0:3", "--json").stdout)
    assert all(p["label"] in data.FASHION_CLASSES for p in preds)
    res = run_cli("evaluate", tmp_path / "f")
    assert "Ankle boot" in res.stdout


def test_missing_fashion_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_DIR", tmp_path / "absent")
    with pytest.raises(MnistlabError, match="apt-get install dataset-fashion-mnist"):
        data.load_dataset("fashion")


def test_npz_class_names_are_used(tmp_path):
    import numpy as np

    from conftest import synthetic_arrays

    arrays = synthetic_arrays(100, 30)
    path = tmp_path / "named.npz"
    np.savez(path, **arrays, class_names=np.array([f"c{i}" for i in range(10)]))
    assert data.load_npz(path).class_names[3] == "c3"
    assert Path(path).exists()


def test_evaluate_and_predict_on_another_dataset(real_run, synthetic_npz):
    before = (real_run.path / "metrics.json").read_text()
    res = run_cli("evaluate", real_run.path, "--dataset", f"npz:{synthetic_npz}", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["recorded_in_run"] is False and sum(map(sum, report["confusion_matrix"])) == 200
    assert (real_run.path / "metrics.json").read_text() == before  # the run keeps its own results
    res = run_cli("predict", real_run.path, "--test-index", "0:2", "--dataset", f"npz:{synthetic_npz}", "--json")
    assert res.returncode == 0 and len(json.loads(res.stdout)) == 2


@needs_fashion
def test_evaluating_on_data_with_other_classes_is_refused(real_run):
    res = run_cli("evaluate", real_run.path, "--dataset", "fashion")
    assert res.returncode == 2 and "T-shirt/top" in res.stderr
