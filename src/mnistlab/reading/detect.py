"""Finding the writing: the learned text detector, and the picture normalised to what it found.

A detector run (`mnistlab train --preset detector`) holds `model.onnx` (a small fully convolutional
network, `unet_detector`, trained on the synthetic pages of `data.pages`) and `detector.json` (its
working size and the map threshold chosen on validation pages). Here, with onnxruntime and numpy:

1. The picture is shrunk so its longer side is at most `WORK_SIDE` (the detector learned lines 7 to
   110 pixels tall there) and the model marks each line's core. A picture with room for taller
   writing is also seen at half that size, and that look is kept where its lines are too tall for
   the first (a number drawn large on the page's pad).
2. Each connected core is a line: its direction (the principal axis of its cells), its length and
   its height (the core is the middle half of a line's height).
3. `normalize` turns the picture so the lines run level (the length-weighted median direction, up to
   `MAX_TURN`; under `MIN_TURN` it is left as it is) and enlarges it where its lines are small, so a
   500-pixel photo and a 12-Mpixel one, a level sheet and one turned 20 degrees, reach the reader
   alike. The reader sees the whole sheet still: its stages find the sheet, the light and the ruled
   lines from what lies around the writing.

The constants here were chosen on the development photos (`benchmarks/photos.py`, seeds of their
own), never on the field photos (`benchmarks/field.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.data.pages import CORE, CORE_INSET, HEIGHTS, OUT_STRIDE, standardize
from mnistlab.errors import MnistlabError

WORK_SIDE = 768  # the detector looks at the picture shrunk to at most this long
MIN_CELLS = 3  # a core smaller than this many map cells is noise
MAX_TURN = 40.0  # degrees: a picture is never turned more than this
MIN_TURN = 4.0  # degrees: lines leaning less are read as they lie (turning resamples the picture)
LINE_HEIGHT = 48.0  # a picture whose found lines are shorter than this is enlarged to it (never shrunk)
# The first look found pieces of a taller line where its lines are under this part of that line's
# height. Chosen on the calibration pads and numbers (tools/fit_verdict.py's seeds): of 100 pads,
# 0.5 took the second look for 26 (80 right, 24 right and sure), 0.75 for 66 (84, 34), no bound for
# 86 (83, 38); numbers enlarged 2 and 3 times lost nothing at 0.75 (94%, 0 sure but wrong).
PIECES = 0.75
LEVEL = 2.5  # a core this many times as long as high shows the lines' direction (shorter: a digit)


@dataclass
class Line:
    """A found line in picture pixels: its centre, direction (radians, y down), length and height."""

    cx: float
    cy: float
    angle: float
    length: float
    height: float

    def ends(self) -> np.ndarray:
        """The two ends of the line's middle (where its first and last marks lie)."""
        d = np.array([np.cos(self.angle), np.sin(self.angle)])
        c = np.array([self.cx, self.cy])
        return np.array([c - self.length / 2 * d, c + self.length / 2 * d])

    def corners(self) -> np.ndarray:
        d = np.array([np.cos(self.angle), np.sin(self.angle)])
        n = np.array([-np.sin(self.angle), np.cos(self.angle)])
        c = np.array([self.cx, self.cy])
        a, b = self.length / 2, self.height / 2
        return np.array([c - a * d - b * n, c + a * d - b * n, c + a * d + b * n, c - a * d + b * n])


@dataclass
class Normalized:
    """The picture as the reader gets it, and the way back: `to_picture` maps its pixels to the
    original picture's (a 2x3 affine)."""

    gray: np.ndarray
    to_picture: np.ndarray
    lines: list[Line]
    angle: float  # degrees the picture was turned

    def box_to_picture(self, box, shape) -> list[int]:
        x0, y0, x1, y1 = box
        pts = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64) @ self.to_picture.T
        return bounds(pts, shape)


def bounds(pts: np.ndarray, shape) -> list[int]:
    """The box [x0, y0, x1, y1] around points (N, 2), in whole pixels, inside a picture of `shape`."""
    h, w = shape
    return [
        int(np.clip(np.floor(pts[:, 0].min()), 0, w)),
        int(np.clip(np.floor(pts[:, 1].min()), 0, h)),
        int(np.clip(np.ceil(pts[:, 0].max()), 0, w)),
        int(np.clip(np.ceil(pts[:, 1].max()), 0, h)),
    ]


class Detector:
    """A detector run's ONNX model and its map threshold."""

    def __init__(self, path: Path):
        from mnistlab.inference.engine import open_checked

        path = Path(path)
        info, self.session = open_checked(path, "detector.json", "detector")
        threshold = info.get("threshold")
        if not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
            raise MnistlabError(f"{path}/detector.json: threshold must be a number between 0 and 1, not {threshold!r}")
        if info.get("stride") != OUT_STRIDE:
            raise MnistlabError(f"{path}/detector.json does not describe a detector this mnistlab reads")
        self.input = self.session.get_inputs()[0].name
        self.threshold = float(threshold)
        self.path = path

    def core_map(self, gray: np.ndarray, shrink: float = 1.0) -> tuple[np.ndarray, float]:
        """The probability that each map cell is a line's core, and the working scale (work / picture),
        the picture seen at most `WORK_SIDE` long and then `shrink` times that."""
        from PIL import Image

        h, w = gray.shape
        scale = min(1.0, WORK_SIDE / max(h, w)) * shrink
        wh, ww = max(16, int(round(h * scale))), max(16, int(round(w * scale)))
        work = np.asarray(
            Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).resize((ww, wh), Image.Resampling.BILINEAR),
            np.float32,
        )
        ph, pw = -(-wh // 16) * 16, -(-ww // 16) * 16
        x = standardize(work)
        padded = np.zeros((ph, pw), np.float32)  # the mean: what a standardized picture pads with
        padded[:wh, :ww] = x
        logits = self.session.run(None, {self.input: padded[None, :, :, None]})[0][0, :, :, 0]
        prob = 1.0 / (1.0 + np.exp(-logits))
        return prob[: -(-wh // OUT_STRIDE), : -(-ww // OUT_STRIDE)], scale

    def find(self, gray: np.ndarray) -> list[Line]:
        """The lines of writing in a grey picture (H, W, 0..255), in picture pixels.

        The detector learned lines up to `HEIGHTS[1]` pixels tall at its working size; taller writing
        (a number drawn large on the page's pad, a close crop) comes apart into pieces there. A
        picture with room for such writing is looked at once more at half the size, and that look is
        kept where it finds a line taller than the detector's world and the first look found only
        pieces of it (lines under `PIECES` of its height)."""
        lines = self._find(gray, 1.0)
        h, w = gray.shape
        scale = min(1.0, WORK_SIDE / max(h, w))
        if min(h, w) * scale < 4 * HEIGHTS[1]:
            half = self._find(gray, 0.5)
            tallest = max((ln.height for ln in half), default=0.0)
            pieces = max((ln.height for ln in lines), default=0.0) < PIECES * tallest
            if tallest * scale > HEIGHTS[1] and pieces:
                return half
        return lines

    def _find(self, gray: np.ndarray, shrink: float) -> list[Line]:
        import cc3d

        prob, scale = self.core_map(gray, shrink)
        labels = cc3d.connected_components((prob > self.threshold).astype(np.uint8), connectivity=8)
        lines = []
        cell = OUT_STRIDE / scale  # picture pixels per map cell
        for k in range(1, int(labels.max()) + 1):
            ys, xs = np.nonzero(labels == k)
            if ys.size < MIN_CELLS:
                continue
            pts = np.stack([xs, ys], 1).astype(np.float64) + 0.5
            centre = pts.mean(0)
            cov = np.cov((pts - centre).T) if ys.size > 1 else np.eye(2)
            _, vecs = np.linalg.eigh(cov)
            d = vecs[:, 1]
            if d[0] < 0:
                d = -d
            angle = float(np.arctan2(d[1], d[0]))
            along = (pts - centre) @ d
            across = (pts - centre) @ np.array([-d[1], d[0]])
            core_len = (along.max() - along.min() + 1) * cell
            core_h = (across.max() - across.min() + 1) * cell
            height = core_h / (CORE[1] - CORE[0])
            lines.append(
                Line(
                    cx=float(centre[0] * cell),
                    cy=float(centre[1] * cell),
                    angle=angle,
                    length=float(core_len + 2 * CORE_INSET * height),
                    height=float(height),
                )
            )
        return lines


def text_angle(lines: list[Line], level: float = LEVEL) -> float:
    """The direction the writing runs (radians): the length-weighted median of the lines at least
    `level` times as long as high (long enough to show one); 0 when none is."""
    level = [ln for ln in lines if ln.length >= level * ln.height]
    if not level:
        return 0.0
    angles = np.array([ln.angle for ln in level])
    weights = np.array([ln.length for ln in level])
    order = np.argsort(angles)
    cum = np.cumsum(weights[order])
    angle = float(angles[order][np.searchsorted(cum, cum[-1] / 2)])
    limit = np.deg2rad(MAX_TURN)
    return float(np.clip(angle, -limit, limit))


def normalize(gray: np.ndarray, lines: list[Line], max_pixels: int = 2_000_000) -> Normalized | None:
    """The whole picture turned so the writing runs level and enlarged so its lines are at least
    `LINE_HEIGHT` tall (at most `max_pixels`); the picture itself when it is level and big enough.
    None when no line was found."""
    from PIL import Image

    if not lines:
        return None
    theta = text_angle(lines)
    if abs(np.rad2deg(theta)) < MIN_TURN:
        theta = 0.0
    height = float(np.median([ln.height for ln in lines]))
    h, w = gray.shape
    d = np.array([np.cos(theta), np.sin(theta)])
    n = np.array([-np.sin(theta), np.cos(theta)])
    frame = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    a, b = frame @ d, frame @ n  # the picture's corners along and across the writing
    a0, a1, b0, b1 = a.min(), a.max(), b.min(), b.max()
    k = max(1.0, LINE_HEIGHT / max(height, 1.0))
    k = min(k, np.sqrt(max_pixels / max(1.0, (a1 - a0) * (b1 - b0))))  # reader pixels per picture pixel
    if theta == 0.0 and k == 1.0:
        return Normalized(gray, np.array([[1.0, 0, 0], [0, 1.0, 0]]), lines, 0.0)  # level and big enough
    out_w, out_h = max(16, int(np.ceil((a1 - a0) * k))), max(16, int(np.ceil((b1 - b0) * k)))
    origin = a0 * d + b0 * n
    to_picture = np.array([[d[0] / k, n[0] / k, origin[0]], [d[1] / k, n[1] / k, origin[1]]])
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    out = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).transform(
        (out_w, out_h),
        Image.Transform.AFFINE,
        tuple(to_picture.reshape(6)),
        resample=Image.Resampling.BILINEAR,
        fillcolor=int(np.median(border)),  # what lies past the picture's edge looks like its edge
    )
    return Normalized(np.asarray(out, np.float64), to_picture, lines, float(np.rad2deg(theta)))
