"""`import mnistlab as ml`: the front door a notebook user has, and the CLI forms without a RUN."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

import mnistlab as ml
from conftest import REPO, compose_number, run_cli


def test_the_package_root_is_small_and_documented():
    assert set(ml.__all__) >= {
        "train",
        "open_run",
        "load_dataset",
        "presets",
        "predict",
        "read",
        "Run",
        "MnistlabError",
    }
    for name in ("train", "open_run", "load_dataset", "presets", "predict", "read"):
        assert getattr(ml, name).__doc__
    for name in ("evaluate", "predict", "read", "export", "plot_curves", "plot_samples", "plot_confusion"):
        assert getattr(ml.Run, name).__doc__
    rows = {p["name"]: p for p in ml.presets()}
    assert (
        set(rows) == {"seed", "fast", "best", "line", "photo-line", "detector"}
        and rows["seed"]["recipe"]["epochs"] == 5
    )


def test_bundled_model_predicts_arrays_paths_and_pil_images(mnist, tmp_path):
    run = ml.open_run()
    assert run.path == ml.bundled_path() and run.metrics["test_accuracy"] > 0.98
    one = run.predict(mnist.x_test[0])
    assert len(one) == 1 and one[0]["digit"] == 7 and one[0]["accepted"] is True
    assert [p["digit"] for p in run.predict(mnist.x_test[:5])] == [7, 2, 1, 0, 4]
    path = tmp_path / "two.png"
    Image.fromarray(255 - mnist.x_test[1]).resize((90, 90)).save(path)
    by_path = run.predict([str(path), Image.open(path)])
    assert [p["digit"] for p in by_path] == [2, 2] and by_path[0]["file"] == str(path)
    assert set(by_path[1]) == {"digit", "label", "confidence", "accepted", "probabilities"}
    noise = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(float)
    assert ml.predict(noise)[0]["accepted"] is False


def test_read_whole_numbers_from_python(mnist, tmp_path):
    picture = compose_number([mnist.x_test[i].astype(float) for i in (0, 1, 2, 3)], [6, 3, 8], np.random.default_rng(0))
    path = tmp_path / "n.png"
    Image.fromarray(picture.astype(np.uint8)).save(path)
    (result,) = ml.read(str(path))
    assert result["text"] == "7210" and result["accepted"] and result["file"] == str(path)
    (same,) = ml.open_run().read(picture)  # a grayscale array of any size works too
    assert same["text"] == "7210"


def test_errors_are_mnistlab_errors():
    with pytest.raises(ml.MnistlabError, match="does not exist"):
        ml.open_run("no/such/run")
    with pytest.raises(ml.MnistlabError, match="2-D"):
        ml.open_run().predict([np.zeros((2, 3, 4))])
    with pytest.raises(ml.MnistlabError, match="0..255"):
        ml.open_run().predict(np.full((28, 28), 300.0))
    with pytest.raises(ml.MnistlabError, match="unknown preset"):
        ml.train(preset="huge")


def test_train_evaluate_plot_from_python(tmp_path):
    from matplotlib.figure import Figure

    run = ml.train(preset="seed", limit=1000, epochs=1, out=tmp_path / "r", verbose=0)
    assert isinstance(run, ml.Run) and run.path == tmp_path / "r"
    assert not (tmp_path / "latest").exists()  # only the CLI, or link_latest=True, moves `latest`
    report = run.evaluate()
    assert 0.5 < report["test_accuracy"] <= 1 and len(report["confusion_matrix"]) == 10
    for fig in (run.plot_curves(), run.plot_samples(), run.plot_confusion()):
        assert isinstance(fig, Figure)
    assert "calibration" in run.metrics and (run.path / "plots" / "reliability.png").exists()


def test_cli_without_a_run_uses_the_bundled_model(mnist, tmp_path):
    path = tmp_path / "seven.png"
    Image.fromarray(255 - mnist.x_test[0]).resize((84, 84)).save(path)
    res = run_cli("predict", path, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["digit"] == 7
    res = run_cli("predict", "--test-index", "0:5", "--json")
    assert [p["digit"] for p in json.loads(res.stdout)] == [7, 2, 1, 0, 4]
    res = run_cli("read", path, "--csv", tmp_path / "out.csv")
    assert res.returncode == 0 and "seven.png: 7" in res.stdout
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert rows[0]["text"] == "7" and rows[0]["accepted"] == "True" and float(rows[0]["confidence"]) > 0.5
    res = run_cli("predict", path, "--csv", tmp_path / "p.csv")
    assert list(csv.DictReader(open(tmp_path / "p.csv")))[0]["digit"] == "7"
    res = run_cli("predict", "--run", ml.bundled_path(), path)
    assert res.returncode == 0 and "seven.png: 7" in res.stdout


def test_readme_python_example_runs_as_written_quietly_and_writes_only_its_run(tmp_path):
    """As a user runs it, in a fresh interpreter: what it prints, nothing on stderr (TensorFlow's
    start-up lines included), and no file outside the run directory it names."""
    import os
    import shutil
    import subprocess
    import sys

    text = (REPO / "README.md").read_text()
    code = text.split("## From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "MNISTLAB_DEBUG")}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert "2026" in res.stdout and "[7, 2, 1, 0, 4]" in res.stdout, res.stdout
    assert res.stderr == "", res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["examples", "runs"]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["python-example"]


def test_cli_output_into_a_closed_pipe_stops_quietly(real_run):
    """`mnistlab predict RUN --test-index 0:2000 | head -1`: no error message when head leaves."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "mnistlab.cli", "predict", str(real_run.path), "--test-index", "0:2000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert first.startswith(b"test[0]: 7")
    assert "error" not in err and "Traceback" not in err
