"""Touching digits: where a wide mark may be cut, and which cut the classifier reads best.

Candidate cuts are the thinnest columns of a mark that cross at most two strokes (touching digits
meet at a joint); every piece between two candidates is prepared like a single digit, and a small
dynamic program picks the cuts whose pieces the model reads most confidently (no cut is one of the
choices). Only cuts whose every piece is an accepted digit read at SPLIT_CONFIDENCE or more count, so
cutting a scribble is never a way to find digits in it.
"""

from __future__ import annotations

import numpy as np

from mnistlab import morph
from mnistlab.images import to_mnist_array
from mnistlab.reading.marks import Piece

MAX_DIGITS_PER_PIECE = 6
CUT_PENALTY = 0.25  # log-confidence a cut must buy, so clean single digits stay whole
SPLIT_CONFIDENCE = 0.9  # every piece of a cut must be read at least this confidently
MAX_STROKES_CUT = 2.0  # touching digits meet at a joint: a cut may cross at most two strokes


def prepare(ink: np.ndarray, p: Piece, x0: int | None = None, x1: int | None = None) -> np.ndarray:
    """One piece (optionally only columns x0..x1 of it) prepared like a single digit."""
    sub = ink[p.y0 : p.y1, p.x0 : p.x1] * p.labels_mask
    if x0 is not None:
        sub = sub[:, x0 - p.x0 : x1 - p.x0]
    return as_digit(sub)


def as_digit(crop: np.ndarray) -> np.ndarray:
    """An ink crop (0..1) prepared like a single digit (a blank one as a blank image)."""
    return to_mnist_array(morph.pad(crop * 255.0, 2)) if crop.any() else np.zeros((28, 28), np.float32)


def split_candidates(p: Piece, ink: np.ndarray) -> list[tuple[Piece, np.ndarray]]:
    """Sub-pieces between candidate cut columns of a piece wide enough to hold touching digits."""
    h = p.height
    if p.width < 0.9 * h:
        return []
    own = ink[p.y0 : p.y1, p.x0 : p.x1] * p.labels_mask
    cols = own.sum(axis=0)
    k = max(1, h // 12)
    smooth = np.convolve(cols, np.ones(k) / k, mode="same")
    lo, hi = int(0.1 * h), p.width - int(0.1 * h)
    if hi <= lo:
        return []
    inner = np.arange(lo, hi)
    # A column crossing n strokes holds about n stroke widths of ink: only joints are cut.
    inner = inner[smooth[inner] <= MAX_STROKES_CUT * stroke_width(own)]
    # The thinnest columns, at least an eighth of the height apart: where touching digits meet
    # (a narrow 1 is about that wide).
    order = inner[np.argsort(smooth[inner], kind="stable")]
    cuts: list[int] = []
    for c in order:
        if all(abs(c - d) >= 0.12 * h for d in cuts):
            cuts.append(int(c))
        if len(cuts) >= 12:
            break
    points = [0] + sorted(cuts) + [p.width]
    out = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            a, b = points[i], points[j]
            if (i, j) == (0, len(points) - 1) or b - a < 0.12 * h or b - a > 1.3 * h:
                continue
            sub = p.labels_mask[:, a:b] & (ink[p.y0 : p.y1, p.x0 + a : p.x0 + b] > 0)
            rows = np.flatnonzero(sub.any(axis=1))
            if len(rows) == 0 or sub.sum() < 3:
                continue
            box = Piece(p.x0 + a, p.y0 + int(rows[0]), p.x0 + b, p.y0 + int(rows[-1]) + 1)
            box.cut = (i, j)
            out.append((box, prepare(ink, p, p.x0 + a, p.x0 + b)))
    for box, _ in out:
        box.points = len(points)
    return out


def stroke_width(ink: np.ndarray) -> float:
    """Median length of the horizontal runs of ink: how thick the pen was (1 for no ink)."""
    return morph.median_run(ink > 0) or 1.0


def choose(candidates, conf: np.ndarray, accepted: np.ndarray, whole_conf: float) -> list[int] | None:
    """The cut of a piece whose pieces the model reads most confidently, or None for no cut."""
    if not candidates:
        return None
    n_points = candidates[0][0].points
    edges: dict[int, list[tuple[int, float, int]]] = {}
    for k, ((box, _), c, a) in enumerate(zip(candidates, conf, accepted, strict=True)):
        if not a or c < SPLIT_CONFIDENCE:
            continue
        i, j = box.cut
        edges.setdefault(j, []).append((i, float(np.log(max(c, 1e-6))) - CUT_PENALTY, k))
    best = {0: (0.0, [], 0)}
    for j in range(1, n_points):
        options = [
            (best[i][0] + s, best[i][1] + [k], best[i][2] + 1)
            for i, s, k in edges.get(j, [])
            if i in best and best[i][2] < MAX_DIGITS_PER_PIECE
        ]
        if options:
            best[j] = max(options, key=lambda o: o[0])
    end = best.get(n_points - 1)
    if end is None or end[0] + CUT_PENALTY <= float(np.log(max(whole_conf, 1e-6))):
        return None
    return end[1]
