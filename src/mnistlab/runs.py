"""The run directory: one training run's recipe, history, metrics and model, read and written atomically.

runs/<UTC time>-<preset>/
    config.json    the recipe, seed, dataset (spec, digest, classes), library versions
    history.json   one entry per finished epoch
    model.keras    the trained model (written once fitting ends)
    calibration.json  temperature and acceptance threshold (see models/calibration.py)
    metrics.json   test metrics and timings; its presence marks the run complete
    backup/        Keras BackupAndRestore state while training is unfinished
    logs/          TensorBoard event files
    plots/         figures
runs/latest -> the newest run
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from mnistlab import atomic
from mnistlab.errors import MnistlabError

RUNS_ROOT = Path("runs")
BUNDLED = Path(__file__).parent / "bundled"  # the run that ships inside the package


@dataclass
class RunDir:
    path: Path

    def __post_init__(self):
        self.path = Path(self.path)

    # --- paths ---
    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def calibration_path(self) -> Path:
        return self.path / "calibration.json"

    @property
    def backup_dir(self) -> Path:
        return self.path / "backup"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    # --- reading ---
    def _read_json(self, path: Path, default=None):
        if not path.exists():
            if default is not None:
                return default
            raise MnistlabError(f"{path} is missing; {self.path} is not a complete run")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MnistlabError(f"{path} cannot be read as JSON ({exc})") from None

    @property
    def config(self) -> dict:
        return self._read_json(self.config_path)

    @property
    def history(self) -> list[dict]:
        return self._read_json(self.history_path, default=[])

    @property
    def metrics(self) -> dict:
        return self._read_json(self.metrics_path)

    @property
    def is_complete(self) -> bool:
        return self.metrics_path.exists() and self.model_path.exists()

    @property
    def class_names(self) -> list[str]:
        """The classes the run was trained on (checked: a list of at least two distinct names)."""
        try:
            classes = self.config["dataset"]["classes"]
        except (KeyError, TypeError):
            raise MnistlabError(
                f"{self.config_path} has no dataset.classes; it is not a config.json mnistlab wrote"
            ) from None
        if not isinstance(classes, list) or len(classes) < 2 or len(set(map(str, classes))) != len(classes):
            raise MnistlabError(
                f"{self.config_path}: dataset.classes must list at least two distinct classes, not {classes!r}"
            )
        return [str(c) for c in classes]

    def check(self) -> None:
        """A finished run's files hold what the commands read from them, or one sentence says what
        is wrong (never an IndexError later, or a 500 from the server)."""
        cfg = self.config
        where = self.config_path
        if not isinstance(cfg, dict):
            raise MnistlabError(f"{where} must hold a JSON object; it is not a config.json mnistlab wrote")
        recipe, dataset = cfg.get("recipe"), cfg.get("dataset")
        if not isinstance(recipe, dict) or not all(isinstance(recipe.get(k), str) for k in ("preset", "architecture")):
            raise MnistlabError(
                f"{where}: recipe must be an object naming its preset and architecture; "
                "it is not a config.json mnistlab wrote"
            )
        if not isinstance(dataset, dict) or not isinstance(dataset.get("spec"), str):
            raise MnistlabError(
                f'{where}: dataset must be an object with its spec (e.g. "mnist"); '
                "it is not a config.json mnistlab wrote"
            )
        _ = self.class_names  # checked there
        if self.metrics_path.exists() and not isinstance(self.metrics, dict):
            raise MnistlabError(
                f"{self.metrics_path} must hold a JSON object of metrics, not {type(self.metrics).__name__}"
            )

    @property
    def is_line(self) -> bool:
        """A line model (`--preset line`): reads whole lines, used by `read --lines RUN`."""
        from mnistlab.models.presets import LINE_ARCHITECTURES

        try:
            return self.config["recipe"]["architecture"] in LINE_ARCHITECTURES
        except (KeyError, TypeError, MnistlabError):
            return False

    @property
    def is_detector(self) -> bool:
        """A text detector (`--preset detector`): finds the lines of writing before they are read."""
        from mnistlab.models.presets import DETECTOR_ARCHITECTURES

        try:
            return self.config["recipe"]["architecture"] in DETECTOR_ARCHITECTURES
        except (KeyError, TypeError, MnistlabError):
            return False

    def status(self) -> str:
        if self.is_complete:
            return "complete"
        if not self.config_path.exists():
            return "not a run"
        return f"incomplete ({len(self.history)}/{self.config['recipe']['epochs']} epochs)"

    # --- writing ---
    def write_config(self, config: dict) -> None:
        atomic.write_json(self.config_path, config)

    def write_history(self, history: list[dict]) -> None:
        atomic.write_json(self.history_path, history)

    def write_metrics(self, metrics: dict) -> None:
        atomic.write_json(self.metrics_path, metrics)

    def update_metrics(self, extra: dict) -> None:
        metrics = self.metrics
        metrics.update(extra)
        self.write_metrics(metrics)

    def save_model(self, model) -> None:
        with atomic.atomic_path(self.model_path, suffix=".keras") as tmp:
            model.save(tmp)

    def load_model(self):
        """Load the run's model with Keras safe mode: no deserialised Python code is ever run."""
        return load_keras_model(self.model_path)

    @property
    def calibration(self):
        from mnistlab.models.calibration import Calibration

        return Calibration.load(self.calibration_path)


def load_keras_model(path: Path):
    path = Path(path)
    if not path.is_file():
        raise MnistlabError(f"{path} does not exist; is the run finished? (see `mnistlab runs`)")
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise MnistlabError(
                f"{path} contains code (e.g. a Lambda layer) and is refused: loading it could run arbitrary Python"
            ) from None
        raise MnistlabError(f"{path} is not a Keras model mnistlab can load: {_first_line(exc)}") from None
    except Exception as exc:
        raise MnistlabError(f"{path} is not a Keras model mnistlab can load: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def new_run_path(preset: str, root: Path = RUNS_ROOT) -> Path:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = root / f"{stamp}-{preset}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{preset}-{n}"
    return path


def point_latest(run: RunDir) -> None:
    """Make `<parent>/latest` point at this run, swapping the link atomically."""
    parent = run.path.resolve().parent
    link = parent / "latest"
    tmp = parent / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run.path.resolve().name)
    os.replace(tmp, link)


def open_run(arg: str | os.PathLike, need_complete: bool = True) -> RunDir:
    """The run at `arg` (a run directory, or a runs folder's `latest` link)."""
    path = Path(arg)
    if not path.exists():
        hint = " (no run has finished yet: train one with `mnistlab train`)" if path.name == "latest" else ""
        raise MnistlabError(f"{path} does not exist{hint}")
    if not path.is_dir():
        raise MnistlabError(f"{path} is not a run directory")
    run = RunDir(path)
    if not run.config_path.exists():
        raise MnistlabError(f"{path} is not a run directory (it has no config.json)")
    if need_complete and not run.is_complete:
        raise MnistlabError(
            f"{path} is an unfinished run ({run.status()}); finish it with `mnistlab train --resume {path}`"
        )
    if need_complete:
        run.check()
    return run


def list_runs(root: Path = RUNS_ROOT) -> list[RunDir]:
    """Every run directory under `root`, newest first."""
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if p.is_dir() and not p.is_symlink() and (p / "config.json").exists()]
    return sorted(runs, key=lambda r: r.config_path.stat().st_mtime, reverse=True)
