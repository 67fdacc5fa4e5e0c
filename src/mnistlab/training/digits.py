"""The digit classifier as the training core trains it (`DigitTask`): MNIST-style images, optionally
with font-rendered digits and synthetic non-digits pushed towards a uniform answer (outlier
exposure), an in-memory trainer on one device or tf.data across replicas, and at the end the test
set, the calibration (temperature and threshold), the ONNX copy and the plots.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from mnistlab.data.datasets import Dataset
from mnistlab.models.architectures import build_model
from mnistlab.models.presets import Recipe
from mnistlab.runs import RunDir
from mnistlab.training.core import Fit, TrainOptions, backed_up_epochs, enable_determinism, make_optimizer
from mnistlab.training.distribute import is_multiworker

NEGATIVES_SEED = 7919  # training negatives; +1: validation non-digits; +2: rendered training digits


class DigitTask:
    """A classifier of 28x28 images into the dataset's classes (digits, or Fashion-MNIST's)."""

    kind = "classifier"

    def check(self, ds: Dataset, recipe: Recipe, x_val) -> None:
        pass

    def add_data(self, ds: Dataset, recipe: Recipe, x_train, y_train, say):
        if recipe.rendered_digits:
            from mnistlab.data.synth import training_digits

            say(f"  rendering {recipe.rendered_digits:,} font digits for training")
            x_font, y_font = training_digits(recipe.rendered_digits, NEGATIVES_SEED + 2)
            x_train = np.concatenate([x_train, x_font])
            y_train = np.concatenate([y_train, y_font.astype(y_train.dtype)])
        if recipe.negatives:
            from mnistlab.data.negatives import training_negatives

            say(f"  drawing {recipe.negatives:,} synthetic non-digits (letters, scribbles, shapes)")
            x_neg = training_negatives(recipe.negatives, NEGATIVES_SEED, x_train[:10000])
            x_train = np.concatenate([x_train, x_neg])
            y_train = np.concatenate([y_train, np.full(len(x_neg), ds.num_classes, y_train.dtype)])
        return x_train, y_train

    def build(self, run: RunDir, recipe: Recipe, opts: TrainOptions, ds: Dataset, data: tuple, strategy, say) -> Fit:
        x_train, y_train, x_val, y_val = data
        steps_per_epoch = -(-len(x_train) // (recipe.batch_size * strategy.num_replicas_in_sync))
        multiworker = is_multiworker(strategy)
        # One device: the data stays in memory and steps gather by index. Several replicas: tf.data
        # feeds them (the strategy shards and distributes its batches).
        in_memory = strategy.num_replicas_in_sync == 1
        with strategy.scope():
            model = build_model(recipe.architecture, ds.num_classes)
            trainer = model
            if in_memory:
                trainer = InMemoryTrainer(model, x_train, y_train, recipe.augment, opts.seed)
                trainer(np.zeros((1, 28, 28), np.float32))  # built, as BackupAndRestore needs
            trainer.compile(
                optimizer=make_optimizer(recipe, steps_per_epoch),
                loss=outlier_exposure_loss(ds.num_classes, recipe.negative_weight)
                if recipe.negatives
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
            train_ds = training_data(
                x_train, y_train, recipe, opts.seed, recipe.batch_size * strategy.num_replicas_in_sync
            )
        probe = TestProbe(ds.x_test.astype(np.float32), ds.y_test) if in_memory else None
        return Fit(
            model=model,
            trainer=trainer,
            data=train_ds,
            kwargs={
                "validation_data": (x_val, y_val) if x_val is not None else None,
                "steps_per_epoch": steps_per_epoch if in_memory else None,
            },
            callbacks=[probe] if probe else [],
            probe=probe,
            train_examples=len(x_train),
        )

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
        from mnistlab.training.evaluate import evaluate_model
        from mnistlab.training.onnx import ensure_onnx

        x_train, y_train, x_val, y_val = data
        model, history = fit.model, run.history
        x_test = ds.x_test.astype(np.float32)
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
            "train_images": int(fit.train_examples),
        }
        if "val_accuracy" in history[-1]:
            metrics["val_accuracy"] = history[-1]["val_accuracy"]
        if recipe.negatives:
            metrics["train_negatives"] = int(recipe.negatives)
        metrics["calibration"] = calibrate_run(
            run, model, ds, recipe, x_train, y_train, x_val, y_val, test["probabilities"]
        )
        # The model every later answer comes from (onnxruntime), checked against Keras on the test set.
        ensure_onnx(run, model, x_test[:1000])
        run.write_metrics(metrics)

    def plot(self, run: RunDir, recipe: Recipe, ds: Dataset) -> None:
        from mnistlab.training.plots import plot_run

        plot_run(run, ds)


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
        images=images[..., None],
        transforms=transforms,
        output_shape=[28, 28],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
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
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
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
            images = augment_batch(images, tf.stack([tf.constant(self.augment_seed, tf.int64), step]), self.augment)
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


def calibrate_run(
    run: RunDir, model, ds: Dataset, recipe: Recipe, x_train, y_train, x_val, y_val, test_probs: np.ndarray
) -> dict:
    """Fit the run's temperature and acceptance threshold, write calibration.json, return the record.

    Fitted on the validation split; a recipe without one (the tutorial's `seed`) is calibrated on its
    last 5,000 training images, which is recorded, since a model is overconfident on what it saw.
    """
    from mnistlab.models.calibration import calibrate, expected_calibration_error
    from mnistlab.training.evaluate import predict_proba

    if x_val is not None:
        xs, ys, fit_on = x_val, y_val, f"validation split ({len(y_val):,} images)"
    else:
        real = y_train < ds.num_classes
        xs, ys = x_train[real][-5000:], y_train[real][-5000:]
        fit_on = "last 5,000 training images (the recipe holds out no validation split)"
    nondigits = None
    if ds.is_digits:
        from mnistlab.data.negatives import training_negatives

        nondigits = training_negatives(2000, NEGATIVES_SEED + 1, np.asarray(xs[:5000], np.uint8))
    val_probs = predict_proba(model, xs)
    cal = calibrate(
        val_probs, np.asarray(ys), predict_proba(model, nondigits) if nondigits is not None else None, fit_on
    )
    cal_test, _conf_test, accepted_test = cal.judge(test_probs)
    cal.details.update(
        {
            "ece_before_test": round(expected_calibration_error(test_probs, ds.y_test), 5),
            "ece_after_test": round(expected_calibration_error(cal_test, ds.y_test), 5),
            "test_accepted": round(float(accepted_test.mean()), 5),
            "test_accuracy_of_accepted": round(float((cal_test.argmax(1) == ds.y_test)[accepted_test].mean()), 5)
            if accepted_test.any()
            else None,
        }
    )
    cal.save(run.calibration_path)
    from mnistlab.training.plots import plot_reliability

    plot_reliability(run.plots_dir / "reliability.png", val_probs, np.asarray(ys), cal, test_probs, ds.y_test)
    return {"temperature": cal.temperature, "threshold": cal.threshold, "fit_on": fit_on, **cal.details}


def _time_to(history: list[dict], target: float):
    for h in history:
        if h.get("test_accuracy", 0) >= target:
            return h["fit_seconds"]
    return None
