"""A closer look: writing found in a small part of a large picture is read from that part alone.

A picture is decoded to at most `images.WORK_PIXELS`, so a 12-Mpixel photo of a sheet seen from
afar reaches the reader with its writing a few pixels tall. After the detector's first look,
`look` takes the part around the found lines (`around`: `AROUND` of the picture's longer side all
round), decoded again at the file's own resolution when the file's bytes are at hand
(`images.decode_region`) or else sliced from the picture, and lets the detector look at it. The part
is read in the picture's place where the reader then sees the writing at least `CLOSER` times as
large and the writing would otherwise reach it under `detect.LINE_HEIGHT` pixels tall.

Chosen on 300 calibration photos (`tools/fit_verdict.py`'s seed, photos 101-400) made 12-Mpixel
JPEGs, small in the frame and enlarged to fill it (`docs/reading.md`); never on the field photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistlab.reading.detect import LINE_HEIGHT, Line

AROUND = 0.1  # the part takes in this share of the picture's longer side around the lines
CLOSER = 2.0  # ... and is read where the reader sees the writing in at least this many times more pixels


@dataclass(frozen=True)
class Part:
    """The part of a picture to read: its grey pixels, file pixels per its pixel, its corner
    (x, y) in the file's pixels and the lines the detector found in it."""

    gray: np.ndarray
    scale: float
    origin: tuple[float, float]
    lines: list[Line]


def around(lines: list[Line], shape) -> tuple[int, int, int, int] | None:
    """The part of a picture of `shape` (h, w) a closer look takes: the box (x0, y0, x1, y1) around
    the found lines with `AROUND` of the picture's longer side all round; None for no lines."""
    if not lines:
        return None
    h, w = shape
    pts = np.concatenate([ln.corners() for ln in lines])
    margin = AROUND * max(h, w)
    x0, y0 = (int(max(0, np.floor(v - margin))) for v in pts.min(0))
    x1, y1 = int(min(w, np.ceil(pts[:, 0].max() + margin))), int(min(h, np.ceil(pts[:, 1].max() + margin)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def seen(shape, per_pixel: float) -> float:
    """The reader's pixels per file pixel for a picture of `shape` holding `per_pixel` file pixels
    in each of its own: the reader shrinks every picture to `images.WORK_PIXELS`."""
    from mnistlab.images import WORK_PIXELS

    return min(1.0, (WORK_PIXELS / (shape[0] * shape[1])) ** 0.5) / per_pixel


def look(detector, gray: np.ndarray, found: list[Line], scale: float = 1.0, data: bytes | None = None) -> Part | None:
    """The part of `gray` (decoded `scale` times smaller than its file, `data`) around the lines
    `found` there, to read instead of the whole picture; None where the whole picture reads as well.

    The part is taken where the tallest line `detector` finds in it (the part's look, not the
    first: at a large picture's working size the sheet around small writing can pass for one tall
    line) would reach the reader under `LINE_HEIGHT` pixels tall from the whole picture, and the
    part, shrunk by whole steps while that line stays `LINE_HEIGHT` tall, shows it at least `CLOSER`
    times as large."""
    from mnistlab.images import ImageError, decode_region

    box = around(found, gray.shape)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    whole = seen(gray.shape, scale)
    if data is not None and scale > 1.0:
        if seen(((y1 - y0) * scale, (x1 - x0) * scale), 1.0) < CLOSER * whole:
            return None  # no file pixels to gain
        try:
            part, part_scale = decode_region(data, [v * scale for v in box])
        except ImageError:  # the file was decoded once already; should it fail now, the picture stands
            return None
        origin = (float(int(x0 * scale)), float(int(y0 * scale)))
    else:
        part, part_scale, origin = gray[y0:y1, x0:x1], scale, (x0 * scale, y0 * scale)
    near = seen(part.shape, part_scale)
    if near < CLOSER * whole:
        return None
    lines = detector.find(part)
    height = float(max(ln.height for ln in lines)) * part_scale if lines else 0.0  # file pixels
    if not lines or height * whole >= LINE_HEIGHT:
        return None
    # No larger than the lines need: shrunk by whole steps while they stay LINE_HEIGHT tall.
    step = max(1, int(height * near // LINE_HEIGHT))
    if near / step < CLOSER * whole:
        return None
    if step > 1:
        from PIL import Image

        part = np.asarray(Image.fromarray(part.astype(np.float32), "F").reduce(step), np.float64)
        part_scale *= step
        lines = [Line(ln.cx / step, ln.cy / step, ln.angle, ln.length / step, ln.height / step) for ln in lines]
    return Part(part, part_scale, origin, lines)
