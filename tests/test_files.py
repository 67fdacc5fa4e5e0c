"""Files a user (or an attacker) hands the CLI: FIFOs, endless devices, missing files in a batch,
empty folders, spreadsheet formulas in names, the umask, damaged run files."""

import csv
import json
import os
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

import mnistlab as ml
from conftest import run_cli
from scenes import sheet


@pytest.fixture
def number_png(tmp_path):
    path = tmp_path / "n.png"
    Image.fromarray(sheet(["42"]).astype(np.uint8)).save(path)
    return path


@pytest.mark.timeout(60)
def test_a_fifo_and_an_endless_device_are_refused_not_read(tmp_path, number_png):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    res = run_cli("read", fifo, number_png, "--json", timeout=30)
    out = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(res.stdout)}
    assert res.returncode == 1 and "not a regular file" in out["pipe.png"]["error"]
    assert out["n.png"]["text"] == "42"
    res = run_cli("predict", "/dev/zero", timeout=30)
    assert res.returncode == 2 and "zero: error: not a regular file" in res.stderr


def test_a_missing_file_is_reported_with_the_others_and_the_csv_is_written(tmp_path, number_png):
    out_csv = tmp_path / "out.csv"
    res = run_cli("read", number_png, tmp_path / "gone.png", "--csv", out_csv)
    assert res.returncode == 1
    assert "gone.png: error: does not exist" in res.stderr and "gone.png" not in res.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["text"] for r in rows] == ["42", ""] and "does not exist" in rows[1]["error"]


def test_an_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    res = run_cli("read", tmp_path / "empty")
    assert res.returncode == 2 and "no files in it" in res.stderr and "Traceback" not in res.stderr


def test_csv_cells_never_start_a_formula(tmp_path, number_png):
    evil = tmp_path / "=HYPERLINK(1).png"
    shutil.copy(number_png, evil)
    out_csv = tmp_path / "out.csv"
    assert run_cli("read", evil, "--csv", out_csv).returncode == 0
    (row,) = list(csv.DictReader(out_csv.open()))
    assert not row["file"].startswith(("=", "+", "-", "@"))
    from mnistlab.batch.rowfiles import csv_cell as _csv_cell

    assert _csv_cell("=1+1") == "'=1+1" and _csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert _csv_cell("-3") == "-3" and _csv_cell("12") == "12" and _csv_cell(0.5) == 0.5


def test_written_files_honour_the_umask(tmp_path, number_png):
    out_csv = tmp_path / "out.csv"
    res = run_cli("read", number_png, "--csv", out_csv)
    assert res.returncode == 0
    assert stat.S_IMODE(out_csv.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("temperature", [-1, 0, "NaN"])
def test_a_damaged_calibration_is_one_clear_error(tmp_path, number_png, temperature):
    run = tmp_path / "run"
    shutil.copytree(ml.bundled_path(), run)
    cal = json.loads((run / "calibration.json").read_text())
    cal["temperature"] = temperature if temperature != "NaN" else float("nan")
    (run / "calibration.json").write_text(json.dumps(cal))
    res = run_cli("read", run, number_png)
    assert res.returncode == 2 and "temperature" in res.stderr and "Traceback" not in res.stderr
    from fastapi.testclient import TestClient

    from mnistlab.errors import MnistlabError
    from mnistlab.runs import RunDir
    from mnistlab.serving.app import create_app

    with pytest.raises(MnistlabError, match="temperature"):
        TestClient(create_app(RunDir(run)))


@pytest.mark.parametrize("classes", [None, ["7"], "0123456789"])
def test_a_damaged_config_is_one_clear_error(tmp_path, number_png, classes):
    run = tmp_path / "run"
    shutil.copytree(ml.bundled_path(), run)
    cfg = json.loads((run / "config.json").read_text())
    if classes is None:
        del cfg["dataset"]["classes"]
    else:
        cfg["dataset"]["classes"] = classes
    (run / "config.json").write_text(json.dumps(cfg))
    res = run_cli("read", run, number_png)
    assert res.returncode == 2 and "config.json" in res.stderr and "Traceback" not in res.stderr


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_what_a_killed_writer_left_is_swept(tmp_path):
    """A process killed mid-export or mid-write leaves `.NAME.PID.*` behind; the next write of the
    same name removes it, and never touches a live process's files."""
    from mnistlab import atomic

    dead = _dead_pid()
    stale_dir = tmp_path / f".onnx.onnx.{dead}.abc123"
    stale_dir.mkdir()
    (stale_dir / "onnx.onnx").write_bytes(b"half")
    stale_file = tmp_path / f".metrics.json.{dead}.xyz.tmp"
    stale_file.write_text("{")
    live = tmp_path / f".metrics.json.{os.getppid()}.keep.tmp"
    live.write_text("{")
    other = tmp_path / ".unrelated"
    other.write_text("x")
    atomic.write_json(tmp_path / "metrics.json", {"ok": 1})
    assert not stale_file.exists() and live.exists() and other.exists()
    assert stale_dir.exists()  # another name's: swept when that name is written
    assert atomic.sweep_stale(tmp_path, "onnx.onnx") == 1 and not stale_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".unrelated", live.name, "metrics.json"])
