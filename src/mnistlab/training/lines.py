"""Fit a line model (a `crnn_*` recipe) with CTC on synthetic lines into a run directory.

The run looks like any other (config.json, history.json, metrics.json, model.keras, model.onnx,
logs/, plots/), plus `line.json`: the strip geometry, the alphabet, and the accept threshold chosen on
validation lines. Lines come from `linesynth`: training lines from MNIST's training split and the
`train` fonts; validation lines from the held-out validation digits, other seeds; the test lines
(reported, never chosen on) from MNIST's test digits. Nothing is drawn from the `eval` fonts or UCI.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np

from mnistlab import atomic
from mnistlab.data.strip import HEIGHT, STRIDE, VOCAB, decode, edit_distance, softmax
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

LINES_SEED = 104729  # training lines; +1 validation lines; +2 test lines; +3 non-digit images
VAL_LINES = 3000  # validation lines, and as many test lines (fewer for a small --lines)
CHUNK = 2000  # lines per generation task (the result never depends on how many run at once)
WIDTH_STEP = 64  # batches are padded to a multiple of this many columns
LABEL_WIDTH = 20  # labels are padded to this many characters (one shape for the loss)
ACCEPT_WRONG = 0.005  # the accept threshold keeps validation lines accepted-but-wrong under this
GENERATOR_VERSION = 4  # part of the line cache's key: bump it whenever linesynth draws differently
PHOTO_VERSION = 2  # ... and this whenever data.photolines does
HANDS_VERSION = 1  # ... and this whenever data.hands does


WORLDS = ("ink", "photo")  # a recipe's `world`: data.lines or data.photolines


def compose_lines(
    n: int,
    seed: int,
    x: np.ndarray,
    y: np.ndarray,
    fonts: list[Path],
    nondigits,
    workers: int = 2,
    world: str = "ink",
    hands: float = 0.0,
) -> tuple[list[np.ndarray], list[str]]:
    """`n` lines in chunks of CHUNK (chunk k drawn with seed (seed, k)), on `workers` processes;
    `hands`: the share of handwritten photographed lines a simulated hand writes (`data.hands`)."""
    if world == "photo":
        from mnistlab.data.photolines import make_chunk
    else:
        from mnistlab.data.lines import make_chunk

    strips, texts = [], []
    extra = (hands,) if world == "photo" and hands > 0 else ()
    for s, t in draw_in_chunks(make_chunk, n, seed, CHUNK, (x, y, fonts, nondigits, *extra), workers):
        strips.extend(s)
        texts.extend(t)
    return strips, texts


def cached_lines(
    kind: str, n: int, seed: int, x, y, fonts, nondigits, say, world: str = "ink", hands: float = 0.0
) -> tuple[list[np.ndarray], list[str]]:
    """`compose_lines`, kept under $MNISTLAB_HOME/lines/ keyed by everything it depends on."""
    negatives = None if nondigits is None else hashlib.sha256(nondigits.tobytes()).hexdigest()
    key = (GENERATOR_VERSION, n, seed, [f.name for f in fonts], negatives)
    if world != "ink":
        key = (*key, world, PHOTO_VERSION)
        if hands > 0:  # lines without the simulated hand keep the key they always had
            key = (*key, "hands", round(float(hands), 6), HANDS_VERSION)
    path = synthetic_path("lines", kind, key, x, y)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                columns, widths, texts = z["columns"], z["widths"], [str(t) for t in z["texts"]]
            return list(np.split(columns.astype(np.float32), np.cumsum(widths)[:-1], axis=1)), texts
        except (OSError, ValueError, KeyError):
            pass  # remade below
    say(f"  composing {n:,} {kind} lines" + (" (photographed)" if world == "photo" else ""))
    strips, texts = compose_lines(n, seed, x, y, fonts, nondigits, world=world, hands=hands)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        np.savez(
            tmp,
            columns=np.concatenate([np.round(s).astype(np.uint8) for s in strips], axis=1),
            widths=np.array([s.shape[1] for s in strips]),
            texts=np.array(texts),
        )
    return [np.round(s).astype(np.uint8).astype(np.float32) for s in strips], texts


def usable(strips, texts):
    """Lines the CTC loss can learn from: enough output steps for the characters and their repeats."""
    keep = []
    for i, (s, t) in enumerate(zip(strips, texts)):
        repeats = sum(a == b for a, b in zip(t, t[1:]))
        if s.shape[1] // STRIDE >= len(t) + repeats + 1 and len(t) <= LABEL_WIDTH:
            keep.append(i)
    return [strips[i] for i in keep], [texts[i] for i in keep]


class LineBatches:
    """Batches of lines of similar width, padded; the order is drawn from (seed, epoch)."""

    def __init__(self, strips, texts, batch_size: int, seed: int, shuffle: bool = True):
        from mnistlab.data.lines import encode

        self.strips, self.labels = strips, encode(texts + ["0" * LABEL_WIDTH])[:-1]
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0
        widths = np.array([s.shape[1] for s in strips])
        order = np.argsort(widths, kind="stable")
        self.groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        self.order = np.arange(len(self.groups))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.shuffle:
            self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.groups))

    def __len__(self):
        return len(self.groups)

    def __getitem__(self, i):
        idx = self.groups[self.order[i]]
        return pad_strips([self.strips[k] for k in idx]), self.labels[idx]

    def dataset(self, start_epoch: int, epochs: int):
        """One tf.data pipeline over the batches of epochs start_epoch..epochs-1, in order (Keras keeps
        one iterator across epochs when told the steps per epoch); epoch e's order depends only on
        (seed, e), so a resumed run sees the batches an uninterrupted one would."""
        import tensorflow as tf

        def batches():
            for epoch in range(start_epoch, epochs):
                self.set_epoch(epoch)
                for i in range(len(self)):
                    yield self[i]

        spec = (tf.TensorSpec((None, HEIGHT, None), tf.float32), tf.TensorSpec((None, LABEL_WIDTH), tf.int32))
        return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(2)


def pad_strips(strips: list[np.ndarray]) -> np.ndarray:
    width = -(-max(s.shape[1] for s in strips) // WIDTH_STEP) * WIDTH_STEP
    out = np.zeros((len(strips), HEIGHT, width), np.float32)
    for k, s in enumerate(strips):
        out[k, :, : s.shape[1]] = s
    return out


def predict_lines(model, strips, batch_size: int = 256) -> list[np.ndarray]:
    """Per-step probabilities (T, classes) of each line, trimmed to its own width."""
    order = np.argsort([s.shape[1] for s in strips], kind="stable")
    out: list = [None] * len(strips)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        logits = np.asarray(model(pad_strips([strips[k] for k in idx]), training=False))
        for j, k in enumerate(idx):
            out[k] = softmax(logits[j, : strips[k].shape[1] // STRIDE])
    return out


def score(probs: list[np.ndarray], texts: list[str]) -> dict:
    """Per line: the text read and its confidence; overall: lines read right, character error rate.

    A line is read right when it matches with each run of non-digits counted once ("??12" is "?12":
    how many letters a word has does not matter to a digit reader, that it has some does)."""
    got, conf = [], []
    for p in probs:
        chars, least = decode(p)
        got.append("".join(c.char for c in chars))
        conf.append(least)
    right = np.array([_reading(g) == _reading(t) for g, t in zip(got, texts)])
    errors = sum(edit_distance(g, t) for g, t in zip(got, texts))
    return {
        "exact": float(right.mean()) if len(right) else 0.0,
        "right": right,
        "cer": errors / max(1, sum(len(t) for t in texts)),
        "texts": got,
        "confidence": np.array(conf),
        "readable": np.array(["?" not in g and bool(g) for g in got]),
    }


def _reading(text: str) -> str:
    import re

    return re.sub(r"\?+", "?", text)


def accept_threshold(
    conf: np.ndarray, correct: np.ndarray, wrong_rate: float = ACCEPT_WRONG, readable: np.ndarray | None = None
) -> float:
    """The lowest confidence threshold at which the lines accepted (confident enough and, when
    `readable` is given, read without a non-digit) are wrong at most `wrong_rate` of all lines."""
    ok = np.ones(len(conf), bool) if readable is None else readable
    for t in np.unique(np.concatenate([[0.0], np.round(conf, 4)])):
        sel = (conf >= t) & ok
        if (sel & ~correct).sum() <= wrong_rate * len(conf):
            return float(t)
    return 1.0


class StringAccuracy(keras.callbacks.Callback):
    """After each epoch: validation lines read exactly (greedy CTC) and the character error rate."""

    def __init__(self, strips, texts):
        super().__init__()
        self.strips, self.texts = strips, texts

    def on_epoch_end(self, epoch, logs=None):
        s = score(predict_lines(self.model, self.strips), self.texts)
        if logs is not None:
            logs["val_exact"] = s["exact"]  # read right (each run of non-digits counted once)
            logs["val_cer"] = s["cer"]


class LineTask(DrawnTask):
    """A line model (a `crnn_*` recipe) trained with CTC on synthetic lines; the core does the rest."""

    kind = "line"
    what = "a line model"

    def generator(self, recipe) -> dict:
        """Which way the synthetic lines were drawn (the versions in the line cache's key), recorded in
        the run's config: the same seed gives the same lines only from the same generator."""
        out = {"lines": GENERATOR_VERSION, **({"photo": PHOTO_VERSION} if recipe.world == "photo" else {})}
        if recipe.world == "photo" and recipe.hands > 0:
            out["hands"] = HANDS_VERSION
        return out

    def build(self, run, recipe, opts, ds, data, strategy, say) -> Fit:
        from mnistlab.data.fonts import font_files
        from mnistlab.data.negatives import make_negatives
        from mnistlab.models.architectures import build_model

        self.one_device(strategy)
        if recipe.world not in WORLDS:
            raise MnistlabError(f"the recipe's world must be one of {', '.join(WORLDS)}, not {recipe.world!r}")
        x_train, y_train, x_val, y_val = data
        fonts = font_files("train")
        self.nondigits = make_negatives(
            max(1, recipe.negatives), LINES_SEED + 3, fonts, None, kinds=("glyph", "strokes", "shape")
        )
        x_val8 = np.round(x_val).astype(np.uint8)
        strips, texts = usable(
            *cached_lines(
                "train",
                recipe.lines,
                train_seed(LINES_SEED, opts.seed),
                x_train,
                y_train,
                fonts,
                self.nondigits,
                say,
                recipe.world,
                recipe.hands,
            )
        )
        n_check = min(VAL_LINES, max(200, recipe.lines // 20))  # validation and test lines
        val_strips, val_texts = cached_lines(
            "validation", n_check, LINES_SEED + 1, x_val8, y_val, fonts, self.nondigits, say, recipe.world, recipe.hands
        )
        batches = LineBatches(strips, texts, recipe.batch_size, opts.seed)
        model = build_model(recipe.architecture, len(VOCAB) + 1)
        model.compile(optimizer=make_optimizer(recipe, len(batches)), loss=keras.losses.CTC(), jit_compile=False)
        say(
            f"  {len(strips):,} training lines, {len(val_strips):,} validation lines; "
            f"{model.count_params():,} parameters"
        )
        return Fit(
            model=model,
            trainer=model,
            data=batches.dataset(backed_up_epochs(run), recipe.epochs),
            kwargs={"steps_per_epoch": len(batches)},
            callbacks=[StringAccuracy(val_strips, val_texts)],
            train_examples=len(strips),
        )

    def finish(self, run, fit, recipe, opts, ds, data, say, wall_start: float) -> None:
        finish(
            run,
            fit.model,
            say,
            n_train=fit.train_examples,
            wall_start=wall_start,
            nondigits=getattr(self, "nondigits", None),
        )

    def plot(self, run, recipe, ds) -> None:
        from mnistlab.training.plots import plot_line_curves

        plot_line_curves(
            run.plots_dir / "curves.png", run.history, run.metrics["test_exact"], f"{recipe.preset}: {run.path.name}"
        )


def finish(run, model, say, n_train: int, wall_start: float, nondigits: np.ndarray | None = None) -> dict:
    """After the fit: the accept threshold chosen on validation lines, the test lines read, the ONNX
    model written and checked, line.json and metrics.json. Depends only on the run's config and model."""
    from mnistlab.data.fonts import font_files
    from mnistlab.data.negatives import make_negatives
    from mnistlab.training.onnx import ensure_line_onnx

    recipe, ds, x_val, y_val = held_out(run)
    fonts = font_files("train")
    if nondigits is None:  # the same images the training drew (`make_negatives` is deterministic)
        nondigits = make_negatives(
            max(1, recipe.negatives), LINES_SEED + 3, fonts, None, kinds=("glyph", "strokes", "shape")
        )
    n_check = min(VAL_LINES, max(200, recipe.lines // 20))
    say("  choosing the accept threshold on validation lines; reading the test lines")
    val_strips, val_texts = cached_lines(
        "validation",
        n_check,
        LINES_SEED + 1,
        np.round(x_val).astype(np.uint8),
        y_val,
        fonts,
        nondigits,
        say,
        recipe.world,
        recipe.hands,
    )
    val = score(predict_lines(model, val_strips), val_texts)
    threshold = accept_threshold(val["confidence"], val["right"], readable=val["readable"])
    test_strips, test_texts = cached_lines(
        "test", n_check, LINES_SEED + 2, ds.x_test, ds.y_test, fonts, nondigits, say, recipe.world, recipe.hands
    )
    test = score(predict_lines(model, test_strips), test_texts)
    test_acc = (test["confidence"] >= threshold) & test["readable"]
    atomic.write_json(
        run.path / "line.json",
        {
            "vocab": VOCAB,
            "height": HEIGHT,
            "stride": STRIDE,
            "input": recipe.world,  # "ink": the reader's ink map of a line; "photo": the photo's crop
            "threshold": threshold,
            "chosen_on": f"{len(val_texts)} validation lines: the lowest threshold with accepted-but-wrong at most "
            f"{ACCEPT_WRONG} of them",
        },
    )
    ensure_line_onnx(run, model, val_strips[:300])
    history = run.history
    metrics = {
        **run_summary(run, model, "line", wall_start),
        "train_lines": n_train,
        "val_exact": round(val["exact"], 4),
        "val_cer": round(val["cer"], 4),
        "test_lines": len(test_texts),
        "test_exact": round(test["exact"], 4),
        "test_cer": round(test["cer"], 4),
        "test_accepted": round(float(test_acc.mean()), 4),
        "test_accepted_but_wrong": round(float((test_acc & ~test["right"]).mean()), 4),
        "threshold": threshold,
        # The summary fields every run has: a line model's accuracy is its share of lines read right.
        "test_accuracy": round(test["exact"], 4),
        "test_loss": history[-1]["loss"],
        "val_accuracy": round(val["exact"], 4),
    }
    run.write_metrics(metrics)
    say(
        f"  validation lines read right {val['exact']:.4f}, test lines {test['exact']:.4f} "
        f"(CER {test['cer']:.4f}); accept threshold {threshold:.3f}"
    )
    return metrics
