"""A drawing, not a photograph: a picture made by a program (a drawing pad's canvas, a screenshot,
a rendered number) rather than by a camera.

A camera's picture carries sensor noise and uneven light, so no one grey covers much of it; a
canvas is one exact grey wherever nothing is drawn. Such a picture is read as it is, without the
text detector and the photo line model: they learned photos of paper, and on the web page's pad
(white strokes on black, digits up to 190 pixels tall and far apart) the marks alone read better
(150 pad drawings, `tools/fit_verdict.py`'s pad seed: 88.0% exact and 56% sure without the
detector, 83.3% and 30% with the bundled detector, 73.3% and 11% with a detector that learned coffee
rings and lost a lone 1 drawn 130 pixels tall).

FLAT was chosen on the calibration photos (1,000: the largest share of a picture that one grey
covers is 0.13), the development photos (500: 0.15) and those 150 pad drawings (the smallest 0.83);
the composed numbers (300, photographed and saved as JPEG) reach 0.61 where light clips a line's
paper to white.
"""

from __future__ import annotations

import numpy as np

FLAT = 0.75  # a drawing: this share of its pixels or more is one exact grey
STEP = 4  # every STEP-th row and column is enough to count


def is_drawing(gray: np.ndarray) -> bool:
    """Whether a grayscale picture (H, W, 0..255) is a drawing: FLAT of it one exact grey."""
    g = np.asarray(gray)
    if g.ndim != 2 or g.size == 0:
        return False
    if min(g.shape) >= 8 * STEP:
        g = g[::STEP, ::STEP]
    levels = np.clip(np.rint(g), 0, 255).astype(np.intp).ravel()
    return bool(np.bincount(levels, minlength=256).max() >= FLAT * levels.size)
