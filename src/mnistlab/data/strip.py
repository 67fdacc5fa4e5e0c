"""A line of ink -> the fixed-height strip the line model reads, and its output -> characters.

Both halves are numpy only (the core install has no TensorFlow): `to_strip` is the one way a line
becomes model input, in training (`linesynth`) and in reading alike, and `decode` is greedy CTC
decoding with a confidence and a column span for every character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCAB = "0123456789.,/-:?"  # "?": a mark that is neither a digit nor a separator
BLANK = 0  # class 0 is CTC's blank; character k of VOCAB is class k + 1
HEIGHT = 32  # strip height in pixels
INK_HEIGHT = 24  # the line's ink is scaled to this height, centred
MARGIN = 4  # blank columns on each side
STRIDE = 4  # strip columns per model output step
MAX_WIDTH = 1024  # longer strips are squeezed to this width


def to_strip(ink: np.ndarray) -> tuple[np.ndarray, float, int] | None:
    """Ink (H, W), 0..1 on a zero background -> (strip (HEIGHT, W') float32 0..255, scale, x offset).

    The ink's bounding box is scaled to INK_HEIGHT rows; `scale` and the offset map a strip column
    back to the ink's columns: x_ink = (x_strip - MARGIN) / scale + offset. None for no ink.
    """
    from PIL import Image

    ink = np.asarray(ink, np.float32)
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    cols = np.flatnonzero(ink.max(axis=0) > 0.05)
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = INK_HEIGHT / h
    width = max(2, int(round(w * scale)))
    if width > MAX_WIDTH - 2 * MARGIN:
        width = MAX_WIDTH - 2 * MARGIN
    img = Image.fromarray(crop * 255.0, mode="F").resize(
        (width, INK_HEIGHT), Image.Resampling.BILINEAR, reducing_gap=None if scale > 0.5 else 2.0
    )
    out = np.zeros((HEIGHT, width + 2 * MARGIN), np.float32)
    top = (HEIGHT - INK_HEIGHT) // 2
    out[top : top + INK_HEIGHT, MARGIN : MARGIN + width] = np.clip(np.asarray(img, np.float32), 0, 255)
    return out, width / w, int(cols[0])


@dataclass
class Char:
    char: str
    confidence: float
    x0: float  # strip columns covered by the character's output steps
    x1: float
    digits: np.ndarray | None = None  # each digit's highest probability over the character's steps


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def decode(probs: np.ndarray) -> tuple[list[Char], float]:
    """Greedy CTC decoding of one line's per-step probabilities (T, classes).

    A character's confidence is its peak probability over its own steps, lowered where a character
    nearly appeared in the blank steps beside it (a step where some other character has
    probability r leaves the neighbouring character at most 1 - r: the text could have had one more
    character there). A character that merely spreads over one more step changes nothing and costs
    nothing. Returns (characters, the least confidence, 0 for none).
    """
    best = probs.argmax(axis=-1)
    chars: list[Char] = []
    owner = np.full(len(best), -1)  # which character each step belongs to (-1: blank)
    prev = BLANK
    for t, k in enumerate(best):
        k = int(k)
        if k != BLANK and k != prev:
            chars.append(
                Char(VOCAB[k - 1], float(probs[t, k]), t * STRIDE, (t + 1) * STRIDE, probs[t, 1:11].astype(np.float64))
            )
        elif k != BLANK:  # the same character continues
            chars[-1].confidence = max(chars[-1].confidence, float(probs[t, k]))
            chars[-1].x1 = (t + 1) * STRIDE
            chars[-1].digits = np.maximum(chars[-1].digits, probs[t, 1:11])
        if k != BLANK:
            owner[t] = len(chars) - 1
        prev = k
    if not chars:
        return chars, 0.0
    centres = np.array([(c.x0 + c.x1) / 2 for c in chars])
    for t in np.flatnonzero(owner < 0):
        p = probs[t].copy()
        p[BLANK] = 0.0
        # A character's own class next to it would only widen it.
        for j in (t - 1, t + 1):
            if 0 <= j < len(best) and owner[j] >= 0:
                p[int(best[j])] = 0.0
        risk = float(p.max())
        if risk > 1e-3:
            near = int(np.argmin(np.abs(centres - (t + 0.5) * STRIDE)))
            chars[near].confidence = min(chars[near].confidence, 1.0 - risk)
    return chars, min(c.confidence for c in chars)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: characters inserted, deleted or changed to turn `a` into `b`."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
