"""The built wheel works outside the checkout: console script, static page, bundled model and all."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO


@pytest.mark.timeout(900)
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path, mnist):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "-w", str(dist), "-q"], check=True, cwd=tmp_path)
    (wheel,) = dist.glob("mnistlab-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, cli = venv / "bin" / "python", venv / "bin" / "mnistlab"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # The dependencies (TensorFlow & co.) are borrowed from this venv rather than downloaded again:
    # a plain path in a .pth file, so this venv's editable mnistlab is not activated there.
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args):
        res = subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        return res.stdout

    where = run(py, "-c", "import mnistlab, mnistlab.server.app as a; print(mnistlab.__file__); "
                          "print((a.STATIC / 'index.html').exists()); print(mnistlab.bundled_path())")
    lines = where.split()
    assert lines[0].startswith(str(venv)) and lines[1] == "True" and lines[2].startswith(str(venv))
    assert "read whole numbers" in run(cli, "--help")
    assert "60,000 images" in run(cli, "data", "info")
    (work / "number.png").write_bytes((REPO / "examples" / "number-2026.png").read_bytes())
    assert "number.png: 2026" in run(cli, "read", "number.png")  # the bundled model, no training
    run(cli, "train", "--preset", "seed", "--limit", "600", "--epochs", "1", "--out", "tiny")
    out = run(cli, "predict", "tiny", "--test-index", "0:3")
    assert out.count("test[") == 3
