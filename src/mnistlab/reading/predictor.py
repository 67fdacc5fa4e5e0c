"""Predict classes for test images by index or for the user's own image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.runs import RunDir


def parse_index_range(text: str, n: int) -> list[int]:
    """'0:5', '7', '3,9,12' or '10:20:2' -> indices into a set of `n` images."""
    indices: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if ":" in part:
                bits = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bits) > 3:
                    raise ValueError
                sl = slice(*bits)
                if (sl.start or 0) < 0 or (sl.stop is not None and sl.stop > n) or (sl.step or 1) <= 0:
                    raise IndexError
                indices.extend(range(*sl.indices(n)))
            else:
                i = int(part)
                if not 0 <= i < n:
                    raise IndexError
                indices.append(i)
    except ValueError:
        raise MnistlabError(f"--test-index {text!r} is not an index or range like 0:5 or 3,7,9") from None
    except IndexError:
        raise MnistlabError(f"--test-index {text!r} is outside the test set (0..{n - 1})") from None
    if not indices:
        raise MnistlabError(f"--test-index {text!r} selects no images")
    return indices


def line_model_for(run: RunDir, lines: str | Path | None):
    """The line model `read` uses beside a run's classifier: "auto" is the run's own `line/` folder
    or else the bundled one (for a run that reads the digits 0-9), "off" or None is none, and a path
    is a line run."""
    from mnistlab.reading.linemodel import LineModel

    if lines is None or lines == "off":
        return None
    if lines != "auto":
        return _line_run(lines, "ink", "line", f"{lines} reads photos of lines: give it to --photo-lines")
    return _own_or_bundled(run, "line", "line.json", LineModel)


def _line_run(path: str | Path, world: str, preset: str, wrong_world: str):
    """The line run at `path`, which must read `world` ("ink" or "photo"); `wrong_world` is the
    sentence for one that reads the other."""
    from mnistlab.reading.linemodel import LineModel

    if not RunDir(Path(path)).is_line:
        raise MnistlabError(f"{path} is not a line run (train one with `mnistlab train --preset {preset}`)")
    model = LineModel(Path(path))
    if model.world != world:
        raise MnistlabError(wrong_world)
    return model


def detector_for(run: RunDir, detector: str | Path | None):
    """The text detector `read` finds the writing with: "auto" is the run's own `detector/` folder or
    else the bundled one (for a run that reads the digits 0-9), "off" or None is none (the whole
    picture is read as it is), and a path is a detector run."""
    from mnistlab.reading.detect import Detector

    if detector is None or detector == "off":
        return None
    if detector != "auto":
        if not RunDir(Path(detector)).is_detector:
            raise MnistlabError(f"{detector} is not a detector run (train one with `mnistlab train --preset detector`)")
        return Detector(Path(detector))
    return _own_or_bundled(run, "detector", "detector.json", Detector)


def _own_or_bundled(run: RunDir, folder: str, info: str, load):
    """`load` of the run's own `folder` or else the bundled one (the first holding `info`), for a
    run that reads the digits 0-9; None for other runs or when neither exists."""
    from mnistlab.runs import BUNDLED

    if list(run.class_names) != [str(d) for d in range(10)]:
        return None
    for path in (run.path / folder, BUNDLED / folder):
        if (path / info).is_file():
            return load(path)
    return None


def photo_reader_for(run: RunDir, photo: str | Path | None):
    """The photo line model that reads each found line from the photo itself: "auto" is the run's
    own `photoline/` folder or else the bundled one (for a run that reads the digits 0-9), "off" or
    None is none (the found lines are read by the marks and the ink line model alone), and a path is
    a line run trained on photographed lines (`--preset photo-line`)."""
    from mnistlab.reading.linemodel import LineModel

    if photo is None or photo == "off":
        return None
    if photo != "auto":
        return _line_run(
            photo,
            "photo",
            "photo-line",
            f"{photo} reads the ink of a line, not a photo of it: give it to --lines, or train a photo "
            "line model with `mnistlab train --preset photo-line`",
        )
    return _own_or_bundled(run, "photoline", "line.json", LineModel)


class Predictor:
    """A run's model with its calibration: prepared 28x28 images -> calibrated answers.

    Loaded once and shared by `predict`, `read` and the server, so every consumer gives the same
    confidence and the same accept / reject decision. `tta` > 1 averages shifted views (data/views.py) and
    every answer then says how many it averaged. `engine` is "onnx" (onnxruntime, no TensorFlow) or
    "keras" (the Keras model itself, for checking; needs the `train` extra).
    """

    def __init__(
        self,
        run: RunDir,
        tta: int = 1,
        engine: str = "onnx",
        lines: str | Path | None = "auto",
        mode: str = "combined",
        detector: str | Path | None = "auto",
        photo: str | Path | None = "auto",
    ):
        from mnistlab.data.views import check
        from mnistlab.inference import engine as inference
        from mnistlab.reading.read import MODES

        if mode not in MODES:
            raise MnistlabError(f"the reading mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.tta = check(tta)
        self.run = run
        if run.is_line:
            raise MnistlabError(
                f"{run.path} is a line model: it reads beside a digit classifier, as in "
                f"`mnistlab read --lines {run.path} PICTURE`"
            )
        self.calibration = run.calibration
        self.class_names = list(run.class_names)
        self.engine = inference.check_engine(engine)
        self.model = inference.load(run, engine)
        outputs = self.model.classes
        if outputs is not None and outputs != len(self.class_names):
            raise MnistlabError(
                f"{run.config_path} lists {len(self.class_names)} classes but the model answers "
                f"{outputs}: the run's files do not belong together"
            )
        self.lines = line_model_for(run, lines)
        self.detector = detector_for(run, detector)
        self.photo = photo_reader_for(run, photo) if self.detector is not None else None
        self.mode = mode

    def judge(self, arrays: np.ndarray, tta: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, 28, 28) pixels 0..255 -> (calibrated probabilities, confidence, accepted)."""
        views = self.tta if tta is None else tta
        return self.calibration.judge(self.model.predict_proba(np.asarray(arrays, np.float32), tta=views))

    def entries(self, arrays: np.ndarray, tta: int | None = None) -> list[dict]:
        views = self.tta if tta is None else tta
        probs, conf, accepted = self.judge(arrays, views)
        return [self.entry(p, c, a, views) for p, c, a in zip(probs, conf, accepted, strict=True)]

    def read(self, gray: np.ndarray, tta: int | None = None, scale: float = 1.0, data: bytes | None = None) -> dict:
        """The number in a grayscale picture (`reading.read_gray`), judged by this model, its boxes
        multiplied by `scale` (for a picture decoded smaller than its file); like every answer, it
        says how many views it averaged when more than one.

        Writing found in a small part of a large picture (a number on a 12-Mpixel photo) is read from
        that part alone (`closer.look`), where the reader then sees it in at least `closer.CLOSER`
        times as many pixels: with the file's bytes (`data`), the part is decoded again at the
        file's own resolution (`images.decode_region`). A drawing (`drawing.is_drawing`: a pad's
        canvas, a screenshot) is read as it is, without the text detector and the photo line model."""
        from mnistlab.reading import closer, drawing, read_gray, scale_boxes

        views = self.tta if tta is None else tta

        def judge(arrays):
            return self.judge(arrays, views)

        found = None
        detector = self.detector
        if detector is not None and drawing.is_drawing(gray):  # asked only where there is a detector to skip
            detector = None
        if detector is not None:
            found = detector.find(gray)
            part = closer.look(detector, gray, found, scale, data)
            if part is not None:
                result = read_gray(part.gray, judge, self.lines, self.mode, detector, self.photo, part.lines)
                return self._views(scale_boxes(result, part.scale, part.origin), views)
        result = read_gray(gray, judge, self.lines, self.mode, detector, self.photo, found)
        return self._views(scale_boxes(result, scale), views)

    @staticmethod
    def _views(result: dict, views: int) -> dict:
        if views > 1:
            result["tta"] = views
        return result

    def entry(self, probs: np.ndarray, confidence: float, accepted: bool, tta: int = 1) -> dict:
        k = int(probs.argmax())
        out = {
            "digit": k,
            "label": self.class_names[k],
            "confidence": round(float(confidence), 4),
            "accepted": bool(accepted),
            "probabilities": [round(float(p), 6) for p in probs],
        }
        if not accepted:
            out["note"] = self.doubt
        if tta > 1:
            out["tta"] = tta
        return out

    @property
    def doubt(self) -> str:
        """What a prediction that is not accepted says to a user."""
        from mnistlab.reading.reasons import say

        if list(self.class_names) == [str(d) for d in range(10)]:
            return say("not_a_digit")
        return "this does not look like any of the model's classes: check the picture"


def predict_test(
    run: RunDir, index_text: str, dataset: str | None = None, tta: int = 1, engine: str = "onnx"
) -> list[dict]:
    """Predictions for test images by index, from the run's own dataset unless another is named."""
    from mnistlab.data.datasets import load_dataset

    ds = load_dataset(dataset or run.config["dataset"]["spec"])
    indices = parse_index_range(index_text, len(ds.y_test))
    return [
        {"index": i, "true": int(ds.y_test[i]), **e}
        for i, e in zip(indices, Predictor(run, tta, engine).entries(ds.x_test[indices]), strict=True)
    ]


def predict_files(run: RunDir, patterns: list[str], tta: int = 1, engine: str = "onnx") -> list[dict]:
    """One entry per file (folders and globs give their pictures): the prediction, or an `error`
    sentence (not naming the file again) for a file that is not a usable image."""
    from mnistlab.files import pictures
    from mnistlab.images import ImageError, image_bytes_to_array, picture_bytes

    arrays, results = [], []
    for f in pictures(patterns).files:
        try:
            arrays.append(image_bytes_to_array(picture_bytes(f)))
            results.append({"file": str(f)})
        except ImageError as exc:
            results.append({"file": str(f), "error": str(exc)})
    if arrays:
        good = iter(Predictor(run, tta, engine).entries(np.stack(arrays)))
        for r in results:
            if "error" not in r:
                r.update(next(good))
    return results
