"""The training core every model kind shares: one `fit_run` that trains a `Task` into a run directory.

A task says what is particular to one kind of model (the digit classifier in `digits.py`, the line
model in `lines.py`): which data it adds, how it builds and compiles its model and feeds `fit`, and
what it does at the end (evaluate, calibrate or choose a threshold, write the ONNX copy, plot). The
core does the rest the same way for all of them, as Keras' own `fit` serves every model: the recipe
and its checks, the dataset and its validation split, the fonts the synthetic data draws from, seeds
and determinism, the run directory and its config, the callbacks (BackupAndRestore, a history written
after every epoch, TensorBoard), the fit itself with its interruption message, resume, and the
`latest` link.

Timing: `train_seconds` is the wall time of `fit` alone, minus the time a task's per-epoch probe
spends measuring (the digit classifier's test-set probe), which only records accuracy for the curves.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import keras
import numpy as np

from mnistlab import runs as runs_mod
from mnistlab.data.datasets import Dataset, load_dataset
from mnistlab.errors import MnistlabError
from mnistlab.models.presets import Recipe, get_preset
from mnistlab.runs import RunDir
from mnistlab.training.distribute import get_strategy, is_chief


@dataclass
class TrainOptions:
    preset: str = "seed"
    dataset: str = "mnist"
    epochs: int | None = None
    batch_size: int | None = None
    limit: int | None = None
    seed: int = 0
    out: str | None = None
    deterministic: bool = True
    strategy: str = "auto"
    verbose: int | str = "auto"
    start_from: str | None = None  # a finished run whose weights the model starts from (fine-tuning)


def resolve_verbose(verbose: int | str) -> int:
    """Keras verbosity: "auto" is a live progress bar on a terminal and one plain line per epoch
    when the output goes to a file or a pipe (no carriage returns, no colour codes)."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    try:
        return int(verbose)
    except (TypeError, ValueError):
        raise MnistlabError(f"verbose must be auto, 0, 1 or 2, not {verbose!r}") from None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy, TF and Keras."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def enable_determinism(before_compile: bool) -> None:
    """Turn on TF op determinism.

    Keras compiles without XLA when determinism is already on, because some XLA GPU kernels are not
    deterministic. XLA's CPU kernels are, so on a CPU-only machine determinism is switched on after
    `compile()` and the model keeps XLA; with a GPU it is switched on before and XLA is off.
    """
    import tensorflow as tf

    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if before_compile == has_gpu:
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def quiet_garbage_collector():
    """Keep Python's cycle collector off the objects that exist before `fit` while it runs.

    TensorFlow and Keras leave a great many long-lived objects behind after import and tracing; a full
    collection that walks them all can stall a short fit for seconds (measured: 2.7-4.4 s of a 19 s
    epoch). Freezing moves them out of the collector's view; they are handed back afterwards.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def library_versions() -> dict:
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def make_optimizer(recipe: Recipe, steps_per_epoch: int):
    lr = recipe.learning_rate
    total = max(1, recipe.epochs * steps_per_epoch)
    if recipe.schedule == "warmup_cosine":
        warmup = int(recipe.warmup_epochs * steps_per_epoch)
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate / 20,
            decay_steps=max(1, total - warmup),
            alpha=0.0,
            warmup_target=recipe.learning_rate,
            warmup_steps=warmup,
        )
    elif recipe.schedule == "one_cycle":
        lr = OneCycle(recipe.learning_rate, total, warmup_fraction=recipe.warmup_epochs / recipe.epochs)
    elif recipe.schedule != "constant":
        raise MnistlabError(f"unknown schedule {recipe.schedule!r} (constant, warmup_cosine or one_cycle)")
    betas = {"beta_1": recipe.beta_1, "beta_2": recipe.beta_2}
    if recipe.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=recipe.weight_decay, **betas)
    return keras.optimizers.Adam(learning_rate=lr, **betas)


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from peak/25 to the peak, then linear annealing to peak/1e4 (one-cycle policy)."""

    def __init__(self, peak: float, total_steps: int, warmup_fraction: float = 0.25):
        self.peak, self.total, self.warmup_fraction = peak, total_steps, warmup_fraction

    def __call__(self, step):
        import tensorflow as tf

        step = tf.cast(step, tf.float32)
        up = max(1.0, self.warmup_fraction * self.total)
        down = max(1.0, self.total - up)
        start, end = self.peak / 25, self.peak / 1e4
        rising = start + (self.peak - start) * step / up
        falling = self.peak + (end - self.peak) * tf.minimum((step - up) / down, 1.0)
        return tf.where(step < up, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total, "warmup_fraction": self.warmup_fraction}


def train_seed(base: int, seed: int) -> int:
    """The seed a run's synthetic training data are drawn from: `base` for seed 0 (the bundled models'),
    else base + 10 * seed, never base + 1..3, which draw the validation and test sets: a run with --seed 1
    must not train on its own validation set's texts and conditions."""
    return base + 10 * seed


def backed_up_epochs(run: RunDir) -> int:
    """Epochs the run's backup holds (where BackupAndRestore resumes), 0 for none."""
    import json

    try:
        return int(json.loads((run.backup_dir / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


class HistoryWriter(keras.callbacks.Callback):
    """Writes history.json after every epoch, so a killed run keeps everything it finished."""

    def __init__(self, run: RunDir, prior: list[dict], probe=None):
        super().__init__()
        self.run, self.history, self.probe = run, list(prior), probe
        self.offset = prior[-1]["fit_seconds"] if prior else 0.0
        self.started = None

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.started - (self.probe.seconds if self.probe else 0.0)
        entry = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        if self.probe:
            entry.update(self.probe.last)
        entry["fit_seconds"] = round(self.offset + elapsed, 3)
        # BackupAndRestore resumes at the first unfinished epoch, so an entry for this epoch can only
        # exist if the process died between the backup and this write: replace it.
        self.history = [h for h in self.history if h["epoch"] < epoch + 1] + [entry]
        self.run.write_history(self.history)


def split_train(ds: Dataset, recipe: Recipe, opts: TrainOptions):
    """Training pixels as uint8 (the first N with --limit) and the held-out validation split as float32."""
    x, y = ds.x_train, ds.y_train
    if opts.limit is not None:
        if opts.limit < 1:
            raise MnistlabError("--limit must be a positive number of training images")
        x, y = x[: opts.limit], y[: opts.limit]
    x_val = y_val = None
    if recipe.validation_split:
        n_val = int(round(len(x) * recipe.validation_split))
        if n_val < 1 or n_val >= len(x):
            raise MnistlabError("the training set is too small to hold out a validation split")
        # The held-out images are the last ones, so the split never depends on the shuffle.
        x, x_val, y, y_val = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
        x_val = x_val.astype(np.float32)
    return x, y, x_val, y_val


def held_out(run: RunDir) -> tuple[Recipe, Dataset, np.ndarray, np.ndarray]:
    """A run's recipe, its dataset and the validation split it held out, from its config alone."""
    cfg = run.config
    recipe = Recipe.from_dict(cfg["recipe"])
    ds = load_dataset(cfg["dataset"]["spec"])
    _, _, x_val, y_val = split_train(ds, recipe, TrainOptions(limit=cfg.get("limit")))
    return recipe, ds, x_val, y_val


def _check_recipe(recipe: Recipe, opts: TrainOptions) -> None:
    if recipe.epochs < 1:
        raise MnistlabError("--epochs must be at least 1")
    if recipe.batch_size < 1:
        raise MnistlabError("--batch-size must be at least 1")
    if recipe.start_from:
        _check_start(recipe)


def _check_start(recipe: Recipe) -> None:
    """A run to start from must be finished, of the same architecture, and (where the recipe names a
    digest) hold the very weights the recipe was first trained from."""
    from mnistlab.runs import open_run
    from mnistlab.training.onnx import keras_digest

    src = open_run(recipe.start_from)
    theirs = src.config.get("recipe", {}).get("architecture")
    if theirs != recipe.architecture:
        raise MnistlabError(
            f"{src.path} holds a {theirs} model; preset {recipe.preset} trains {recipe.architecture}: "
            "start from a run of the same architecture"
        )
    digest = keras_digest(src)
    if recipe.start_sha256 and digest != recipe.start_sha256:
        raise MnistlabError(
            f"{src.model_path} changed since this recipe started from it (its SHA-256 differs); "
            "the same start is gone, so the same result cannot be promised"
        )
    recipe.start_sha256 = digest


def _config(recipe: Recipe, opts: TrainOptions, ds: Dataset, strategy) -> dict:
    import datetime as dt

    return {
        "recipe": recipe.to_dict(),
        "seed": opts.seed,
        "deterministic": opts.deterministic,
        "limit": opts.limit,
        "strategy": opts.strategy,
        "replicas": int(strategy.num_replicas_in_sync),
        "global_batch_size": recipe.batch_size * int(strategy.num_replicas_in_sync),
        "dataset": {"spec": opts.dataset, "sha256": ds.sha256, "classes": list(ds.class_names), "source": ds.source},
        "versions": library_versions(),
        "machine": {"platform": platform.platform(), "processor": _cpu_model(), "cpus": os.cpu_count()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _check_fonts(recipe: Recipe, recorded: dict | None, resuming: bool) -> list[dict] | None:
    """The training fonts this run draws from (None when it draws none); resuming on other fonts is
    refused, re-training a recorded recipe on other fonts is said on stderr."""
    if not (recipe.negatives or recipe.rendered_digits or recipe.lines or recipe.pages):
        return None
    from mnistlab.data.fonts import FONT_PACKAGES, fingerprint, fingerprint_changes

    current = fingerprint("train")
    if recorded and recorded.get("synthetic_fonts") is not None:
        change = fingerprint_changes(recorded["synthetic_fonts"], current)
        if change and resuming:
            raise MnistlabError(
                f"{change}; the synthetic data would not be the same. Install the font packages "
                f"the run was made with ({' '.join(FONT_PACKAGES['train'])}) or train a new run"
            )
        if change:
            print(
                f"mnistlab: note: {change}: the synthetic data, and so the result, will differ",
                file=sys.stderr,
                flush=True,
            )
    return current


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def clear_backup(run: RunDir) -> None:
    import shutil

    shutil.rmtree(run.backup_dir, ignore_errors=True)


@dataclass
class Fit:
    """What a task hands the core to fit: `model` is saved, `trainer` is fitted (the model itself, or a
    wrapper around it), `data` and `kwargs` go to `trainer.fit`, `callbacks` run before the core's own,
    and `probe` (if any) measures during the fit, its time kept out of `train_seconds`."""

    model: object
    trainer: object
    data: object
    kwargs: dict = field(default_factory=dict)
    callbacks: list = field(default_factory=list)
    probe: object = None
    train_examples: int = 0


def draw_in_chunks(make_chunk, n: int, seed: int, chunk: int, args: tuple, workers: int = 2) -> list:
    """`make_chunk((count, seed_k, *args))` for `n` examples in chunks of `chunk`, chunk k seeded from
    (seed, k), on `workers` spawned processes: the results in order, never depending on the workers."""
    tasks = [
        (min(chunk, n - start), int(np.random.SeedSequence([seed, k]).generate_state(1)[0]), *args)
        for k, start in enumerate(range(0, n, chunk))
    ]
    if workers > 1 and len(tasks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(make_chunk, tasks))
    return [make_chunk(t) for t in tasks]


def synthetic_path(folder: str, kind: str, key: tuple, x: np.ndarray, y: np.ndarray) -> Path:
    """Where synthetic data drawn from digits (x, y) and keyed by `key` is kept:
    $MNISTLAB_HOME/<folder>/<kind>-<digest>.npz."""
    import hashlib

    from mnistlab.data.datasets import mnistlab_home

    full = repr((*key, kind, hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()))
    return mnistlab_home() / folder / f"{kind}-{hashlib.sha256(full.encode()).hexdigest()[:16]}.npz"


def run_summary(run: RunDir, model, kind: str, wall_start: float) -> dict:
    """The fields every run's metrics.json opens with."""
    cfg, history = run.config, run.history
    return {
        "preset": cfg["recipe"]["preset"],
        "dataset": cfg["dataset"]["spec"],
        "epochs": cfg["recipe"]["epochs"],
        "kind": kind,
        "train_seconds": history[-1]["fit_seconds"],
        "wall_seconds": round(time.perf_counter() - wall_start, 1),
        "params": int(model.count_params()),
    }


class DrawnTask:
    """What the tasks whose examples are drawn from MNIST's digits share (a line model, a detector):
    digits to draw from, a validation split to choose a threshold on, one device."""

    what = "this model"  # the kind, in words

    def check(self, ds: Dataset, recipe: Recipe, x_val) -> None:
        if not ds.is_digits or ds.num_classes != 10:
            raise MnistlabError(f"{self.what} is drawn from handwritten digits: train it on mnist")
        if x_val is None:
            raise MnistlabError(f"{self.what} needs a validation split to choose its threshold")

    def add_data(self, ds: Dataset, recipe: Recipe, x_train, y_train, say) -> tuple[np.ndarray, np.ndarray]:
        return x_train, y_train  # its examples are drawn from these digits once the seeds are set

    def one_device(self, strategy) -> None:
        if strategy.num_replicas_in_sync != 1:
            raise MnistlabError(f"{self.what} trains on one device; use --strategy default")


class Task(Protocol):
    """One kind of model, as the core trains it."""

    kind: str

    def check(self, ds: Dataset, recipe: Recipe, x_val) -> None:
        """Refuse data or recipes this kind cannot train on (before anything is written)."""

    def add_data(self, ds: Dataset, recipe: Recipe, x_train, y_train, say) -> tuple[np.ndarray, np.ndarray]:
        """Training examples drawn beside the dataset's (before the seeds are set)."""

    def build(self, run: RunDir, recipe: Recipe, opts: TrainOptions, ds: Dataset, data: tuple, strategy, say) -> Fit:
        """The compiled model and what `fit` needs; the seeds are set and the run directory exists."""

    def finish(
        self,
        run: RunDir,
        fit: Fit,
        recipe: Recipe,
        opts: TrainOptions,
        ds: Dataset,
        data: tuple,
        say,
        wall_start: float,
    ) -> None:
        """After the fit: judge the model, write the ONNX copy and metrics.json."""

    def plot(self, run: RunDir, recipe: Recipe, ds: Dataset) -> None:
        """The run's plots."""


def resolve(opts: TrainOptions, recipe: Recipe | None, resume: RunDir | None) -> tuple[TrainOptions, Recipe]:
    """The options and recipe a run trains with: a resumed run's own, else `recipe` or the preset's,
    with --epochs and --batch-size applied."""
    if resume is not None:
        cfg = resume.config
        recipe = Recipe.from_dict(cfg["recipe"])
        opts = TrainOptions(
            preset=recipe.preset,
            dataset=cfg["dataset"]["spec"],
            limit=cfg["limit"],
            seed=cfg["seed"],
            deterministic=cfg["deterministic"],
            strategy=cfg.get("strategy", "auto"),
            verbose=opts.verbose,
        )
    elif recipe is None:
        recipe = Recipe.from_dict(get_preset(opts.preset).recipe.to_dict())
    if opts.epochs is not None:
        recipe.epochs = opts.epochs
    if opts.batch_size is not None:
        recipe.batch_size = opts.batch_size
    if opts.start_from is not None:
        recipe.start_from, recipe.start_sha256 = str(opts.start_from), ""
    _check_recipe(recipe, opts)
    return opts, recipe


def fit_run(
    task: Task,
    opts: TrainOptions,
    recipe: Recipe,
    resume: RunDir | None = None,
    link_latest: bool = False,
    recorded_fonts: dict | None = None,
) -> RunDir:
    """Train `task` into a new run directory (or finish `resume`) and return it, judged and plotted."""
    verbose = resolve_verbose(opts.verbose)
    say = (lambda msg: print(msg, flush=True)) if verbose else (lambda msg: None)
    say(
        f"{'resuming' if resume is not None else 'training'} preset {recipe.preset}: {recipe.epochs} epochs, "
        f"seed {opts.seed}, on {opts.dataset}"
    )

    ds = load_dataset(opts.dataset)
    if resume is not None and ds.sha256 != resume.config["dataset"]["sha256"]:
        raise MnistlabError(
            f"the dataset {opts.dataset!r} changed since {resume.path} started "
            "(its digest differs); cannot resume on different data"
        )
    x_train, y_train, x_val, y_val = split_train(ds, recipe, opts)
    if not ds.is_digits:  # letters, scribbles and font digits only make sense beside digits
        recipe.negatives = recipe.rendered_digits = 0
    task.check(ds, recipe, x_val)
    fonts = _check_fonts(recipe, resume.config if resume is not None else recorded_fonts, resume is not None)
    x_train, y_train = task.add_data(ds, recipe, x_train, y_train, say)

    strategy = get_strategy(opts.strategy)
    seed_everything(opts.seed)
    if opts.deterministic:
        enable_determinism(before_compile=True)
    chief = is_chief(strategy)

    run = resume or RunDir(Path(opts.out) if opts.out else runs_mod.new_run_path(recipe.preset))
    if not chief:
        # Only the chief writes the run directory; other workers keep their state beside it.
        run = RunDir(run.path.with_name(f"{run.path.name}-worker{strategy.cluster_resolver.task_id}"))
    if resume is None:
        if run.path.exists() and any(run.path.iterdir()):
            raise MnistlabError(f"{run.path} already exists and is not empty; choose another --out")
        run.path.mkdir(parents=True, exist_ok=True)
        drawn = task.generator(recipe) if hasattr(task, "generator") else None
        run.write_config(
            {
                **_config(recipe, opts, ds, strategy),
                **({"synthetic_fonts": fonts} if fonts else {}),
                **({"generator": drawn} if drawn else {}),
            }
        )
    prior = run.history
    say(f"  run directory {run.path}; building the model and compiling its first step")
    data = (x_train, y_train, x_val, y_val)
    fit = task.build(run, recipe, opts, ds, data, strategy, say)
    if recipe.start_from and backed_up_epochs(run) == 0:
        say(f"  starting from the weights of {recipe.start_from}")
        with warnings.catch_warnings():  # the saved optimizer's state is not wanted: a new schedule starts
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            fit.model.load_weights(str(RunDir(Path(recipe.start_from)).model_path))
    callbacks = [
        *fit.callbacks,
        keras.callbacks.BackupAndRestore(backup_dir=str(run.backup_dir), delete_checkpoint=False),
        HistoryWriter(run, prior, fit.probe),
        keras.callbacks.TensorBoard(log_dir=str(run.logs_dir), write_graph=False, profile_batch=0),
    ]
    wall_start = time.perf_counter()
    try:
        with quiet_garbage_collector():
            fit.trainer.fit(
                fit.data, epochs=recipe.epochs, callbacks=callbacks, shuffle=False, verbose=verbose, **fit.kwargs
            )
    except KeyboardInterrupt:
        print(
            f"\ntraining interrupted; every finished epoch is saved. Continue with "
            f"`mnistlab train --resume {run.path}`",
            file=sys.stderr,
        )
        raise

    history = run.history
    if len(history) != recipe.epochs or [h["epoch"] for h in history] != list(range(1, recipe.epochs + 1)):
        raise MnistlabError(f"{run.path}: the history does not cover epochs 1..{recipe.epochs}")
    run.save_model(fit.model)
    if not chief:
        return run
    task.finish(run, fit, recipe, opts, ds, data, say, wall_start)
    clear_backup(run)
    if link_latest:
        runs_mod.point_latest(run)
    task.plot(run, recipe, ds)
    return run
