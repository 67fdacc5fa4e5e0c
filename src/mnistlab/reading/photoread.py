"""Reading each found line from the photo itself: the detector's lines -> crops -> the photo line model.

For every line the detector found (`detect.Line`), the photo is sampled along the line's own
direction (or the writing's, for a line too short to show one) into a level crop with a margin of
paper around it, `MARGIN_X` and `MARGIN_Y` of the line's height, as the photographed lines of
`data.photolines` were cut. `data.photolines.photo_strip` makes the crop the model's input, the
model (a line run trained with `world: photo`, `mnistlab train --preset photo-line`) reads it, and
each character's columns are mapped back to a box in the photo.

No rule about ink, paper, light or ruling stands between the photo and the model: the model learned
them. A line is sure when its least sure character reaches the threshold chosen on the run's
validation lines; a reading is sure when every found line is read, sure, and holds digits only.
The margins were chosen on the development photos (`benchmarks/photos.py`), never on the field
photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistlab.data import photolines, strip
from mnistlab.images import ImageError, to_mnist_array
from mnistlab.reading import detect, fields, reasons

MARGIN_X = 0.4  # paper kept before and after a found line, in line heights
MARGIN_Y = 0.05  # ... and above and below it (the found height already runs past the ink)
JOIN = 1.0  # pieces of a found line closer than this many line heights are one line
OWN_ANGLE = 1.5  # a found line this many times as long as high is cut along its own direction
WORK_HEIGHT = 64  # a crop is sampled this many pixels tall (then brought to the strip's height)
SEPARATORS = "./-,:"
POLARITY = 2.0  # see `dark_on_light` (chosen on the calibration photos and composed numbers of tools/fit_verdict.py)


@dataclass
class Crop:
    """A found line's level crop and the way back: picture point = origin + u * du + v * dv."""

    gray: np.ndarray
    origin: np.ndarray
    du: np.ndarray
    dv: np.ndarray
    line: detect.Line

    def box(self, u0: float, v0: float, u1: float, v1: float, shape) -> list[int]:
        pts = np.array([self.origin + u * self.du + v * self.dv for u in (u0, u1) for v in (v0, v1)])
        return detect.bounds(pts, shape)


def crop_line(gray: np.ndarray, line: detect.Line, angle: float) -> Crop:
    """The picture sampled along `angle` (radians) around `line`: level, WORK_HEIGHT rows."""
    from PIL import Image

    height = max(line.height, 4.0)
    full_h = height * (1 + 2 * MARGIN_Y)
    full_w = line.length + 2 * MARGIN_X * height
    k = WORK_HEIGHT / full_h  # crop pixels per picture pixel
    picture = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))
    factor = int(np.floor(1 / k / 2))  # shrink by whole steps first, averaging, so nothing aliases
    if factor >= 2:
        picture = picture.reduce(factor)
    else:
        factor = 1
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-np.sin(angle), np.cos(angle)])
    centre = np.array([line.cx, line.cy])
    origin = centre - full_w / 2 * d - full_h / 2 * n
    out_w, out_h = max(8, int(round(full_w * k))), WORK_HEIGHT
    du, dv = d / k, n / k  # picture pixels per crop pixel
    o = origin / factor  # in the reduced picture
    coeffs = (du[0] / factor, dv[0] / factor, o[0], du[1] / factor, dv[1] / factor, o[1])
    edge = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    out = picture.transform(
        (out_w, out_h),
        Image.Transform.AFFINE,
        coeffs,
        resample=Image.Resampling.BILINEAR,
        fillcolor=int(np.median(edge)),
    )
    return Crop(np.asarray(out, np.float64), origin, du, dv, line)


def dark_on_light(crop: np.ndarray) -> np.ndarray:
    """A line's crop as dark writing on lighter paper, as the photo line model learned lines: a crop
    whose brightest pixels stand more than POLARITY times as far from its middle grey (the paper:
    most of a line's crop) as its darkest ones is light writing on dark (MNIST's own white on black,
    chalk, a screen), and comes back inverted. (At 1, glare and bright paper beside a line's shadow
    turned dark writing over.)"""
    lo, mid, hi = np.percentile(crop, [2, 50, 98])
    return 255.0 - crop if hi - mid > POLARITY * (mid - lo) else crop


def read_found(gray: np.ndarray, found: list[detect.Line], model) -> dict:
    """A reading (the dict `read.read_gray` returns) of the lines the detector found in `gray`,
    each read by the photo line model `model` (`linemodel.LineModel` of a photo run)."""
    gray = np.asarray(gray, np.float64)
    writing = detect.text_angle(found, OWN_ANGLE)
    crops = []
    for ln in reading_order(found, writing):
        angle = ln.angle if ln.length >= OWN_ANGLE * ln.height else writing
        crops.append(crop_line(gray, ln, angle))
    strips = [photolines.photo_strip(dark_on_light(c.gray)) for c in crops]
    probs = model.probabilities(strips)
    lines_out, inputs, unsure = [], [], []
    for c, s, p in zip(crops, strips, probs):
        chars, least = strip.decode(p)
        fields.make_possible(chars)
        text = "".join(ch.char for ch in chars)
        if not chars:
            unsure.append("missing_line")
            continue
        scale = c.gray.shape[1] / s.shape[1]  # crop pixels per strip column
        edges = [0.0] + [(a.x1 + b.x0) / 2 for a, b in zip(chars, chars[1:])] + [float(s.shape[1])]
        v0, v1 = MARGIN_Y * WORK_HEIGHT / (1 + 2 * MARGIN_Y), (1 + MARGIN_Y) * WORK_HEIGHT / (1 + 2 * MARGIN_Y)
        digits, seps, previous = [], [], None
        for ch, left, right in zip(chars, edges, edges[1:]):
            # A character's box: its own columns (CTC marks a step or two; a character owns the
            # columns halfway to its neighbours), the line's height.
            u0 = max(left, ch.x0 - strip.STRIDE) * scale
            u1 = min(right, ch.x1 + strip.STRIDE) * scale
            box = c.box(u0, v0, u1, v1, gray.shape)
            if previous is not None and box[0] < previous[2]:  # a slight tilt: neighbours share an edge
                previous[2] = box[0] = (box[0] + previous[2]) // 2
            previous = box
            if ch.char in SEPARATORS:
                seps.append({"char": ch.char, "box": box})
            elif ch.char.isdigit():
                digits.append(
                    {"digit": int(ch.char), "confidence": round(float(ch.confidence), 4), "accepted": True, "box": box}
                )
                inputs.append(_input(c.gray, u0, u1, v0, v1))
            else:
                unsure.append("stray_mark")
        if least < model.threshold:
            unsure.append("unclear_digit")
        if not digits:
            unsure.append("missing_line" if not seps else "stray_mark")
            continue
        boxes = np.array([d["box"] for d in digits] + [sp["box"] for sp in seps])
        lines_out.append(
            {
                "text": text,
                "box": [int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())],
                "digits": digits,
                "separators": seps,
                "confidence": round(float(least), 4),
            }
        )
    if not lines_out:
        return reasons.empty("too_small")
    out = {
        "text": "\n".join(line["text"] for line in lines_out),
        "accepted": not unsure,
        "digits": [d for line in lines_out for d in line["digits"]],
        "separators": [sp for line in lines_out for sp in line["separators"]],
        "lines": lines_out,
        "inputs": inputs,
    }
    if unsure:
        out["reason"] = unsure[0]
        out["note"] = reasons.say(unsure[0], count=unsure.count("missing_line"))
    return out


def reading_order(found: list[detect.Line], writing: float) -> list[detect.Line]:
    """The found lines top to bottom along the writing's direction; lines side by side (`side_by_side`)
    left to right, and pieces of one line (the gap between them under `JOIN` line heights: the
    detector can break a small line) joined."""
    d = np.array([np.cos(writing), np.sin(writing)])
    n = np.array([-np.sin(writing), np.cos(writing)])

    def across(ln):
        return float(np.array([ln.cx, ln.cy]) @ n)

    def along(ln):
        return float(np.array([ln.cx, ln.cy]) @ d)

    def side_by_side(a, b):
        """Two lines on one row: middles less than half a line height apart across the writing, or,
        where neither reaches along the writing into the other's stretch, bands that overlap across
        it (the writing's direction, guessed from short lines, can be off by some degrees; lines one
        above the other share a stretch along it)."""
        gap = abs(across(a) - across(b))
        if gap < 0.5 * max(a.height, b.height):
            return True
        apart = abs(along(a) - along(b)) > (a.length + b.length) / 2
        return apart and gap < (a.height + b.height) / 2

    rows: list[list[detect.Line]] = []
    for ln in sorted(found, key=across):
        if rows and side_by_side(ln, rows[-1][-1]):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = []
    for row in rows:
        pieces = []  # (start, end along the writing, line)
        for ln in sorted(row, key=along):
            mid = along(ln)
            start, end = mid - ln.length / 2, mid + ln.length / 2
            if pieces and start - pieces[-1][1] < JOIN * max(ln.height, pieces[-1][2].height):
                a, _, last = pieces[-1]
                pieces[-1] = (a, max(end, pieces[-1][1]), _joined(last, ln, d))
            else:
                pieces.append((start, end, ln))
        out.extend(ln for _, _, ln in pieces)
    return out


def _joined(a: detect.Line, b: detect.Line, d: np.ndarray) -> detect.Line:
    """One line along direction `d` from the start of `a` to the end of `b`."""
    ends = np.concatenate([a.ends(), b.ends()])
    along = ends @ d
    first, last = ends[int(np.argmin(along))], ends[int(np.argmax(along))]
    centre = (first + last) / 2
    return detect.Line(
        cx=float(centre[0]),
        cy=float(centre[1]),
        angle=float(np.arctan2(d[1], d[0])),
        length=float(along.max() - along.min()),
        height=max(a.height, b.height),
    )


def _input(crop: np.ndarray, u0, u1, v0, v1) -> np.ndarray:
    """The 28x28 picture of one character (for pages that show what was read)."""
    part = crop[int(v0) : int(np.ceil(v1)), int(u0) : int(np.ceil(u1))]
    try:
        return np.asarray(to_mnist_array(part), np.float32)
    except (ImageError, ValueError):
        return np.zeros((28, 28), np.float32)
