"""A picture of a number -> digit boxes -> one batch through the model -> text.

1. The picture is decoded and, if large, shrunk so the work is bounded (at most `WORK_PIXELS`).
2. Its ink is found exactly as for a single digit (`images.ink_map`: either polarity, contrast
   stretched, paper noise dropped) and split into connected components.
3. Specks are dropped; pieces that share most of their columns are merged (a 5's flag, a 7's bar,
   a broken faint stroke); underlines and isolated dots are dropped.
4. Pieces wider than a digit may be several touching digits: candidate cuts at the thinnest columns
   are scored by the classifier itself, and a small dynamic program picks the cuts whose pieces the
   model reads most confidently (no cut is one of the candidates).
5. Every piece is prepared exactly as `predict` prepares a file (`images.to_mnist_array`) and all of a
   picture's pieces go through the model in one batch; digits are read left to right.

A picture with exactly one piece and nothing dropped is prepared from the whole picture, so `read`
and `predict` give the same answer for a single digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .images import ImageError, ink_map, to_mnist_array

WORK_PIXELS = 2_000_000      # pictures are shrunk to at most this many pixels before segmenting
MAX_SIDE = 4000              # ... and at most this long on either side
MAX_COMPONENTS = 20_000      # more raw ink fragments than this: noise, refused at once
MAX_PIECES = 60              # more candidate marks than this after clean-up: not a line of digits
MAX_DIGITS = 20
MAX_DIGITS_PER_PIECE = 6
CUT_PENALTY = 0.25           # log-confidence a cut must buy, so clean single digits stay whole
SPLIT_CONFIDENCE = 0.9       # every piece of a cut must be read at least this confidently
MAX_STROKES_CUT = 2.0        # touching digits meet at a joint: a cut may cross at most two strokes


@dataclass
class Piece:
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    labels: list[int] = field(default_factory=list)
    labels_mask: np.ndarray | None = None  # which pixels of the box belong to this piece
    cut: tuple[int, int] | None = None      # for a split candidate: its cut points (from, to)
    points: int = 0                          # for a split candidate: how many cut points its piece has

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def read_gray(gray: np.ndarray, judge) -> dict:
    """Read the digits in a grayscale picture (H, W, 0..255).

    `judge(arrays)` takes (N, 28, 28) prepared images and returns (calibrated probabilities,
    confidence, accepted) per image, as `predict.Predictor.judge` does.
    Returns {"text", "accepted", "digits": [{"digit", "confidence", "accepted", "box"}], "note"?}
    plus "inputs" (the 28x28 images the model saw) for callers that show them.
    """
    gray = np.asarray(gray, dtype=np.float64)
    scale, small = _shrink(gray)
    try:
        ink = ink_map(small)
    except ImageError:
        return _result([], [], None, note="no ink: the picture is blank or has almost no contrast")
    pieces, note, dropped = _pieces(ink)
    if note:
        return _result([], [], None, note=note)
    if not pieces:
        return _result([], [], None, note="no marks big enough to be digits")

    # Every piece and every split candidate of wide pieces, all in one batch. One mark with nothing
    # cleaned away is prepared from the whole picture, exactly as `predict` prepares a file.
    whole_picture = len(pieces) == 1 and not dropped
    per_piece = []
    arrays: list[np.ndarray] = []
    for p in pieces:
        own = to_mnist_array(gray) if whole_picture else _prepare(ink, p)
        cands = _split_candidates(p, ink)
        per_piece.append((len(arrays), own, cands))
        arrays.append(own)
        arrays.extend(a for _, a in cands)
    probs, conf, acc = judge(np.stack(arrays))
    boxes, chosen_arrays, rows = [], [], []
    for p, (start, own, cands) in zip(pieces, per_piece, strict=True):
        window = slice(start + 1, start + 1 + len(cands))
        chosen = _choose(cands, conf[window], acc[window], whole_conf=conf[start])
        if chosen is None:
            boxes.append(_scale_box(p, scale, gray.shape))
            chosen_arrays.append(own)
            rows.append(start)
        else:
            for k in chosen:
                box, arr = cands[k]
                boxes.append(_scale_box(box, scale, gray.shape))
                chosen_arrays.append(arr)
                rows.append(start + 1 + k)
    if len(boxes) > MAX_DIGITS:
        return _result([], [], None, note=f"{len(boxes)} marks found; mnistlab reads at most {MAX_DIGITS} digits on a line")
    rows_arr = np.array(rows)
    return _result(boxes, chosen_arrays, (probs[rows_arr], conf[rows_arr], acc[rows_arr]))


def _result(boxes, arrays, judged, note: str | None = None) -> dict:
    digits = []
    if judged is not None:
        probs, conf, acc = judged
        for box, p, c, a in zip(boxes, probs, conf, acc, strict=True):
            digits.append({"digit": int(np.argmax(p)), "confidence": round(float(c), 4), "accepted": bool(a),
                           "box": [int(v) for v in box]})
    text = "".join(str(d["digit"]) if d["accepted"] else "?" for d in digits)
    out = {"text": text, "accepted": bool(digits) and all(d["accepted"] for d in digits), "digits": digits,
           "inputs": [np.asarray(a, np.float32) for a in arrays]}
    if note:
        out["note"] = note
    return out


# --- geometry -------------------------------------------------------------------------------------

def _shrink(gray: np.ndarray) -> tuple[float, np.ndarray]:
    """(scale factor from the working copy back to the picture, the working copy)."""
    from PIL import Image

    h, w = gray.shape
    factor = max(1.0, (h * w / WORK_PIXELS) ** 0.5, max(h, w) / MAX_SIDE)
    if factor <= 1.0:
        return 1.0, gray
    nw, nh = max(1, int(w / factor)), max(1, int(h / factor))
    img = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.BOX)
    return w / nw, np.asarray(img, dtype=np.float64)


def _scale_box(p: Piece, scale: float, shape) -> list[int]:
    h, w = shape
    return [int(min(w, p.x0 * scale)), int(min(h, p.y0 * scale)),
            int(min(w, round(p.x1 * scale))), int(min(h, round(p.y1 * scale)))]


def _pieces(ink: np.ndarray) -> tuple[list[Piece], str | None, bool]:
    """Connected ink components -> cleaned, merged pieces sorted left to right.

    Returns (pieces, a note when the picture is refused, whether anything was dropped).
    """
    from scipy import ndimage

    labels, n = ndimage.label(ink > 0, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return [], None, False
    if n > MAX_COMPONENTS:
        return [], f"{n:,} separate ink fragments: this looks like noise or texture, not a line of digits", False
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    slices = ndimage.find_objects(labels)
    biggest = areas.max()
    keep = [i for i in range(n) if areas[i] >= max(3, 0.01 * biggest)]
    dropped = len(keep) < n
    if len(keep) > 4 * MAX_PIECES:
        return [], f"{len(keep):,} separate marks: too many for a line of at most {MAX_DIGITS} digits", dropped
    comps = [Piece(slices[i][1].start, slices[i][0].start, slices[i][1].stop, slices[i][0].stop, [i + 1])
             for i in keep]
    line_h = float(np.percentile([c.height for c in comps], 90))
    # Underlines (flat, wider than a digit) go before merging, or they would join every digit above.
    flat = [c for c in comps if c.height < 0.25 * line_h and c.width > 1.2 * line_h and c.width > 6 * c.height]
    if flat and len(flat) < len(comps):
        comps = [c for c in comps if c not in flat]
        dropped = True
        line_h = float(np.percentile([c.height for c in comps], 90))

    # Merge pieces that share most of their columns (a 5's flag, a 7's bar, a broken stroke), or
    # that almost touch when one of them is a small fragment.
    comps.sort(key=lambda c: c.x0)
    merged = True
    while merged:
        merged = False
        for i in range(len(comps)):
            for j in range(i + 1, len(comps)):
                a, b = comps[i], comps[j]
                overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
                narrow = min(a.width, b.width)
                small = min(a.height, b.height) < 0.45 * line_h
                gap = max(a.x0, b.x0) - min(a.x1, b.x1)
                # Two full-height pieces side by side are two slanted or crowded digits unless they
                # share nearly all their columns; a small piece joins what it sits over or touches.
                shared = overlap >= (0.5 if min(a.height, b.height) < 0.6 * line_h else 0.8) * narrow
                if shared or (small and gap <= max(1, 0.04 * line_h) and
                              abs((a.y0 + a.y1) - (b.y0 + b.y1)) < line_h):
                    comps[i] = Piece(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1),
                                     a.labels + b.labels)
                    del comps[j]
                    merged = True
                    break
            if merged:
                break
    line_h = float(np.percentile([c.height for c in comps], 90))
    pieces = []
    for c in comps:
        dot = c.height < 0.3 * line_h and c.width < 0.5 * line_h
        if dot:
            dropped = True
            continue
        pieces.append(c)
    if len(pieces) > MAX_PIECES:
        return [], f"{len(pieces)} separate marks: too many for a line of at most {MAX_DIGITS} digits", dropped
    for p in pieces:
        p.labels_mask = np.isin(labels[p.y0:p.y1, p.x0:p.x1], p.labels)
    return pieces, None, dropped


def _prepare(ink: np.ndarray, p: Piece, x0: int | None = None, x1: int | None = None) -> np.ndarray:
    """One piece (optionally only columns x0..x1 of it) prepared like a single digit."""
    sub = ink[p.y0:p.y1, p.x0:p.x1] * p.labels_mask
    if x0 is not None:
        sub = sub[:, x0 - p.x0: x1 - p.x0]
    return to_mnist_array(np.pad(sub * 255.0, 2)) if sub.any() else np.zeros((28, 28), np.float32)


def _split_candidates(p: Piece, ink: np.ndarray) -> list[tuple[Piece, np.ndarray]]:
    """Sub-pieces between candidate cut columns of a piece wide enough to hold touching digits."""
    h = p.height
    if p.width < 0.9 * h:
        return []
    own = ink[p.y0:p.y1, p.x0:p.x1] * p.labels_mask
    cols = own.sum(axis=0)
    k = max(1, h // 12)
    smooth = np.convolve(cols, np.ones(k) / k, mode="same")
    lo, hi = int(0.1 * h), p.width - int(0.1 * h)
    if hi <= lo:
        return []
    inner = np.arange(lo, hi)
    # A column crossing n strokes holds about n stroke widths of ink: only joints are cut.
    inner = inner[smooth[inner] <= MAX_STROKES_CUT * _stroke_width(own)]
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
            sub = p.labels_mask[:, a:b] & (ink[p.y0:p.y1, p.x0 + a:p.x0 + b] > 0)
            rows = np.flatnonzero(sub.any(axis=1))
            if len(rows) == 0 or sub.sum() < 3:
                continue
            box = Piece(p.x0 + a, p.y0 + int(rows[0]), p.x0 + b, p.y0 + int(rows[-1]) + 1)
            box.cut = (i, j)
            out.append((box, _prepare(ink, p, p.x0 + a, p.x0 + b)))
    for box, _ in out:
        box.points = len(points)
    return out


def _stroke_width(ink: np.ndarray) -> float:
    """Median length of the horizontal runs of ink: how thick the pen was."""
    on = np.pad(ink > 0, ((0, 0), (1, 1)))
    edges = np.diff(on.astype(np.int8), axis=1)
    starts, ends = np.nonzero(edges == 1), np.nonzero(edges == -1)
    runs = ends[1] - starts[1]
    return float(np.median(runs)) if len(runs) else 1.0


def _choose(candidates, conf: np.ndarray, accepted: np.ndarray, whole_conf: float) -> list[int] | None:
    """The cut of a piece whose pieces the model reads most confidently, or None for no cut.

    Only cuts whose every piece the model accepts as a digit, and reads with at least
    SPLIT_CONFIDENCE, are considered: cutting a scribble must not be a way to find digits in it.
    """
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
        options = [(best[i][0] + s, best[i][1] + [k], best[i][2] + 1)
                   for i, s, k in edges.get(j, []) if i in best and best[i][2] < MAX_DIGITS_PER_PIECE]
        if options:
            best[j] = max(options, key=lambda o: o[0])
    end = best.get(n_points - 1)
    if end is None or end[0] + CUT_PENALTY <= float(np.log(max(whole_conf, 1e-6))):
        return None
    return end[1]
