"""The Python front door: `import mnistlab as ml`.

    ds = ml.load_dataset("mnist")              # x_train, y_train, x_test, y_test, class_names
    run = ml.train(preset="fast")              # trains, evaluates, calibrates, plots -> ml.Run
    run = ml.open_run("runs/latest")           # or ml.open_run() for the model that ships with mnistlab
    run.evaluate()                             # accuracy, loss, per-class scores, confusion matrix
    run.predict(images_or_paths)               # digit, confidence, accepted, probabilities
    run.read(paths)                            # whole numbers, as `mnistlab read --json`
    run.read_many("scans/", jobs=2)            # many files on every core, each reading as it is read
    run.read_ray(paths, address="auto")        # the same on a Ray cluster (mnistlab[ray])
    run.export("tflite", quantize="int8")      # path of the verified export
    run.plot_curves()                          # matplotlib Figures (inline in Jupyter)
    ml.presets()                               # the preset table as data

The CLI and the server call the same functions. Every error is an `ml.MnistlabError` carrying the
sentence the CLI would print.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.runs import BUNDLED

if TYPE_CHECKING:
    from mnistlab.batch.many import ReadOptions


class Run:
    """A finished training run (or the bundled model): its files, its model and what it can do."""

    def __init__(self, path: str | os.PathLike, engine: str = "onnx"):
        from mnistlab.inference.engine import check_engine
        from mnistlab.runs import open_run

        self._dir = open_run(path)
        self._engine = check_engine(engine)
        self._predictor = None
        self._keras = None

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"Run({str(self.path)!r}: preset {m.get('preset')}, test accuracy "
            f"{m.get('test_accuracy', float('nan')):.4f})"
        )

    # --- what the run holds ---
    @property
    def path(self) -> Path:
        return self._dir.path

    @property
    def name(self) -> str:
        return self._dir.name

    @property
    def config(self) -> dict:
        return self._dir.config

    @property
    def metrics(self) -> dict:
        return self._dir.metrics

    @property
    def history(self) -> list[dict]:
        return self._dir.history

    @property
    def class_names(self) -> list[str]:
        return list(self._dir.class_names)

    @property
    def calibration(self):
        return self._dir.calibration

    @property
    def model(self):
        """The Keras model (loaded once, in safe mode; needs mnistlab[train])."""
        if self._keras is None:
            from mnistlab.extras import import_tensorflow

            import_tensorflow()
            self._keras = self._dir.load_model()
        return self._keras

    def _get_predictor(self, lines: str | os.PathLike | None = "auto", mode: str = "combined"):
        from mnistlab.reading.predictor import Predictor

        key = (os.fspath(lines) if lines is not None else None, mode)
        if self._predictor is None or self._predictor[0] != key:
            self._predictor = (key, Predictor(self._dir, engine=self._engine, lines=lines, mode=mode))
        return self._predictor[1]

    def _read_options(self, tta: int, digits_only: bool, mode: str, lines) -> ReadOptions:
        from mnistlab.batch.many import ReadOptions
        from mnistlab.data.views import check

        return ReadOptions(
            run=str(self.path),
            tta=check(tta),
            engine=self._engine,
            lines=os.fspath(lines) if lines is not None else None,
            mode=mode,
            digits_only=digits_only,
        )

    # --- what it does ---
    def evaluate(self, dataset: str | None = None, tta: int = 1) -> dict:
        """Accuracy, loss, per-class precision/recall/F1 and confusion matrix on a test split.

        The run's own dataset by default (results are then recorded in the run); `dataset` names
        another with the same classes ("mnist", "fashion", "idx:DIR", "npz:PATH"). `tta=5` or `9`
        averages shifted views of each image (recorded apart, under metrics["tta"]).
        """
        from mnistlab.data.datasets import load_dataset
        from mnistlab.extras import import_tensorflow

        import_tensorflow()
        from mnistlab.training.evaluate import evaluate_run

        return evaluate_run(self._dir, load_dataset(dataset) if dataset else None, write=not self._bundled, tta=tta)

    def predict(self, images, tta: int = 1) -> list[dict]:
        """Classify single digits.

        `images`: a (28, 28) or (N, 28, 28) array of MNIST-style pixels 0..255 (bright ink on black,
        already prepared), a file path, a PIL image, or a list of paths / PIL images / arrays of any
        size (prepared like MNIST first). One dict per image: digit, label, confidence, accepted,
        probabilities (and file, for paths). `tta=5` or `9` averages shifted views of each image.
        """
        from mnistlab.data.views import check

        tta = check(tta)
        arrays, files = _prepared(images)
        entries = self._get_predictor().entries(np.stack(arrays), tta) if arrays else []
        return [({"file": f} if f else {}) | e for f, e in zip(files, entries, strict=True)]

    def read(
        self,
        images,
        tta: int = 1,
        digits_only: bool = False,
        mode: str = "combined",
        lines: str | os.PathLike | None = "auto",
    ) -> list[dict]:
        """Read whole numbers: one dict per picture, as `mnistlab read --json` prints.

        `images`: a path, a folder (its pictures), a glob, a PIL image, a grayscale array of any size,
        or a list of them. A file that is no readable picture gets its own dict with `file` and
        `error` (the others are still read). `tta=5` or `9` averages shifted views of each digit;
        `digits_only` leaves the separators out of `text`; `mode` ("combined", "line" or
        "segmenter") and `lines` ("auto", "off" or a line run) as for `mnistlab read`.
        """
        from mnistlab.batch.many import Reader

        options = self._read_options(tta, digits_only, mode, lines)
        reader = Reader(options, predictor=self._get_predictor(options.lines, mode))
        out = []
        for item in _items(images):
            if isinstance(item, (str, os.PathLike)):
                out.extend(reader.read_file(f) for f in _files([item]))
            else:
                out.append(reader.read_gray(_gray(item)[0]))
        return out

    def read_many(
        self,
        paths,
        jobs: int | None = None,
        tta: int = 1,
        digits_only: bool = False,
        mode: str = "combined",
        lines: str | os.PathLike | None = "auto",
        jsonl: str | os.PathLike | None = None,
        resume: bool = False,
    ) -> Iterator[dict]:
        """Read many picture files on every core: yields each picture's dict (as `read` gives it)
        in input order as soon as it is read.

        `paths`: files, folders and globs, as the CLI takes them. `jobs` worker processes (default:
        every core), each loading the model once. `jsonl=FILE` also appends each dict to FILE as a
        line, and `resume=True` leaves out the pictures FILE already holds.
        """
        from mnistlab.batch.stream import read_stream

        yield from _streamed(
            lambda files, outputs: read_stream(
                files, self._read_options(tta, digits_only, mode, lines), outputs, jobs=jobs
            ),
            paths,
            jsonl,
            resume,
        )

    def read_ray(
        self,
        dataset_or_paths,
        address: str = "auto",
        actors: int | None = None,
        tta: int = 1,
        digits_only: bool = False,
        mode: str = "combined",
        lines: str | os.PathLike | None = "auto",
        jsonl: str | os.PathLike | None = None,
        resume: bool = False,
    ) -> Iterator[dict]:
        """Read on a Ray cluster (needs mnistlab[ray]): yields each picture's dict in input order.

        `dataset_or_paths`: files, folders and globs, or a Ray Dataset with a `path` column (and
        optionally `bytes`, as `ray.data.read_binary_files(..., include_paths=True)` gives).
        `address`: "auto" (this machine's cluster), "local" (a Ray instance started here) or
        HOST:PORT; `actors`: readers, one CPU each (default: the cluster's CPUs). `jsonl` and
        `resume` as for `read_many` (resume needs paths).
        """
        from mnistlab.batch.cluster import read_rows
        from mnistlab.batch.stream import read_stream

        options = self._read_options(tta, digits_only, mode, lines)
        if _is_ray_dataset(dataset_or_paths):
            if resume:
                raise MnistlabError("resume=True needs paths: a Ray Dataset's pictures cannot be matched by path first")
            yield from _streamed(
                lambda files, outputs: _written(read_rows(dataset_or_paths, options, address, actors), outputs),
                None,
                jsonl,
                False,
            )
            return
        yield from _streamed(
            lambda files, outputs: read_stream(files, options, outputs, jobs=actors, ray=address),
            dataset_or_paths,
            jsonl,
            resume,
        )

    def export(self, format: str, quantize: str | None = None, out: str | os.PathLike | None = None) -> Path:
        """Export to "savedmodel", "tflite" or "onnx" (tflite: quantize="float16"|"dynamic"|"int8").

        The export is run in its own runtime and checked before anything is written; returns its path.
        """
        from mnistlab.export.formats import export_run
        from mnistlab.extras import import_tensorflow, quiet_native_stderr

        import_tensorflow()
        if out is None and self._bundled:
            raise MnistlabError("the bundled model lives inside the installed package; give out=PATH")
        with quiet_native_stderr():  # the TFLite converter and LiteRT's runtime print to fd 2 directly
            return Path(export_run(self._dir, format, None if out is None else str(out), quantize=quantize)["path"])

    def plot_curves(self):
        """Accuracy and loss per epoch (a matplotlib Figure)."""
        from mnistlab.training.plots import plot_curves

        m = self.metrics
        return plot_curves(
            None, self.history, m.get("test_accuracy"), m.get("test_loss"), title=f"{self.name}: {m.get('preset', '')}"
        )

    def plot_samples(self):
        """The first 10 training images with their labels (a matplotlib Figure)."""
        from mnistlab.data.datasets import load_dataset
        from mnistlab.training.plots import plot_samples

        ds = load_dataset(self.config["dataset"]["spec"])
        return plot_samples(None, ds.x_train, ds.y_train, ds.class_names)

    def plot_confusion(self):
        """The test-set confusion matrix (a matplotlib Figure)."""
        from mnistlab.training.plots import plot_confusion

        cm = self.metrics.get("confusion_matrix") or self.evaluate()["confusion_matrix"]
        return plot_confusion(None, np.asarray(cm), self.class_names)

    def plot_reliability(self):
        """Confidence against accuracy on the test set, before and after calibration (a Figure)."""
        from mnistlab.data.datasets import load_dataset
        from mnistlab.training.evaluate import predict_proba
        from mnistlab.training.plots import plot_reliability

        ds = load_dataset(self.config["dataset"]["spec"])
        probs = predict_proba(self.model, ds.x_test)
        n = len(ds.y_test) // 2  # the first half stands in for the validation panel here
        return plot_reliability(None, probs[:n], ds.y_test[:n], self.calibration, probs[n:], ds.y_test[n:])

    @property
    def _bundled(self) -> bool:
        return self.path.resolve() == BUNDLED.resolve()


def open_run(path: str | os.PathLike | None = None, engine: str = "onnx") -> Run:
    """A finished run; with no path, the trained reader that ships with mnistlab.

    Its answers come from onnxruntime (`engine="onnx"`, no TensorFlow needed) or from the Keras
    model itself (`engine="keras"`, for checking; needs mnistlab[train]).
    """
    return Run(bundled_path() if path is None else path, engine)


def bundled_path() -> Path:
    if not (BUNDLED / "model.keras").exists():
        raise MnistlabError(f"the bundled model is missing from {BUNDLED}; reinstall mnistlab or pass a RUN")
    return BUNDLED


def train(
    preset: str = "seed",
    epochs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    out: str | os.PathLike | None = None,
    dataset: str = "mnist",
    batch_size: int | None = None,
    verbose: int | str = "auto",
    link_latest: bool = False,
) -> Run:
    """Train a preset into a run directory (evaluated, calibrated, plotted) and return it.

    It is as quiet as `mnistlab train`: TensorFlow's start-up lines are hidden unless
    $MNISTLAB_DEBUG is set (or TensorFlow was imported before), and it writes only the run directory
    (`out`, default runs/<UTC time>-<preset>). `link_latest=True` also points `runs/latest` at it, as
    `mnistlab train` does.
    """
    from mnistlab.extras import import_tensorflow

    import_tensorflow()
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.train import train as _train

    opts = TrainOptions(
        preset=preset,
        dataset=dataset,
        epochs=epochs,
        batch_size=batch_size,
        limit=limit,
        seed=seed,
        out=None if out is None else str(out),
        verbose=verbose,
    )
    return Run(_train(opts, link_latest=link_latest).path)


def load_dataset(name: str = "mnist"):
    """A dataset: "mnist", "fashion", "idx:DIR" or "npz:PATH" (x_train, y_train, x_test, y_test, class_names)."""
    from mnistlab.data.datasets import load_dataset as _load

    return _load(name)


def presets() -> list[dict]:
    """Every preset: name, summary, expected accuracy and time, and its full recipe."""
    from mnistlab.models.presets import PRESETS

    return [
        {
            "name": p.name,
            "summary": p.summary,
            "expected_accuracy": p.expected_accuracy,
            "expected_seconds": p.expected_seconds,
            "params": p.params,
            "recipe": p.recipe.to_dict(),
        }
        for p in PRESETS.values()
    ]


def predict(images, run: str | os.PathLike | None = None, tta: int = 1, engine: str = "onnx") -> list[dict]:
    """`open_run(run, engine).predict(images, tta)`: the bundled model unless a run is named."""
    return open_run(run, engine).predict(images, tta)


def read(
    images,
    run: str | os.PathLike | None = None,
    tta: int = 1,
    engine: str = "onnx",
    digits_only: bool = False,
    mode: str = "combined",
    lines: str | os.PathLike | None = "auto",
) -> list[dict]:
    """`open_run(run, engine).read(images, ...)`: the bundled model unless a run is named."""
    return open_run(run, engine).read(images, tta, digits_only=digits_only, mode=mode, lines=lines)


def read_many(paths, run: str | os.PathLike | None = None, jobs: int | None = None, **options) -> Iterator[dict]:
    """`open_run(run).read_many(paths, jobs, ...)`: every core, in input order, as each is read."""
    return open_run(run).read_many(paths, jobs=jobs, **options)


def read_ray(
    dataset_or_paths, run: str | os.PathLike | None = None, address: str = "auto", **options
) -> Iterator[dict]:
    """`open_run(run).read_ray(dataset_or_paths, address, ...)`: reading on a Ray cluster."""
    return open_run(run).read_ray(dataset_or_paths, address=address, **options)


# --- inputs ---------------------------------------------------------------------------------------


def _items(images) -> list[Any]:
    if isinstance(images, (str, os.PathLike)) or _is_pil(images):
        return [images]
    if isinstance(images, np.ndarray):
        return [images] if images.ndim == 2 else list(images)
    if isinstance(images, Iterable):
        return list(images)
    raise MnistlabError(f"expected image paths, PIL images or numpy arrays, got {type(images).__name__}")


def _is_pil(obj) -> bool:
    return type(obj).__module__.startswith("PIL.")


def _gray(item) -> tuple[np.ndarray, str | None]:
    """Any one picture -> (grayscale array, its file name or None)."""
    from mnistlab.images import ImageError, load_gray_file, to_gray, upright

    if isinstance(item, (str, os.PathLike)):
        return load_gray_file(item), str(item)
    if _is_pil(item):
        return to_gray(upright(item)), None
    arr = np.asarray(item, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ImageError(f"an image array must be 2-D (height, width), got shape {list(arr.shape)}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255:
        raise ImageError("image arrays must hold finite pixel values in 0..255")
    return arr, None


def _prepared(images) -> tuple[list[np.ndarray], list[str | None]]:
    from mnistlab.images import pixels_to_array, to_mnist_array

    arrays, files = [], []
    for item in _items(images):
        if isinstance(item, np.ndarray) and item.shape == (28, 28):
            arrays.append(pixels_to_array(item))  # already MNIST-style: used as is
            files.append(None)
            continue
        gray, name = _gray(item)
        arrays.append(to_mnist_array(gray))
        files.append(name)
    return arrays, files


def _files(patterns) -> list[Path]:
    """Files, folders and globs -> the picture files, as the CLI lists them."""
    from mnistlab.files import pictures

    return pictures([os.fspath(p) for p in patterns]).files


def _is_ray_dataset(obj) -> bool:
    return type(obj).__module__.startswith("ray.data")


def _streamed(read, paths, jsonl, resume: bool) -> Iterator[dict]:
    """The rows of `read(files, outputs)`, with `jsonl` (if named) opened for them and closed after."""
    from mnistlab.batch.rowfiles import RowFile

    if resume and jsonl is None:
        raise MnistlabError("resume=True goes on with a JSONL file: name it with jsonl=PATH")
    files = _files(_items(paths)) if paths is not None else None
    outputs = [RowFile(jsonl, "jsonl", resume=resume)] if jsonl is not None else []
    try:
        yield from read(files, outputs)
    finally:
        for out in outputs:
            out.close()


def _written(rows, outputs) -> Iterator[dict]:
    for row in rows:
        for out in outputs:
            out.write(row)
        yield row
