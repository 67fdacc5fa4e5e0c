"""Fit a preset on a dataset into a run directory, with Keras doing the loop, metrics and progress bar.

Timing: `train_seconds` is the wall time of `model.fit` alone, minus the time spent in the
per-epoch test-set probe (`TestProbe`), which only records accuracy for the curves and for
`time_to_99_seconds`; nothing is chosen from it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from . import runs as runs_mod
from .data import Dataset, load_dataset
from .distribute import get_strategy, is_chief, is_multiworker
from .errors import MnistlabError
from .models import Recipe, build_model, get_preset, is_line_recipe
from .runs import RunDir


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

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__}


def make_optimizer(recipe: Recipe, steps_per_epoch: int):
    lr = recipe.learning_rate
    total = max(1, recipe.epochs * steps_per_epoch)
    if recipe.schedule == "warmup_cosine":
        warmup = int(recipe.warmup_epochs * steps_per_epoch)
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate / 20, decay_steps=max(1, total - warmup),
            alpha=0.0, warmup_target=recipe.learning_rate, warmup_steps=warmup)
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


def outlier_exposure_loss(num_classes: int, negative_weight: float):
    """Cross-entropy for digits; for non-digits (label == num_classes), cross-entropy to uniform."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        y = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        logp = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))
        digit_ce = -tf.gather(logp, tf.minimum(y, num_classes - 1), batch_dims=1)
        uniform_ce = -tf.reduce_mean(logp, axis=1)
        return tf.where(y >= num_classes, negative_weight * uniform_ce, digit_ce)

    return loss


class DigitAccuracy(keras.metrics.Metric):
    """Accuracy over the real classes only: synthetic non-digits in a batch are not counted."""

    def __init__(self, num_classes: int, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        import tensorflow as tf

        y = tf.cast(tf.reshape(y_true, [-1]), tf.int64)
        real = tf.cast(y < self.num_classes, tf.float32)
        hit = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), y), tf.float32) * real
        self.correct.assign_add(tf.reduce_sum(hit))
        self.total.assign_add(tf.reduce_sum(real))

    def result(self):
        return self.correct / keras.ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)


def random_affine(images, seed, augment: dict):
    """One random rotation (degrees) + zoom + shift per image, applied as a single resampling."""
    import math

    import tensorflow as tf

    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 4)

    def uniform(k, limit):
        return tf.random.stateless_uniform([n], seeds[k], -limit, limit)

    angle = uniform(0, augment.get("rotate", 0.0) * math.pi / 180)
    scale = 1.0 + uniform(1, augment.get("zoom", 0.0))
    tx, ty = uniform(2, augment.get("translate", 0.0) * 28), uniform(3, augment.get("translate", 0.0) * 28)
    # Inverse map (output -> input pixel) about the image centre, as ImageProjectiveTransform wants.
    c = 13.5
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = c - a0 * c - a1 * c - tx
    b2 = c - b0 * c - b1 * c - ty
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images[..., None], transforms=transforms, output_shape=[28, 28], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")
    return out[..., 0]


def training_data(x, y, recipe: Recipe, seed: int, global_batch: int):
    """A tf.data pipeline of float32 pixels 0..255 (shuffled per epoch, augmented if the recipe says).

    Images are shuffled as uint8 and cast per batch: a quarter of the memory traffic of float32.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(global_batch)
    ds = ds.map(lambda images, labels: (tf.cast(images, tf.float32), labels))
    if recipe.augment:
        # A fresh random stream each epoch, fixed by the seed: augmented runs stay reproducible.
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, noise).map(
            lambda batch, r: (augment_batch(batch[0], r, recipe.augment), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


class InMemoryTrainer(keras.Model):
    """What `fit` drives on one device: the model, with the training set held as one uint8 tensor.

    The input pipeline only shuffles and batches indices; each compiled step gathers its images by
    index, casts them, augments them (seeded by the run's seed and the step number, so augmented runs
    stay reproducible) and then runs Keras's own train step. Measured on 2 CPU cores this removes the
    per-step cost of pulling 28x28 images through a tf.data iterator, which dominates small models
    (`seed`: 32 images a step); compute-bound convnets gain nothing and lose nothing. The wrapped
    model is what gets saved.
    """

    def __init__(self, model, x, y, augment: dict, seed: int):
        import tensorflow as tf

        super().__init__(name=f"{model.name}_trainer")
        self.inner = model
        self.images = tf.constant(x)
        self.labels = tf.constant(y)
        self.augment = dict(augment or {})
        self.augment_seed = int(seed)

    def call(self, inputs, training=False):
        return self.inner(inputs, training=training)

    def train_step(self, indices):
        import tensorflow as tf

        images = tf.cast(tf.gather(self.images, indices), tf.float32)
        if self.augment:
            step = tf.cast(self.optimizer.iterations, tf.int64)
            images = augment_batch(images, tf.stack([tf.constant(self.augment_seed, tf.int64), step]),
                                   self.augment)
        return super().train_step((images, tf.gather(self.labels, indices)))


def index_batches(n: int, seed: int, batch_size: int, epochs: int, start_epoch: int = 0):
    """Batches of indices into an in-memory training set for epochs start_epoch..epochs-1, one stream.

    Epoch e's order is a permutation drawn from (seed, e) alone, so a run resumed at epoch e sees
    exactly the batches the uninterrupted run saw (fit is told the steps per epoch and keeps one
    iterator across epochs).
    """
    import tensorflow as tf

    def order(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(tf.argsort(keys)).batch(batch_size)

    return tf.data.Dataset.range(start_epoch, epochs).flat_map(order).prefetch(tf.data.AUTOTUNE)


def backed_up_epochs(run: RunDir) -> int:
    """Epochs the run's backup holds (where BackupAndRestore resumes), 0 for none."""
    import json

    try:
        return int(json.loads((run.backup_dir / "training_metadata.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def augment_batch(images, seed, augment: dict):
    """The recipe's augmentations for one batch: a random affine map, then low-resolution copies."""
    import tensorflow as tf

    affine_seed, lowres_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if any(augment.get(k) for k in ("translate", "rotate", "zoom")):
        images = random_affine(images, affine_seed, augment)
    if augment.get("lowres"):
        images = random_lowres(images, lowres_seed, augment["lowres"])
    return images


def random_lowres(images, seed, share: float):
    """Replace a random `share` of the images by a blurry copy: shrunk to 8-14 px a side, enlarged back.

    Pictures people bring are often small thumbnails or low-resolution scans; MNIST's are sharp.
    """
    import tensorflow as tf

    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 2)
    side = tf.random.stateless_uniform([], seeds[0], 8, 15, dtype=tf.int32)
    small = tf.image.resize(images[..., None], tf.stack([side, side]), method="area")
    blurry = tf.image.resize(small, [28, 28], method="bilinear")[..., 0]
    pick = tf.random.stateless_uniform([n], seeds[1]) < share
    return tf.where(pick[:, None, None], blurry, images)


def _callbacks(run: RunDir, x_test, y_test, prior_history: list[dict], probe: bool):
    probe_cb = TestProbe(x_test, y_test) if probe else None
    cbs = [
        keras.callbacks.BackupAndRestore(backup_dir=str(run.backup_dir), delete_checkpoint=False),
        HistoryWriter(run, prior_history, probe_cb),
        keras.callbacks.TensorBoard(log_dir=str(run.logs_dir), write_graph=False, profile_batch=0),
    ]
    if probe_cb:
        cbs.insert(0, probe_cb)
    return cbs, probe_cb


class TestProbe(keras.callbacks.Callback):
    """After each epoch, measure test accuracy; the time it takes is kept out of `train_seconds`."""

    def __init__(self, x_test, y_test):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.seconds = 0.0
        self.last = {}

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        loss, acc = self.model.evaluate(self.x_test, self.y_test, batch_size=1024, verbose=0)
        self.last = {"test_loss": float(loss), "test_accuracy": float(acc)}
        self.seconds += time.perf_counter() - start


class HistoryWriter(keras.callbacks.Callback):
    """Writes history.json after every epoch, so a killed run keeps everything it finished."""

    def __init__(self, run: RunDir, prior: list[dict], probe: TestProbe | None):
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


def train(opts: TrainOptions, recipe: Recipe | None = None, resume: RunDir | None = None,
          link_latest: bool = False, recorded_fonts: dict | None = None) -> RunDir:
    """Train into a new run directory (or finish `resume`) and return it, evaluated and plotted.

    `link_latest` also points `<runs folder>/latest` at it (the CLI's `train` asks for that)."""
    if resume is not None:
        cfg = resume.config
        recipe = Recipe.from_dict(cfg["recipe"])
        opts = TrainOptions(preset=recipe.preset, dataset=cfg["dataset"]["spec"], limit=cfg["limit"],
                            seed=cfg["seed"], deterministic=cfg["deterministic"],
                            strategy=cfg.get("strategy", "auto"), verbose=opts.verbose)
    elif recipe is None:
        recipe = Recipe.from_dict(get_preset(opts.preset).recipe.to_dict())
    if opts.epochs is not None:
        recipe.epochs = opts.epochs
    if opts.batch_size is not None:
        recipe.batch_size = opts.batch_size
    _check_recipe(recipe, opts)
    verbose = resolve_verbose(opts.verbose)
    say = (lambda msg: print(msg, flush=True)) if verbose else (lambda msg: None)
    say(f"{'resuming' if resume is not None else 'training'} preset {recipe.preset}: {recipe.epochs} epochs, "
        f"seed {opts.seed}, on {opts.dataset}")

    ds = load_dataset(opts.dataset)
    if resume is not None and ds.sha256 != cfg["dataset"]["sha256"]:
        raise MnistlabError(f"the dataset {opts.dataset!r} changed since {resume.path} started "
                            "(its digest differs); cannot resume on different data")
    x_train, y_train, x_val, y_val = split_train(ds, recipe, opts)
    x_test = ds.x_test.astype(np.float32)
    if not ds.is_digits:  # letters, scribbles and font digits only make sense beside digits
        recipe.negatives = recipe.rendered_digits = 0
    fonts = _check_fonts(recipe, resume.config if resume is not None else recorded_fonts, resume is not None)
    line_model = is_line_recipe(recipe)
    if recipe.rendered_digits and not line_model:
        from .synth import training_digits

        say(f"  rendering {recipe.rendered_digits:,} font digits for training")
        x_font, y_font = training_digits(recipe.rendered_digits, NEGATIVES_SEED + 2)
        x_train = np.concatenate([x_train, x_font])
        y_train = np.concatenate([y_train, y_font.astype(y_train.dtype)])
    if recipe.negatives and not line_model:
        from .negatives import training_negatives

        say(f"  drawing {recipe.negatives:,} synthetic non-digits (letters, scribbles, shapes)")
        x_neg = training_negatives(recipe.negatives, NEGATIVES_SEED, x_train[:10000])
        x_train = np.concatenate([x_train, x_neg])
        y_train = np.concatenate([y_train, np.full(len(x_neg), ds.num_classes, y_train.dtype)])

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
        run.write_config({**_config(recipe, opts, ds, strategy), **({"synthetic_fonts": fonts} if fonts else {})})
    prior = run.history
    say(f"  run directory {run.path}; building the model and compiling its first step")
    if line_model:
        if strategy.num_replicas_in_sync != 1:
            raise MnistlabError("a line model trains on one device; use --strategy default")
        from .linetraining import train_lines

        return train_lines(run, recipe, opts, ds, x_train, y_train, x_val, y_val, fonts, say, verbose,
                           link_latest)

    steps_per_epoch = -(-len(x_train) // (recipe.batch_size * strategy.num_replicas_in_sync))
    multiworker = is_multiworker(strategy)
    # One device: the data stays in memory and steps gather by index. Several replicas: tf.data feeds
    # them (the strategy shards and distributes its batches).
    in_memory = strategy.num_replicas_in_sync == 1
    with strategy.scope():
        model = build_model(recipe.architecture, ds.num_classes)
        trainer = model
        if in_memory:
            trainer = InMemoryTrainer(model, x_train, y_train, recipe.augment, opts.seed)
            trainer(np.zeros((1, 28, 28), np.float32))  # built, as BackupAndRestore needs
        trainer.compile(
            optimizer=make_optimizer(recipe, steps_per_epoch),
            loss=outlier_exposure_loss(ds.num_classes, recipe.negative_weight) if recipe.negatives
            else "sparse_categorical_crossentropy",
            metrics=[DigitAccuracy(ds.num_classes)] if recipe.negatives else ["accuracy"],
            steps_per_execution=1 if multiworker else min(recipe.steps_per_execution, steps_per_epoch),
            jit_compile=recipe.jit_compile and not multiworker,
        )
    if opts.deterministic:
        enable_determinism(before_compile=False)
    if in_memory:
        train_ds = index_batches(len(x_train), opts.seed, recipe.batch_size, recipe.epochs, backed_up_epochs(run))
    else:
        train_ds = training_data(x_train, y_train, recipe, opts.seed,
                                 recipe.batch_size * strategy.num_replicas_in_sync)
    val = (x_val, y_val) if x_val is not None else None
    callbacks, probe = _callbacks(run, x_test, ds.y_test, prior, probe=strategy.num_replicas_in_sync == 1)
    try:
        with quiet_garbage_collector():
            trainer.fit(train_ds, epochs=recipe.epochs, validation_data=val, callbacks=callbacks,
                        steps_per_epoch=steps_per_epoch if in_memory else None, shuffle=False, verbose=verbose)
    except KeyboardInterrupt:
        print(f"\ntraining interrupted; every finished epoch is saved. Continue with "
              f"`mnistlab train --resume {run.path}`", file=sys.stderr)
        raise

    history = run.history
    if len(history) != recipe.epochs or [h["epoch"] for h in history] != list(range(1, recipe.epochs + 1)):
        raise MnistlabError(f"{run.path}: the history does not cover epochs 1..{recipe.epochs}")
    run.save_model(model)
    if not chief:
        return run
    from .evaluate import evaluate_model

    say("  evaluating, calibrating, writing the ONNX model and the plots")
    test = evaluate_model(model, x_test, ds.y_test)
    metrics = {
        "preset": recipe.preset,
        "dataset": opts.dataset,
        "epochs": recipe.epochs,
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "train_seconds": history[-1]["fit_seconds"],
        "time_to_99_seconds": _time_to(history, 0.99),
        "time_to_99_source": "per-epoch test probe, excluded from train_seconds",
        "params": int(model.count_params()),
        "train_images": int(len(x_train)),
    }
    if "val_accuracy" in history[-1]:
        metrics["val_accuracy"] = history[-1]["val_accuracy"]
    if recipe.negatives:
        metrics["train_negatives"] = int(recipe.negatives)
    metrics["calibration"] = calibrate_run(run, model, ds, recipe, x_train, y_train, x_val, y_val,
                                           test["probabilities"])
    from .inference import ensure_onnx

    # The model every later answer comes from (onnxruntime), checked against Keras on the test set.
    ensure_onnx(run, model, x_test[:1000])
    run.write_metrics(metrics)
    _clear_backup(run)
    if link_latest:
        runs_mod.point_latest(run)
    from .plots import plot_run

    plot_run(run, ds)
    return run


NEGATIVES_SEED = 7919  # training negatives; +1: validation non-digits; +2: rendered training digits


def calibrate_run(run: RunDir, model, ds: Dataset, recipe: Recipe, x_train, y_train, x_val, y_val,
                  test_probs: np.ndarray) -> dict:
    """Fit the run's temperature and acceptance threshold, write calibration.json, return the record.

    Fitted on the validation split; a recipe without one (the tutorial's `seed`) is calibrated on its
    last 5,000 training images, which is recorded, since a model is overconfident on what it saw.
    """
    from .calibration import calibrate, expected_calibration_error
    from .evaluate import predict_proba

    if x_val is not None:
        xs, ys, fit_on = x_val, y_val, f"validation split ({len(y_val):,} images)"
    else:
        real = y_train < ds.num_classes
        xs, ys = x_train[real][-5000:], y_train[real][-5000:]
        fit_on = "last 5,000 training images (the recipe holds out no validation split)"
    nondigits = None
    if ds.is_digits:
        from .negatives import training_negatives

        nondigits = training_negatives(2000, NEGATIVES_SEED + 1, np.asarray(xs[:5000], np.uint8))
    val_probs = predict_proba(model, xs)
    cal = calibrate(val_probs, np.asarray(ys), predict_proba(model, nondigits) if nondigits is not None else None,
                    fit_on)
    cal_test, conf_test, accepted_test = cal.judge(test_probs)
    cal.details.update({
        "ece_before_test": round(expected_calibration_error(test_probs, ds.y_test), 5),
        "ece_after_test": round(expected_calibration_error(cal_test, ds.y_test), 5),
        "test_accepted": round(float(accepted_test.mean()), 5),
        "test_accuracy_of_accepted": round(float((cal_test.argmax(1) == ds.y_test)[accepted_test].mean()), 5)
        if accepted_test.any() else None,
    })
    cal.save(run.calibration_path)
    from .plots import plot_reliability

    plot_reliability(run.plots_dir / "reliability.png", val_probs, np.asarray(ys), cal, test_probs, ds.y_test)
    return {"temperature": cal.temperature, "threshold": cal.threshold, "fit_on": fit_on, **cal.details}


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


def _check_recipe(recipe: Recipe, opts: TrainOptions) -> None:
    if recipe.epochs < 1:
        raise MnistlabError("--epochs must be at least 1")
    if recipe.batch_size < 1:
        raise MnistlabError("--batch-size must be at least 1")


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
        "dataset": {"spec": opts.dataset, "sha256": ds.sha256, "classes": list(ds.class_names),
                    "source": ds.source},
        "versions": library_versions(),
        "machine": {"platform": platform.platform(), "processor": _cpu_model(), "cpus": os.cpu_count()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _check_fonts(recipe: Recipe, recorded: dict | None, resuming: bool) -> list[dict] | None:
    """The training fonts this run draws from (None when it draws none); resuming on other fonts is
    refused, re-training a recorded recipe on other fonts is said on stderr."""
    if not (recipe.negatives or recipe.rendered_digits):
        return None
    from .fonts import FONT_PACKAGES, fingerprint, fingerprint_changes

    current = fingerprint("train")
    if recorded and recorded.get("synthetic_fonts") is not None:
        change = fingerprint_changes(recorded["synthetic_fonts"], current)
        if change and resuming:
            raise MnistlabError(f"{change}; the synthetic data would not be the same. Install the font packages "
                                f"the run was made with ({' '.join(FONT_PACKAGES['train'])}) or train a new run")
        if change:
            print(f"mnistlab: note: {change}: the synthetic data, and so the result, will differ",
                  file=sys.stderr, flush=True)
    return current


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _time_to(history: list[dict], target: float):
    for h in history:
        if h.get("test_accuracy", 0) >= target:
            return h["fit_seconds"]
    return None


def _clear_backup(run: RunDir) -> None:
    import shutil

    shutil.rmtree(run.backup_dir, ignore_errors=True)
