"""Shared fixtures: tiny synthetic datasets for unit tests, one small real-MNIST run for integration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# In CI every property-based test draws the same examples on every run (no example database
# either), so a red CI is a real fault rather than a lucky draw; locally they explore.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MNISTLAB_VERBOSE", "0")

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"


def synthetic_arrays(n_train=600, n_test=200, seed=0):
    """Ten easy classes: class k is a bright bar at row 2k+4, with noise. Learnable in one epoch."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, n)
        x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, k in enumerate(y):
            x[i, 2 * k + 4 : 2 * k + 6, 4:24] = 230
        return x, y.astype(np.uint8)

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


@pytest.fixture
def synthetic_npz(tmp_path):
    path = tmp_path / "synthetic.npz"
    np.savez(path, **synthetic_arrays())
    return path


@pytest.fixture(scope="session")
def mnist():
    from mnistlab.data.datasets import load_mnist

    # `make test` fetches MNIST first; a missing cache here is a real failure, not a skip.
    return load_mnist(fetch=False)


@pytest.fixture(scope="session")
def sources(mnist):
    """What synthetic lines, pages and photographed lines draw from: MNIST training digits, `train` fonts."""
    from mnistlab.data.fonts import font_files
    from mnistlab.data.lines import Sources

    return Sources(mnist.x_train[:3000], mnist.y_train[:3000], font_files("train"))


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, mnist):
    """The `seed` preset trained briefly on a real MNIST subset (shared by the read-only tests)."""
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.train import train

    out = tmp_path_factory.mktemp("runs") / "seed-small"
    return train(TrainOptions(preset="seed", limit=6000, epochs=2, out=str(out), verbose=0), link_latest=True)


@pytest.fixture(scope="session")
def reader_run(tmp_path_factory, mnist):
    """The `fast` preset (with its synthetic non-digits) on 20,000 real MNIST images: good enough to read."""
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.train import train

    out = tmp_path_factory.mktemp("runs") / "fast-reader"
    return train(TrainOptions(preset="fast", limit=20000, out=str(out), verbose=0), link_latest=False)


def compose_number(
    digits: list[np.ndarray], gaps: list[int], rng, height: int = 44, dark_on_light: bool = True
) -> np.ndarray:
    """Digit images (bright ink on black, any size) side by side with the given gaps (negative =
    overlapping, i.e. touching), a little baseline jitter, as a grayscale picture."""
    width = sum(d.shape[1] for d in digits) + sum(gaps) + 24
    canvas = np.zeros((height, max(width, 8)), dtype=np.float64)
    x = 12
    for d, gap in zip(digits, [0] + list(gaps), strict=True):
        x += gap
        y = int(rng.integers(0, max(1, height - d.shape[0])))
        h, w = d.shape
        canvas[y : y + h, x : x + w] = np.maximum(canvas[y : y + h, x : x + w], d)
        x += w
    canvas = canvas[:, : x + 12]
    return 255.0 - canvas if dark_on_light else canvas


def run_cli(*args, cwd=None, env=None, timeout=600):
    """Run `mnistlab ARGS` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mnistlab.cli", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
