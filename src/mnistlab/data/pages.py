"""Synthetic photos of written pages with a map of where each line of writing lies: the detector's world.

A photo is drawn at the detector's working size (`SIZE` square). A sheet of paper (white, tinted,
ruled, squared, a receipt) lies on a table (wood, dark, light, cloth), turned to any angle up to
`MAX_TURN` degrees, in perspective; on it one to three lines of writing (handwritten from MNIST's
*training* digits with pen-drawn separators, or printed in a `train` font: `lines.handwritten_line`
and `lines.printed_line`), sometimes two numbers side by side and sometimes a line of letters, in
ballpoint, pen, pencil or marker; beside it clutter (a pen, a coffee ring, a shadow). Then the
camera: uneven light, low light with sensor noise, a glare spot, motion blur or defocus, JPEG.

The target is each line's core (its middle half in height, inset at both ends), so that lines close
above one another stay apart; `detect` grows a found core back to the line. Nothing here uses the
`eval` fonts, the UCI digits, MNIST's test or validation images, or the reading bench's generators.
`make_pages(n, seed, sources)` is deterministic for its arguments.
"""

from __future__ import annotations

import io

import numpy as np

from mnistlab.data.lines import Sources, content, handwritten_line, printed_line

SIZE = 384  # training photos are SIZE x SIZE (the detector itself takes any size)
OUT_STRIDE = 4  # the map has one cell per OUT_STRIDE x OUT_STRIDE pixels
MAX_TURN = 30.0  # degrees
CORE = (0.25, 0.75)  # a line's core: this part of its height ...
CORE_INSET = 0.15  # ... less this much of its height at each end
HEIGHTS = (7.0, 110.0)  # a line's height in the photo, drawn log-uniformly
INKS = {  # RGB, opacity range
    "ballpoint": ((30, 45, 140), (0.75, 1.0)),
    "black": ((20, 20, 25), (0.85, 1.0)),
    "red": ((175, 35, 40), (0.8, 1.0)),
    "green": ((30, 110, 60), (0.8, 1.0)),
    "pencil": ((90, 90, 95), (0.35, 0.75)),
    "marker": ((15, 15, 45), (0.95, 1.0)),
}
PAPERS = [(245, 245, 240), (250, 235, 120), (245, 210, 220), (205, 225, 245), (210, 238, 210), (236, 232, 224)]


def standardize(gray: np.ndarray) -> np.ndarray:
    """The detector's input: a grey picture with its own mean and spread taken out (light-proof)."""
    g = np.asarray(gray, np.float32)
    return (g - g.mean()) / max(float(g.std()), 4.0)


def make_pages(n: int, seed: int, sources: Sources) -> tuple[np.ndarray, np.ndarray]:
    """`n` photos (n, SIZE, SIZE) uint8 grey and their line-core maps (n, SIZE/4, SIZE/4) uint8 0/1."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, SIZE, SIZE), np.uint8)
    y = np.zeros((n, SIZE // OUT_STRIDE, SIZE // OUT_STRIDE), np.uint8)
    for i in range(n):
        x[i], y[i] = make_page(rng, sources)
    return x, y


def make_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """`make_pages` for one (n, seed, digits, labels, fonts, non-digits) task (a worker's job)."""
    n, seed, xd, yd, fonts, nondigits = args
    return make_pages(n, seed, Sources(xd, yd, fonts, nondigits))


def make_page(rng, sources: Sources, written: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One photo and its core map; `written` (a list), when given, gets the text of each line, top to
    bottom, two numbers side by side as two lines ("?" marks a letter)."""
    from PIL import Image

    big = 2 * SIZE  # the sheet is drawn on a larger canvas, then seen through a camera
    paper = np.array(PAPERS[int(rng.integers(len(PAPERS)))], np.float64) * rng.uniform(0.9, 1.03)
    sheet = np.ones((big, big, 3)) * np.clip(paper, 0, 255)
    _rules(sheet, rng)
    ink_alpha = np.zeros((big, big))
    ink_rgb = np.zeros((big, big, 3))
    core = np.zeros((big, big), np.uint8)
    height = float(np.exp(rng.uniform(*np.log(HEIGHTS))))  # in the photo; the sheet is seen at `zoom`
    zoom = rng.uniform(0.45, 0.75)  # photo pixels per sheet pixel
    h_sheet = height / zoom
    n_lines = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
    gap = h_sheet * rng.uniform(0.35, 1.2)
    y = big / 2 - (n_lines * h_sheet + (n_lines - 1) * gap) / 2 + rng.normal(0, big * 0.05)
    name = list(INKS)[int(rng.integers(len(INKS)))]
    color, alpha_range = INKS[name]
    color = np.array(color, np.float64)
    alpha = rng.uniform(*alpha_range)
    x_start = big / 2 + rng.normal(0, big * 0.06)
    align = rng.choice(["left", "centre"])
    for _ in range(n_lines):
        pieces = 2 if rng.random() < 0.12 else 1
        widths = []
        drawn = []
        for _ in range(pieces):
            text = content(rng)
            if rng.random() < 0.08:
                text = "?" * int(rng.integers(3, 9))  # a line of letters: writing, not digits
            canvas = handwritten_line(text, rng, sources) if rng.random() < 0.6 else printed_line(text, rng, sources)
            ink = None if canvas is None else _trim(canvas)
            if ink is None:
                continue
            scale = h_sheet * rng.uniform(0.85, 1.15) / ink.shape[0]
            w = max(2, int(ink.shape[1] * scale))
            h = max(2, int(ink.shape[0] * scale))
            ink = np.asarray(Image.fromarray(ink.astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)) / 255.0
            drawn.append(ink)
            widths.append(w)
            if written is not None:
                written.append(text)
        if not drawn:
            continue
        space = h_sheet * rng.uniform(1.5, 3.0)
        total = sum(widths) + space * (len(drawn) - 1)
        x = x_start - total / 2 if align == "centre" else x_start - big * 0.25
        for ink in drawn:
            _put(ink, ink_alpha, ink_rgb, core, int(x), int(y + rng.normal(0, 0.05 * h_sheet)), alpha, color, rng)
            x += ink.shape[1] + space
        y += h_sheet + gap
    if name == "pencil":
        ink_alpha *= np.clip(rng.normal(1.0, 0.25, ink_alpha.shape), 0.2, 1.2)  # graphite is grainy
    sheet = sheet * (1 - ink_alpha[..., None]) + ink_rgb * ink_alpha[..., None]

    # The camera: the sheet turned, shifted and seen in perspective over a table.
    turn = np.deg2rad(rng.uniform(-MAX_TURN, MAX_TURN))
    centre = np.array([SIZE / 2, SIZE / 2]) + rng.normal(0, SIZE * 0.08, 2)
    corners = np.array([[0, 0], [big, 0], [big, big], [0, big]], np.float64) - big / 2
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    dst = (corners * zoom) @ rot.T + centre
    dst += rng.normal(0, SIZE * 0.04 * rng.uniform(0, 1), dst.shape)  # perspective
    src = corners + big / 2
    coeffs = _perspective(dst, src)
    table = _table(rng)
    seen = Image.fromarray(np.clip(sheet, 0, 255).astype(np.uint8)).transform(
        (SIZE, SIZE), Image.Transform.PERSPECTIVE, coeffs, resample=Image.Resampling.BILINEAR
    )
    # The sheet: a rectangle around the writing, from a narrow receipt to wider than the photo.
    sheet_mask = np.zeros((big, big), np.uint8)
    sw, sh = rng.uniform(0.3, 1.0, 2) * big
    cx, cy = big / 2 + rng.normal(0, 0.05 * big, 2)
    sheet_mask[max(0, int(cy - sh / 2)) : int(cy + sh / 2), max(0, int(cx - sw / 2)) : int(cx + sw / 2)] = 255
    mask = Image.fromarray(sheet_mask).transform(
        (SIZE, SIZE), Image.Transform.PERSPECTIVE, coeffs, resample=Image.Resampling.BILINEAR
    )
    out_cells = SIZE // OUT_STRIDE
    core_seen = Image.fromarray(core * (sheet_mask > 0) * 255).transform(
        (SIZE, SIZE), Image.Transform.PERSPECTIVE, coeffs, resample=Image.Resampling.BILINEAR
    )
    m = np.asarray(mask, np.float64)[..., None] / 255.0
    rgb = table * (1 - m) + np.asarray(seen, np.float64) * m
    _shadow(rgb, rng)
    _clutter(rgb, rng)
    gray = _camera(rgb, rng)
    target = np.asarray(core_seen.resize((out_cells, out_cells), Image.Resampling.BOX), np.float64) > 127
    return gray, target.astype(np.uint8)


def _trim(ink: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(ink > 20)
    if ys.size == 0:
        return None
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _put(ink, alpha_map, rgb_map, core, x, y, alpha, color, rng) -> None:
    """Write one line's ink at (x, y) of the sheet and mark its core."""
    h, w = ink.shape
    big = alpha_map.shape[0]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(big, x + w), min(big, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    part = ink[y0 - y : y1 - y, x0 - x : x1 - x] * alpha
    tint = color * rng.uniform(0.85, 1.15)
    alpha_map[y0:y1, x0:x1] = np.maximum(alpha_map[y0:y1, x0:x1], part)
    rgb_map[y0:y1, x0:x1] = np.clip(tint, 0, 255)
    # The core: the middle of the line's height, inset at its ends; only where the line is on the sheet.
    c0, c1 = int(y + CORE[0] * h), int(np.ceil(y + CORE[1] * h))
    inset = int(CORE_INSET * h)
    a, b = max(0, x + inset), min(big, x + w - inset)
    if b > a:
        core[max(0, c0) : min(big, c1), a:b] = 1


def _rules(sheet: np.ndarray, rng) -> None:
    r = rng.random()
    big = sheet.shape[0]
    color = np.array([150, 170, 215] if rng.random() < 0.7 else [170, 170, 170], np.float64)
    step = int(rng.uniform(18, 60))
    strength = rng.uniform(0.25, 0.7)
    if r < 0.25:  # ruled
        for y in range(int(rng.integers(step)), big, step):
            sheet[y : y + 2] = sheet[y : y + 2] * (1 - strength) + color * strength
    elif r < 0.45:  # squared
        for k in range(int(rng.integers(step)), big, step):
            sheet[k : k + 1] = sheet[k : k + 1] * (1 - strength) + color * strength
            sheet[:, k : k + 1] = sheet[:, k : k + 1] * (1 - strength) + color * strength


def _table(rng) -> np.ndarray:
    kind = rng.integers(4)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    if kind == 0:  # wood
        base = np.array([150, 105, 65]) * rng.uniform(0.6, 1.2)
        grain = np.sin(yy / rng.uniform(3, 12) + np.sin(xx / rng.uniform(30, 90)) * 3)
        out = base * (1 + 0.12 * grain[..., None])
    elif kind == 1:  # dark
        out = np.ones((SIZE, SIZE, 3)) * rng.uniform(20, 70, 3)
    elif kind == 2:  # light (a white desk: the sheet hardly stands out)
        out = np.ones((SIZE, SIZE, 3)) * rng.uniform(190, 240)
    else:  # cloth: a coloured weave
        base = rng.uniform(40, 200, 3)
        out = base * (1 + 0.08 * (np.sin(xx / 2.0) * np.sin(yy / 2.0))[..., None])
    return np.clip(out, 0, 255)


def _shadow(rgb: np.ndarray, rng) -> None:
    if rng.random() < 0.4:
        yy, xx = np.mgrid[0 : rgb.shape[0], 0 : rgb.shape[1]].astype(np.float64)
        a = rng.uniform(0, 2 * np.pi)
        edge = np.cos(a) * xx + np.sin(a) * yy
        cut = rng.uniform(edge.min(), edge.max())
        soft = rng.uniform(5, 60)
        dark = 1 - rng.uniform(0.2, 0.55) / (1 + np.exp(-(edge - cut) / soft))
        rgb *= dark[..., None]


def _clutter(rgb: np.ndarray, rng) -> None:
    """A pen, a coffee ring or stray strokes: things that are not writing."""
    from PIL import Image, ImageDraw

    if rng.random() < 0.5:
        return
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 3))):
        kind = rng.integers(3)
        c = tuple(int(v) for v in rng.uniform(0, 200, 3))
        if kind == 0:  # a pen
            x0, y0 = rng.uniform(0, SIZE, 2)
            a = rng.uniform(0, np.pi)
            length = rng.uniform(0.3, 0.7) * SIZE
            d.line(
                [(x0, y0), (x0 + length * np.cos(a), y0 + length * np.sin(a))], fill=c, width=int(rng.integers(5, 16))
            )
        elif kind == 1:  # a coffee ring
            cx, cy = rng.uniform(0, SIZE, 2)
            r = rng.uniform(20, 80)
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(120, 80, 50), width=int(rng.integers(2, 6)))
        else:  # a scribble in the margin
            pts = np.cumsum(rng.normal(0, 8, (8, 2)), axis=0) + rng.uniform(0, SIZE, 2)
            d.line([tuple(p) for p in pts], fill=c, width=int(rng.integers(1, 4)))
    rgb[...] = np.asarray(img, np.float64)


def _camera(rgb: np.ndarray, rng) -> np.ndarray:
    """Light, glare, blur, noise and JPEG -> grey uint8, as the reader converts a photo."""
    from PIL import Image, ImageFilter

    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / SIZE
    light = 1 + rng.uniform(-0.3, 0.3) * (xx - 0.5) + rng.uniform(-0.3, 0.3) * (yy - 0.5)
    light -= rng.uniform(0, 0.35) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)  # vignetting
    low = rng.random() < 0.3
    if low:
        light *= rng.uniform(0.15, 0.45)
    rgb = rgb * light[..., None]
    if rng.random() < 0.2:  # glare
        cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
        rgb = rgb + rng.uniform(80, 200) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    b = rng.random()
    if b < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 2.5))))
    elif b < 0.35:  # motion: a few shifted copies averaged
        n = int(rng.integers(3, 8))
        a = rng.uniform(0, np.pi)
        arr = np.asarray(img, np.float64)
        acc = np.zeros_like(arr)
        for k in range(n):
            dx, dy = int(round(k * np.cos(a))), int(round(k * np.sin(a)))
            acc += np.roll(np.roll(arr, dy, axis=0), dx, axis=1)
        img = Image.fromarray(np.clip(acc / n, 0, 255).astype(np.uint8))
    arr = np.asarray(img, np.float64)
    noise = rng.uniform(2, 14) if low else rng.uniform(0, 5)
    arr = np.clip(arr + rng.normal(0, noise, arr.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=int(rng.integers(40, 95)))
    buf.seek(0)
    gray = np.asarray(Image.open(buf).convert("L"), np.uint8)
    return gray


def _perspective(dst, src) -> list[float]:
    """Pillow's PERSPECTIVE coefficients mapping output points `dst` to input points `src`."""
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return list(np.linalg.solve(np.array(a, np.float64), np.array(src, np.float64).reshape(8)))
