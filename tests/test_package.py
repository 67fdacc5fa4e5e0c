"""The built wheel works outside the checkout: the core install reads with no TensorFlow at all, and
the `train` extra trains."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(dist), "-q"],
        check=True,
        cwd=dist,
    )
    (whl,) = dist.glob("mnistlab-*.whl")
    return whl


def _venv(path: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python", path / "bin" / "mnistlab"


def _runner(work: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MNISTLAB_VERBOSE")}

    def run(*args, ok=True):
        res = subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        if ok:
            assert res.returncode == 0, res.stderr[-2000:]
        return res

    return run


@pytest.mark.timeout(900)
def test_core_install_reads_without_tensorflow(tmp_path, wheel):
    """`pip install mnistlab` in a fresh venv: numpy, Pillow, SciPy, onnxruntime and the server only."""
    py, cli = _venv(tmp_path / "venv")
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    run = _runner(work)
    installed = run(py, "-m", "pip", "list", "--format=freeze").stdout.lower()
    for heavy in ("tensorflow", "keras", "matplotlib", "tf2onnx"):
        assert f"\n{heavy}==" not in "\n" + installed, f"{heavy} came with the core install"
    (work / "number.png").write_bytes((REPO / "examples" / "number-2026.png").read_bytes())
    res = run(cli, "read", "number.png")
    assert "number.png: 2026" in res.stdout and res.stderr == ""
    res = run(
        py,
        "-c",
        "import sys, mnistlab as ml; r = ml.read('number.png'); print(r[0]['text'], 'tensorflow' in sys.modules)",
    )
    assert res.stdout.split() == ["2026", "False"]
    # The server imports and answers with the core alone.
    res = run(
        py,
        "-c",
        "from fastapi.testclient import TestClient\n"
        "from mnistlab.serving.app import create_app\nfrom mnistlab.runs import RunDir\n"
        "import mnistlab\nc = TestClient(create_app(RunDir(mnistlab.bundled_path())))\n"
        "r = c.post('/api/read', files={'file': ('n.png', open('number.png','rb'), 'image/png')})\n"
        "print(r.status_code, r.json()['text'])",
        ok=False,
    )
    assert res.stdout.split() == ["200", "2026"] or "httpx" in res.stderr  # TestClient needs httpx (a dev tool)
    # A command that needs the train extra says exactly what to install, in one sentence, exit 2.
    for args in (["train", "--preset", "seed"], ["read", "number.png", "--engine", "keras"]):
        res = run(cli, *args, ok=False)
        assert res.returncode == 2 and res.stdout == ""
        assert res.stderr.count("\n") == 1 and "pip install 'mnistlab[train]'" in res.stderr, res.stderr


@pytest.mark.timeout(900)
def test_train_extra_installs_and_trains(tmp_path, wheel, mnist):
    """`pip install 'mnistlab[train]'`: every requirement of the extra is met by the pinned set this
    checkout tests with (borrowed through a .pth file rather than downloaded again), and it trains."""
    py, cli = _venv(tmp_path / "venv")
    site = Path(
        subprocess.check_output(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --no-index: the resolver must find every requirement of [train] already installed.
    subprocess.run(
        [
            py,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            f"mnistlab[train] @ {wheel.as_uri()}",
        ],
        check=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    run = _runner(work)
    where = run(
        py,
        "-c",
        "import mnistlab, mnistlab.serving.app as a; print(mnistlab.__file__); "
        "print((a.STATIC / 'index.html').exists()); print(mnistlab.bundled_path())",
    ).stdout
    lines = where.split()
    assert lines[0].startswith(str(tmp_path / "venv")) and lines[1] == "True"
    assert "read whole numbers" in run(cli, "--help").stdout
    assert "60,000 images" in run(cli, "data", "info").stdout
    res = run(cli, "train", "--preset", "seed", "--limit", "600", "--epochs", "1", "--out", "tiny")
    assert res.stderr == "", res.stderr  # no TensorFlow, absl or CUDA lines without --debug
    assert "training preset seed" in res.stdout.splitlines()[0]
    assert (work / "tiny" / "model.onnx").is_file() and not (work / "runs").exists()
    out = run(cli, "predict", "tiny", "--test-index", "0:3").stdout
    assert out.count("test[") == 3
    keras = run(cli, "predict", "tiny", "--test-index", "0:3", "--engine", "keras").stdout
    assert keras == out
