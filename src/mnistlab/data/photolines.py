"""Photographed lines for the photo line reader: a found line's crop of a photo, as the camera saw it.

The ink-line world (`data.lines`) hands the line model ink already separated from the paper by the
reader's rules; on photos those rules fail first. Here the line model learns from the photo itself:
each example is a crop around one line of writing, level to within a few degrees, with the paper,
ruling, neighbouring lines, light and camera around it, standardised by `photo_strip`, the one way a
crop becomes model input in training and in reading (`reading.photoread`).

The writing is `lines.handwritten_line` (MNIST *training* digits, pen-drawn separators, letters from
the `train` fonts, or, for a recipe's `hands` share of it, digits and separators written by a
simulated hand from stroke templates, `data.hands`), half of it re-drawn by a simulated pen from its
skeleton (pen width, pressure, wobble), or `lines.printed_line` in a `train` font. Around it: paper of six colours, white to a
yellow sticky note, ruled or squared or a receipt; ballpoint, black, red and green pen, grainy
pencil, marker; a line above or below cut by the crop; the crop's margins as loose or tight as a
detector's box; uneven and low light with sensor noise, a glare, blur, motion, a picture as small
as 8 pixels a line, JPEG. Nothing here uses the `eval` fonts, the UCI digits, MNIST's test or
validation images, or the benchmarks' generators. `make_lines(n, seed, sources)` is deterministic.
"""

from __future__ import annotations

import io

import numpy as np

from mnistlab.data import lines
from mnistlab.data.lines import Sources, content, handwritten_line, printed_line
from mnistlab.data.strip import HEIGHT, MAX_WIDTH, STRIDE

SOURCE_HEIGHTS = (8.0, 64.0)  # the line's height in the photo before it is brought to HEIGHT
INKS = [  # RGB, opacity range
    ((30, 45, 140), (0.7, 1.0)),  # ballpoint
    ((20, 20, 25), (0.8, 1.0)),  # black pen
    ((175, 35, 40), (0.75, 1.0)),  # red pen
    ((30, 110, 60), (0.75, 1.0)),  # green pen
    ((90, 90, 95), (0.3, 0.75)),  # pencil
    ((15, 15, 45), (0.95, 1.0)),  # marker
    ((70, 60, 150), (0.4, 0.8)),  # a carbon copy
]
PAPERS = [(245, 245, 240), (250, 235, 120), (245, 210, 220), (205, 225, 245), (210, 238, 210), (236, 232, 224)]
PENCIL = 4  # index of pencil in INKS


def photo_strip(gray: np.ndarray) -> np.ndarray | None:
    """A grey crop (h, w) 0..255 around one level line -> the reader's strip (HEIGHT, W) float32
    0..255: HEIGHT rows, its width in proportion (at most MAX_WIDTH), and its own mean and spread
    taken out, darker than the mean brighter (64 is the mean, 32 a standard deviation)."""
    from PIL import Image

    g = np.asarray(gray, np.float32)
    if g.ndim != 2 or min(g.shape) < 2:
        return None
    h, w = g.shape
    width = int(np.clip(round(w * HEIGHT / h), 2 * STRIDE, MAX_WIDTH))
    img = Image.fromarray(g, mode="F").resize((width, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
    a = np.asarray(img, np.float32)
    z = (a.mean() - a) / max(float(a.std()), 4.0)
    return np.clip(64.0 + 32.0 * z, 0.0, 255.0).astype(np.float32)


def make_lines(n: int, seed: int, sources: Sources, hands: float = 0.0) -> tuple[list[np.ndarray], list[str]]:
    """`n` photo strips (HEIGHT, W) float32 0..255 with their texts; `hands` of the handwritten
    lines written by a simulated hand from stroke templates (`data.hands`)."""
    return lines.make_lines(n, seed, sources, finish=_finish, hands=hands)


def _finish(canvas: np.ndarray, text: str, hand: bool, rng, sources: Sources) -> np.ndarray | None:
    if hand and rng.random() < 0.5:
        canvas = pen_redraw(canvas, rng)
    strip = photographed(canvas, rng, sources)
    if strip is None or strip.shape[1] // STRIDE < 2 * len(text) + 1:
        return None  # too narrow for CTC to spell the text out
    return strip


def make_chunk(args) -> tuple[list[np.ndarray], list[str]]:
    """`make_lines` for one (n, seed, digits, labels, fonts, non-digits[, hands]) task (a worker's job)."""
    n, seed, x, y, fonts, nondigits, *hands = args
    return make_lines(n, seed, Sources(x, y, fonts, nondigits), *hands)


# --- a simulated pen --------------------------------------------------------------------------------


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask: its one-pixel-wide skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [
                p[:-2, 1:-1],  # P2 (north), then clockwise
                p[:-2, 2:],
                p[1:-1, 2:],
                p[2:, 2:],
                p[2:, 1:-1],
                p[2:, :-2],
                p[1:-1, :-2],
                p[:-2, :-2],
            ]
            b = sum(x.astype(np.int32) for x in n)
            a = sum(((n[k] == 0) & (n[(k + 1) % 8] == 1)).astype(np.int32) for k in range(8))
            if step == 0:
                c1, c2 = n[0] * n[2] * n[4], n[2] * n[4] * n[6]
            else:
                c1, c2 = n[0] * n[2] * n[6], n[0] * n[4] * n[6]
            remove = (p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & (c1 == 0) & (c2 == 0)
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _smooth_field(shape, cells: float, rng) -> np.ndarray:
    """A smooth random field in -1..1 varying over about `cells` pixels."""
    from PIL import Image

    h, w = shape
    gh, gw = max(2, int(h / cells) + 2), max(2, int(w / cells) + 2)
    coarse = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.Resampling.BICUBIC), np.float64)


def pen_redraw(canvas: np.ndarray, rng) -> np.ndarray:
    """Bright ink (H, W) 0..255 re-drawn by a pen along its skeleton: a new pen width, pressure that
    comes and goes along the stroke, and a hand's wobble."""
    from PIL import Image, ImageDraw

    mask = canvas > 110
    if mask.sum() < 4:
        return canvas
    skel = thin(mask)
    ys, xs = np.nonzero(skel)
    if ys.size < 2:
        return canvas
    rows = np.flatnonzero(mask.any(axis=1))
    height = float(rows[-1] - rows[0] + 1)
    wobble = rng.uniform(0.0, 0.08) * height
    if wobble > 0:
        cells = height * rng.uniform(0.35, 0.8)
        fx, fy = _smooth_field(canvas.shape, cells, rng), _smooth_field(canvas.shape, cells, rng)
        xs, ys = xs + wobble * fx[ys, xs], ys + wobble * fy[ys, xs]
    width = height * rng.uniform(0.04, 0.15)
    pressure = 1.0 + rng.uniform(0.0, 0.5) * _smooth_field(canvas.shape, height, rng)
    ss = 2  # drawn at twice the size, then shrunk: smooth edges
    img = Image.new("L", (canvas.shape[1] * ss, canvas.shape[0] * ss), 0)
    d = ImageDraw.Draw(img)
    for x, y in zip(xs, ys):
        r = max(
            0.5, width / 2 * pressure[int(np.clip(y, 0, canvas.shape[0] - 1)), int(np.clip(x, 0, canvas.shape[1] - 1))]
        )
        d.ellipse([(x - r) * ss, (y - r) * ss, (x + r) * ss, (y + r) * ss], fill=255)
    out = img.resize((canvas.shape[1], canvas.shape[0]), Image.Resampling.BOX)
    return np.asarray(out, np.float64)


# --- the photo around the line ----------------------------------------------------------------------


def _trim(ink: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(ink > 20)
    if ys.size == 0:
        return None
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _scaled(ink: np.ndarray, height: float, rng) -> np.ndarray:
    """Ink slanted a little and scaled so its height is `height` pixels; 0..1."""
    from PIL import Image

    img = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = lines.slant(img, rng.uniform(-0.3, 0.3))
    arr = _trim(np.asarray(img, np.float64))
    if arr is None:
        return np.zeros((1, 1))
    k = height / arr.shape[0]
    size = (max(1, int(round(arr.shape[1] * k * rng.uniform(0.85, 1.15)))), max(1, int(round(height))))
    return np.asarray(Image.fromarray(arr.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS), np.float64) / 255.0


def photographed(canvas: np.ndarray, rng, sources: Sources) -> np.ndarray | None:
    """One line's bright ink canvas -> the strip of a photo's crop around it."""
    from PIL import Image, ImageFilter

    line = _trim(canvas)
    if line is None:
        return None
    h = float(np.exp(rng.uniform(*np.log(SOURCE_HEIGHTS))))
    ink = _scaled(line, h, rng)
    ih, iw = ink.shape
    # The crop: as loose or as tight as a found line's box.
    top, bottom = (rng.uniform(0.05, 0.6, 2) * ih).astype(int)
    left, right = (rng.uniform(0.0, 0.9, 2) * ih).astype(int)
    H, W = ih + top + bottom, iw + left + right
    paper = np.array(PAPERS[int(rng.integers(len(PAPERS)))], np.float64) * rng.uniform(0.85, 1.03)
    if rng.random() < 0.15:  # a receipt or recycled paper: grey
        paper = np.full(3, rng.uniform(200, 235))
    rgb = np.ones((H, W, 3)) * np.clip(paper, 0, 255)
    rgb += rng.normal(0, rng.uniform(0, 4), (H, W, 1))  # the paper's grain
    _rules(rgb, ih, rng)
    _frame(rgb, (top, left, ih, iw), rng)
    alpha = np.zeros((H, W))
    alpha[top : top + ih, left : left + iw] = ink
    _neighbours(alpha, ih, top, bottom, rng, sources)
    k = int(rng.integers(len(INKS)))
    color, (a0, a1) = INKS[k]
    alpha *= rng.uniform(a0, a1)
    if k == PENCIL:
        alpha *= np.clip(rng.normal(1.0, 0.3, alpha.shape), 0.15, 1.3)
    tint = np.clip(np.array(color, np.float64) * rng.uniform(0.8, 1.2), 0, 255)
    rgb = rgb * (1 - alpha[..., None]) + tint * alpha[..., None]
    rgb = _light(rgb, rng)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:  # what the detector leaves: a tilt of a few degrees
        img = img.rotate(
            float(rng.normal(0, 2.0)),
            resample=Image.Resampling.BILINEAR,
            fillcolor=tuple(int(v) for v in np.clip(paper, 0, 255)),
        )
    b = rng.random()
    if b < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.05 * h + 0.6))))
    elif b < 0.3:
        arr = np.asarray(img, np.float64)
        n = int(rng.integers(2, max(3, int(0.12 * h) + 2)))
        a = rng.uniform(0, np.pi)
        acc = np.zeros_like(arr)
        for j in range(n):
            acc += np.roll(np.roll(arr, int(round(j * np.sin(a))), axis=0), int(round(j * np.cos(a))), axis=1)
        img = Image.fromarray(np.clip(acc / n, 0, 255).astype(np.uint8))
    arr = np.asarray(img, np.float64)
    arr = np.clip(arr + rng.normal(0, rng.uniform(0, 6) * (3 if rng.random() < 0.2 else 1), arr.shape), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="JPEG", quality=int(rng.integers(35, 95)))
    buf.seek(0)
    gray = np.asarray(Image.open(buf).convert("L"), np.float64)
    return photo_strip(gray)


def _rules(rgb: np.ndarray, ih: float, rng) -> None:
    r = rng.random()
    if r > 0.45:
        return
    H, W, _ = rgb.shape
    color = np.array([150, 170, 215] if rng.random() < 0.7 else [160, 160, 160], np.float64)
    strength = rng.uniform(0.2, 0.7)
    step = max(4, int(ih * rng.uniform(0.6, 1.6)))
    width = 1 + int(rng.random() < 0.3)
    for y in range(int(rng.integers(step)), H, step):
        rgb[y : y + width] = rgb[y : y + width] * (1 - strength) + color * strength
    if r < 0.2:  # squared
        for x in range(int(rng.integers(step)), W, step):
            rgb[:, x : x + width] = rgb[:, x : x + width] * (1 - strength) + color * strength


def _frame(rgb: np.ndarray, where: tuple[int, int, int, int], rng) -> None:
    """A printed box around the writing (a form's field, a table's cell), or one of its sides: lines
    that are no character."""
    r = rng.random()
    if r > 0.2:
        return
    top, left, ih, iw = where
    H, W, _ = rgb.shape
    color = np.array([40, 40, 40] if rng.random() < 0.6 else [90, 110, 170], np.float64) * rng.uniform(0.8, 1.6)
    strength = rng.uniform(0.4, 0.9)
    width = 1 + int(rng.integers(0, max(1, ih // 12) + 1))
    gap = (rng.uniform(0.05, 0.5, 4) * ih).astype(int)
    y0, y1 = top - gap[0], top + ih + gap[1]
    x0, x1 = left - gap[2], left + iw + gap[3]
    sides = [True] * 4 if r < 0.1 else list(rng.random(4) < 0.5)
    for on, (a, b, c, d) in zip(
        sides, [(y0, y0 + width, x0, x1), (y1 - width, y1, x0, x1), (y0, y1, x0, x0 + width), (y0, y1, x1 - width, x1)]
    ):
        a, b, c, d = max(0, a), min(H, b), max(0, c), min(W, d)
        if on and b > a and d > c:
            rgb[a:b, c:d] = rgb[a:b, c:d] * (1 - strength) + np.clip(color, 0, 255) * strength


def _neighbours(alpha: np.ndarray, ih: int, top: int, bottom: int, rng, sources: Sources) -> None:
    """The line above or below, as much of it as the crop's margin takes in."""
    if rng.random() > 0.3:
        return
    H, W = alpha.shape
    text = content(rng)
    canvas = handwritten_line(text, rng, sources) if rng.random() < 0.6 else printed_line(text, rng, sources)
    line = None if canvas is None else _trim(canvas)
    if line is None:
        return
    other = _scaled(line, ih * rng.uniform(0.8, 1.2), rng)
    oh, ow = other.shape
    gap = int(ih * rng.uniform(0.15, 0.6))
    y = top - gap - oh if rng.random() < 0.5 else top + ih + gap
    x = int(rng.integers(-ow // 2, max(1, W - ow // 2)))
    y0, y1, x0, x1 = max(0, y), min(H, y + oh), max(0, x), min(W, x + ow)
    if y1 > y0 and x1 > x0:
        alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], other[y0 - y : y1 - y, x0 - x : x1 - x])


def _light(rgb: np.ndarray, rng) -> np.ndarray:
    H, W, _ = rgb.shape
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    xx, yy = xx / max(W, H), yy / max(W, H)
    light = 1 + rng.uniform(-0.4, 0.4) * (xx - 0.5) + rng.uniform(-0.4, 0.4) * (yy - 0.5)
    if rng.random() < 0.3:  # low light
        light = light * rng.uniform(0.2, 0.5)
    if rng.random() < 0.2:  # a shadow's edge
        a = rng.uniform(0, 2 * np.pi)
        edge = np.cos(a) * xx + np.sin(a) * yy
        cut = rng.uniform(edge.min(), edge.max())
        light = light * (1 - rng.uniform(0.2, 0.5) / (1 + np.exp(-(edge - cut) / rng.uniform(0.01, 0.1))))
    out = rgb * light[..., None]
    if rng.random() < 0.15:  # glare
        cx, cy, r = rng.uniform(0, W / max(W, H)), rng.uniform(0, H / max(W, H)), rng.uniform(0.05, 0.3)
        out = out + rng.uniform(40, 150) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    return out
