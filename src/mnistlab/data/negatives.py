"""Synthetic non-digits: what a digit reader must learn to say "not a digit" to.

Every sample is drawn on a canvas the way a person's picture would arrive and then goes through the
same MNIST-style preparation as a user's file (`images.to_mnist_array`), so the model sees non-digits
exactly as it will see them in `predict` and `read`. Kinds:

- glyphs and words: letters and symbols that no digit resembles, from the fonts of one group;
- strokes: random scribbles of three or more turning segments;
- shapes: stars, triangles, squares, arrows, crosses, hatching;
- noise: speckle, blobs, gratings, checkerboards;
- fragments: a cut-off part of a digit, or two digits squeezed into one picture (from the images given).

`make_negatives(n, seed, fonts, digits)` is deterministic for its arguments. Training uses the
`train` font group and its own seeds; the reading benchmark uses the `eval` group and other seeds.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from mnistlab.data.fonts import font_files
from mnistlab.data.synth import cached, photograph, render_text
from mnistlab.images import ImageError, to_mnist_array

# Letters and symbols whose shapes no digit shares. Left out on purpose: O o D Q (0), I l i j J | (1),
# Z z (2), S s (5), b G (6), T (7), B (8), g q (9), and lone strokes like - _ / \ . , ' that are a 1.
GLYPHS = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy#%&@*+=?!<>~{}$€£¥§¶©®ΔΣΩΨΦΓΛΞΠαβηθλμπψωЖЯФШЩЮДЛ"

KINDS = ("glyph", "word", "strokes", "shape", "noise", "fragment")
WEIGHTS = (0.30, 0.10, 0.18, 0.12, 0.10, 0.20)


def make_negatives(
    n: int,
    seed: int,
    fonts: list[Path] | None = None,
    digits: np.ndarray | None = None,
    kinds: tuple[str, ...] = KINDS,
    weights: tuple[float, ...] | None = None,
) -> np.ndarray:
    """`n` non-digit images, (n, 28, 28) uint8, bright ink on black, prepared like a user's file.

    `fonts` are the font files to draw letters from (Pillow's built-in font if empty); `digits` are
    digit images (N, 28, 28) to cut fragments and pairs from (fragments are skipped without them).
    """
    rng = np.random.default_rng(seed)
    font_list: list[Path | None] = list(fonts) if fonts else [None]
    kinds = tuple(k for k in kinds if k != "fragment" or digits is not None)
    w = np.array([dict(zip(KINDS, weights or WEIGHTS))[k] for k in kinds], dtype=np.float64)
    w /= w.sum()
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    makers = {
        "glyph": _glyph,
        "word": _word,
        "strokes": _strokes,
        "shape": _shape,
        "noise": _noise,
        "fragment": _fragment,
    }
    i = 0
    while i < n:
        kind = kinds[int(rng.choice(len(kinds), p=w))]
        canvas = makers[kind](rng, font_list, digits)
        if canvas is None:
            continue
        try:
            arr = to_mnist_array(photograph(canvas, rng))
        except ImageError:
            continue
        out[i] = np.clip(np.round(arr), 0, 255).astype(np.uint8)
        i += 1
    return out


def training_negatives(n: int, seed: int, digits: np.ndarray) -> np.ndarray:
    """`make_negatives` from the `train` font group, cached on disk by its arguments."""
    fonts = font_files("train")
    key = (n, seed, [f.name for f in fonts], hashlib.sha256(digits.tobytes()).hexdigest())
    return cached("negatives", key, lambda: make_negatives(n, seed, fonts, digits))


# --- the kinds ------------------------------------------------------------------------------------


def _blank(rng, h=None, w=None):
    h = h or int(rng.integers(40, 120))
    w = w or int(rng.integers(40, 120))
    return np.zeros((h, w), dtype=np.float64)


def _glyph(rng, fonts, digits):
    return render_text(GLYPHS[int(rng.integers(len(GLYPHS)))], fonts[int(rng.integers(len(fonts)))], rng)


def _word(rng, fonts, digits):
    letters = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy"
    text = "".join(letters[int(k)] for k in rng.integers(0, len(letters), int(rng.integers(2, 5))))
    return render_text(text, fonts[int(rng.integers(len(fonts)))], rng)


def _draw(canvas_shape, lines, width, polygons=()):
    from PIL import Image, ImageDraw

    img = Image.new("L", (canvas_shape[1], canvas_shape[0]), 0)
    d = ImageDraw.Draw(img)
    for pts in lines:
        d.line([tuple(map(float, p)) for p in pts], fill=255, width=width, joint="curve")
    for pts, fill in polygons:
        d.polygon([tuple(map(float, p)) for p in pts], fill=255 if fill else None, outline=255, width=width)
    return np.asarray(img, dtype=np.float64)


def _strokes(rng, fonts, digits):
    canvas = _blank(rng)
    h, w = canvas.shape
    lines = []
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(4, 9))  # at least three turning segments: never a lone bar (a "1")
        pts = np.stack([rng.uniform(0.1 * w, 0.9 * w, k), rng.uniform(0.1 * h, 0.9 * h, k)], axis=1)
        lines.append(pts)
    return _draw(canvas.shape, lines, width=int(rng.integers(2, max(3, min(h, w) // 8))))


def _shape(rng, fonts, digits):
    canvas = _blank(rng)
    h, w = canvas.shape
    cx, cy, r = w / 2, h / 2, 0.4 * min(h, w)
    rot = rng.uniform(0, 2 * math.pi)
    kind = int(rng.integers(0, 6))
    width = int(rng.integers(2, max(3, int(r // 4))))
    fill = bool(rng.random() < 0.3)

    def ring(k, radii):
        return [
            (cx + rr * math.cos(rot + 2 * math.pi * j / k), cy + rr * math.sin(rot + 2 * math.pi * j / k))
            for j, rr in zip(range(k), radii)
        ]

    if kind == 0:  # star
        k = int(rng.integers(5, 9)) * 2
        return _draw(canvas.shape, [], width, [(ring(k, [r if j % 2 == 0 else r * 0.45 for j in range(k)]), fill)])
    if kind == 1:  # triangle / square / pentagon
        k = int(rng.integers(3, 6))
        return _draw(canvas.shape, [], width, [(ring(k, [r] * k), fill)])
    if kind == 2:  # arrow
        pts = [(cx - r, cy), (cx + r, cy)]
        head = [(cx + r * 0.4, cy - r * 0.5), (cx + r, cy), (cx + r * 0.4, cy + r * 0.5)]
        return _rotate(_draw(canvas.shape, [pts, head], width), rng)
    if kind == 3:  # cross / plus / asterisk
        k = int(rng.integers(2, 5))
        lines = [
            [
                (cx - r * math.cos(rot + math.pi * j / k), cy - r * math.sin(rot + math.pi * j / k)),
                (cx + r * math.cos(rot + math.pi * j / k), cy + r * math.sin(rot + math.pi * j / k)),
            ]
            for j in range(k)
        ]
        return _draw(canvas.shape, lines, width)
    if kind == 4:  # hatching / grid
        n = int(rng.integers(3, 7))
        lines = [
            [(0.1 * w + 0.8 * w * j / (n - 1), 0.1 * h), (0.1 * w + 0.8 * w * j / (n - 1), 0.9 * h)] for j in range(n)
        ]
        if rng.random() < 0.6:
            lines += [
                [(0.1 * w, 0.1 * h + 0.8 * h * j / (n - 1)), (0.9 * w, 0.1 * h + 0.8 * h * j / (n - 1))]
                for j in range(n)
            ]
        return _rotate(_draw(canvas.shape, lines, max(1, width // 2)), rng)
    # spiky zig-zag
    n = int(rng.integers(5, 12))
    pts = [(0.1 * w + 0.8 * w * j / (n - 1), cy + (r if j % 2 else -r) * rng.uniform(0.5, 1)) for j in range(n)]
    return _rotate(_draw(canvas.shape, [pts], width), rng)


def _rotate(arr, rng):
    from PIL import Image

    img = Image.fromarray(arr.astype(np.uint8)).rotate(
        float(rng.uniform(0, 360)), resample=Image.Resampling.BILINEAR, expand=True
    )
    return np.asarray(img, dtype=np.float64)


def _noise(rng, fonts, digits):
    h, w = int(rng.integers(28, 100)), int(rng.integers(28, 100))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # speckle
        return (rng.random((h, w)) < rng.uniform(0.05, 0.5)) * 255.0
    if kind == 1:  # smooth random blobs
        from PIL import Image

        small = rng.random((int(rng.integers(3, 8)), int(rng.integers(3, 8)))) * 255
        big = np.asarray(
            Image.fromarray(small.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64
        )
        return np.where(big > np.percentile(big, rng.uniform(40, 80)), big, 0.0)
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == 2:  # grating
        theta, period = rng.uniform(0, math.pi), rng.uniform(4, 16)
        return (np.sin((xx * math.cos(theta) + yy * math.sin(theta)) * 2 * math.pi / period) > 0) * 255.0
    cell = int(rng.integers(4, 14))  # checkerboard
    return (((yy // cell) + (xx // cell)) % 2) * 255.0


def _fragment(rng, fonts, digits):
    if rng.random() < 0.5:  # two digits in one picture, touching or apart
        a, b = digits[rng.integers(0, len(digits), 2)].astype(np.float64)
        gap = int(rng.integers(-6, 6))
        canvas = np.zeros((28, 56 + gap + 8), dtype=np.float64)
        canvas[:, :28] = a
        canvas[:, 28 + gap : 56 + gap] = np.maximum(canvas[:, 28 + gap : 56 + gap], b)
        return canvas
    d = digits[int(rng.integers(0, len(digits)))].astype(np.float64)
    keep = rng.uniform(0.35, 0.6)
    side = int(rng.integers(0, 4))
    cut = int(round(28 * keep))
    part = [d[:cut], d[28 - cut :], d[:, :cut], d[:, 28 - cut :]][side]
    ys, xs = np.nonzero(part > 64)
    if len(ys) < 8:
        return None
    # A thin upright bar left over (most of a 1, the stem of a 7 or 4) is a digit, not a non-digit.
    if (xs.max() - xs.min() + 1) < 0.45 * (ys.max() - ys.min() + 1):
        return None
    return part.copy()
