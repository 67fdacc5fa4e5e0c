"""Fit a text detector (the `unet_detector` recipe) on synthetic pages into a run directory.

The run looks like any other (config.json, history.json, metrics.json, model.keras, model.onnx,
logs/, plots/), plus `detector.json`: the map stride and the threshold chosen on validation pages.
Pages come from `data.pages`: training pages written with MNIST's training split and the `train`
fonts; validation pages with the held-out validation digits (another seed); test pages (reported,
never chosen on) with MNIST's test digits. Nothing is drawn from the `eval` fonts or UCI.

Each step trains on `CROP`-pixel windows cut from the pages (a fully convolutional model learns the
same from a window as from the page, at less than half the cost), the window and the order drawn
from (seed, epoch), so a resumed run sees what an uninterrupted one would.
"""

from __future__ import annotations

import keras
import numpy as np

from mnistlab import atomic
from mnistlab.data.pages import OUT_STRIDE, SIZE, standardize
from mnistlab.errors import MnistlabError
from mnistlab.training.core import (
    DrawnTask,
    Fit,
    backed_up_epochs,
    draw_in_chunks,
    held_out,
    make_optimizer,
    run_summary,
    synthetic_path,
    train_seed,
)

PAGES_SEED = 611953  # training pages; +1 validation pages; +2 test pages
CHECK_PAGES = 400  # validation pages, and as many test pages (fewer for a small --pages)
CHUNK = 250  # pages per generation task (the result never depends on how many run at once)
CROP = 256  # training windows are CROP x CROP pixels
GENERATOR_VERSION = 1  # part of the page cache's key: bump it whenever `data.pages` draws differently


def compose_pages(n: int, seed: int, x, y, fonts, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """`n` pages in chunks of CHUNK (chunk k drawn with seed (seed, k)), on `workers` processes."""
    from mnistlab.data.pages import make_chunk

    results = draw_in_chunks(make_chunk, n, seed, CHUNK, (x, y, fonts, None), workers)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def cached_pages(kind: str, n: int, seed: int, x, y, fonts, say) -> tuple[np.ndarray, np.ndarray]:
    """`compose_pages`, kept under $MNISTLAB_HOME/pages/ keyed by everything it depends on."""
    path = synthetic_path("pages", kind, (GENERATOR_VERSION, n, seed, [f.name for f in fonts]), x, y)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["photos"], z["cores"]
        except (OSError, ValueError, KeyError):
            pass  # remade below
    say(f"  drawing {n:,} {kind} pages")
    photos, cores = compose_pages(n, seed, x, y, fonts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, photos=photos, cores=cores)
    return photos, cores


class PageWindows:
    """Batches of CROP windows of the training pages; order and windows drawn from (seed, epoch)."""

    def __init__(self, photos: np.ndarray, cores: np.ndarray, batch_size: int, seed: int):
        self.photos, self.cores, self.batch_size, self.seed = photos, cores, batch_size, seed

    def __len__(self):
        return len(self.photos) // self.batch_size

    def epoch(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.photos))
        steps = (SIZE - CROP) // 16 + 1
        for i in range(len(self)):
            idx = np.sort(order[i * self.batch_size : (i + 1) * self.batch_size])
            oy, ox = rng.integers(0, steps, 2) * 16
            x = np.stack([standardize(p[oy : oy + CROP, ox : ox + CROP]) for p in self.photos[idx]])
            c = OUT_STRIDE
            y = self.cores[idx, oy // c : (oy + CROP) // c, ox // c : (ox + CROP) // c].astype(np.float32)
            yield x[..., None], y[..., None]

    def dataset(self, start_epoch: int, epochs: int):
        import tensorflow as tf

        def batches():
            for e in range(start_epoch, epochs):
                yield from self.epoch(e)

        cells = CROP // OUT_STRIDE
        spec = (
            tf.TensorSpec((None, CROP, CROP, 1), tf.float32),
            tf.TensorSpec((None, cells, cells, 1), tf.float32),
        )
        return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def core_loss(y_true, logits):
    """Binary cross-entropy plus the Dice loss of the map: thin lines are a small share of a page, and
    the Dice term keeps the model from answering 'paper' everywhere."""
    p = keras.ops.sigmoid(logits)
    bce = keras.ops.mean(keras.losses.binary_crossentropy(y_true, logits, from_logits=True))
    inter = keras.ops.sum(p * y_true)
    dice = 1.0 - (2.0 * inter + 1.0) / (keras.ops.sum(p) + keras.ops.sum(y_true) + 1.0)
    return bce + dice


def predict_maps(model, photos: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Core probabilities (N, SIZE/4, SIZE/4) of whole pages."""
    out = []
    for s in range(0, len(photos), batch_size):
        x = np.stack([standardize(p) for p in photos[s : s + batch_size]])[..., None]
        out.append(1.0 / (1.0 + np.exp(-np.asarray(model(x, training=False))[..., 0])))
    return np.concatenate(out)


def score(prob: np.ndarray, cores: np.ndarray, threshold: float) -> dict:
    """Cells: intersection over union. Lines (connected cores): the share of written lines found
    (a found core covers part of them) and the share of found cores that are lines; pages whose
    lines were all found, each once."""
    import cc3d

    found = prob > threshold
    truth = cores > 0
    iou = float((found & truth).sum() / max(1, (found | truth).sum()))
    lines = hits = kept = pieces = whole = 0
    for f, t in zip(found, truth):
        tl = cc3d.connected_components(t.astype(np.uint8), connectivity=8)
        fl = cc3d.connected_components(f.astype(np.uint8), connectivity=8)
        n_true, n_found = int(tl.max()), int(fl.max())
        got = [bool(f[tl == k].any()) for k in range(1, n_true + 1)]
        real = [bool(t[fl == k].any()) for k in range(1, n_found + 1)]
        lines += n_true
        hits += sum(got)
        pieces += n_found
        kept += sum(real)
        whole += int(all(got) and n_found == n_true)
    return {
        "iou": iou,
        "line_recall": hits / max(1, lines),
        "line_precision": kept / max(1, pieces),
        "pages_exact": whole / max(1, len(prob)),
    }


def choose_threshold(prob: np.ndarray, cores: np.ndarray) -> float:
    """The map threshold with the most validation pages whose lines were each found once (ties: the
    best cell IoU)."""
    best = max(
        (round(t, 2) for t in np.arange(0.2, 0.81, 0.05)),
        key=lambda t: (score(prob, cores, t)["pages_exact"], score(prob, cores, t)["iou"]),
    )
    return float(best)


class DetectorTask(DrawnTask):
    """A text detector (`unet_detector`) trained on synthetic pages; the core does the rest."""

    kind = "detector"
    what = "a detector"

    def generator(self, recipe) -> dict:
        """Which way the synthetic pages were drawn (the version in the page cache's key), recorded in
        the run's config."""
        return {"pages": GENERATOR_VERSION}

    def check(self, ds, recipe, x_val) -> None:
        super().check(ds, recipe, x_val)
        if recipe.pages < recipe.batch_size:
            raise MnistlabError(
                f"a detector needs at least one batch of pages ({recipe.batch_size}), not {recipe.pages}"
            )

    def build(self, run, recipe, opts, ds, data, strategy, say) -> Fit:
        from mnistlab.data.fonts import font_files
        from mnistlab.models.architectures import build_model

        self.one_device(strategy)
        x_train, y_train, x_val, y_val = data
        fonts = font_files("train")
        photos, cores = cached_pages(
            "train", recipe.pages, train_seed(PAGES_SEED, opts.seed), x_train, y_train, fonts, say
        )
        n_check = min(CHECK_PAGES, max(32, recipe.pages // 20))
        val = cached_pages("validation", n_check, PAGES_SEED + 1, np.round(x_val).astype(np.uint8), y_val, fonts, say)
        windows = PageWindows(photos, cores, recipe.batch_size, opts.seed)
        model = build_model(recipe.architecture, 1)
        model.compile(optimizer=make_optimizer(recipe, len(windows)), loss=core_loss, jit_compile=False)
        say(f"  {len(photos):,} training pages, {n_check:,} validation pages; {model.count_params():,} parameters")
        return Fit(
            model=model,
            trainer=model,
            data=windows.dataset(backed_up_epochs(run), recipe.epochs),
            kwargs={"steps_per_epoch": len(windows)},
            callbacks=[PageScore(*val)],
            train_examples=len(photos),
        )

    def finish(self, run, fit, recipe, opts, ds, data, say, wall_start: float) -> None:
        finish(run, fit.model, say, n_train=fit.train_examples, wall_start=wall_start)

    def plot(self, run, recipe, ds) -> None:
        from mnistlab.training.plots import plot_detector_curves

        plot_detector_curves(
            run.plots_dir / "curves.png",
            run.history,
            run.metrics["test_pages_exact"],
            f"{recipe.preset}: {run.path.name}",
        )


class PageScore(keras.callbacks.Callback):
    """After each epoch: the validation pages' line recall and exact pages at a 0.5 threshold."""

    def __init__(self, photos, cores):
        super().__init__()
        self.photos, self.cores = photos, cores

    def on_epoch_end(self, epoch, logs=None):
        s = score(predict_maps(self.model, self.photos), self.cores, 0.5)
        if logs is not None:
            logs["val_pages_exact"] = s["pages_exact"]
            logs["val_line_recall"] = s["line_recall"]


def finish(run, model, say, n_train: int, wall_start: float) -> dict:
    """After the fit: the map threshold chosen on validation pages, the test pages scored, the ONNX
    model written and checked, detector.json and metrics.json. Depends only on the run's config and model."""
    from mnistlab.data.fonts import font_files
    from mnistlab.training.onnx import ensure_detector_onnx

    recipe, ds, x_val, y_val = held_out(run)
    fonts = font_files("train")
    n_check = min(CHECK_PAGES, max(32, recipe.pages // 20))
    say("  choosing the map threshold on validation pages; scoring the test pages")
    val_photos, val_cores = cached_pages(
        "validation", n_check, PAGES_SEED + 1, np.round(x_val).astype(np.uint8), y_val, fonts, say
    )
    val_prob = predict_maps(model, val_photos)
    threshold = choose_threshold(val_prob, val_cores)
    val = score(val_prob, val_cores, threshold)
    test_photos, test_cores = cached_pages("test", n_check, PAGES_SEED + 2, ds.x_test, ds.y_test, fonts, say)
    test = score(predict_maps(model, test_photos), test_cores, threshold)
    atomic.write_json(
        run.path / "detector.json",
        {
            "stride": OUT_STRIDE,
            "threshold": threshold,
            "chosen_on": f"{n_check} validation pages: the most pages whose lines were each found once",
        },
    )
    ensure_detector_onnx(run, model, val_photos[:16])
    history = run.history
    metrics = {
        **run_summary(run, model, "detector", wall_start),
        "train_pages": n_train,
        "threshold": threshold,
        "val_pages_exact": round(val["pages_exact"], 4),
        "val_line_recall": round(val["line_recall"], 4),
        "test_pages": len(test_photos),
        "test_iou": round(test["iou"], 4),
        "test_line_recall": round(test["line_recall"], 4),
        "test_line_precision": round(test["line_precision"], 4),
        "test_pages_exact": round(test["pages_exact"], 4),
        # The summary fields every run has: a detector's accuracy is its share of pages found exactly.
        "test_accuracy": round(test["pages_exact"], 4),
        "test_loss": history[-1]["loss"],
        "val_accuracy": round(val["pages_exact"], 4),
    }
    run.write_metrics(metrics)
    say(
        f"  test pages with every line found once {test['pages_exact']:.4f}, lines found "
        f"{test['line_recall']:.4f} (of found, real {test['line_precision']:.4f}); threshold {threshold:.2f}"
    )
    return metrics
