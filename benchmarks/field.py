"""Field photos: a second world to measure on, never to tune on.

Written apart from `photos.py` (the development photos), with its own seeds, hands and sources, so a
reader that learned the development photos' habits cannot pass here by habit:

- hands: digits drawn as pen strokes by simulated writers (each with a slant, proportions, a wobble,
  a pressure and a pen width of their own), from stroke templates of this module (two or three ways
  of writing each digit: a 1 with or without its flag and foot, a 7 crossed or not, an open or
  closed 4, a straight or curved 9); and handwriting fonts neither training nor the development
  photos use (the `field` fonts below);
- inks: blue ballpoint, black pen, red pen, pencil (grey, grainy, light), black or blue marker;
- papers: white, a yellow sticky note, pink, blue or green paper, a narrow receipt, ruled, squared;
- the photo: the sheet turned up to 20 degrees, in strong perspective or not, on a wooden, dark or
  white table with a pen or a coffee ring beside it; low light with sensor noise, motion blur,
  defocus, a glare spot; 500 pixels to 12 Mpixels wide (the number 20 to 120 pixels tall); JPEG;
  some stored sideways with an EXIF orientation tag;
- what is written: 2 to 10 digits, dates, times, prices, two numbers side by side, two or three lines.

Every photo carries tags for the conditions it has, so a bench reports each reader by condition.
Nothing here is used to choose anything: the reading bench reports it beside the development photos.

    from field import field_set
    for jpeg_bytes, text, meta in field_set(200): ...
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

FIELD_SEED = 70_000_919  # no other seed in the project is near this
FIELD_FONT_FILES = [  # handwriting fonts neither the `train` nor the `eval` group lists
    "/usr/share/fonts/opentype/kaushanscript/*.otf",  # fonts-kaushanscript
    "/usr/share/fonts/truetype/leckerli-one/LeckerliOne-Regular.ttf",  # fonts-leckerli-one
    "/usr/share/fonts/truetype/klee/*.ttf",  # fonts-klee (a pencil hand)
    "/usr/share/fonts/truetype/kiloji/*.ttf",  # fonts-kiloji (longhand)
]
FIELD_FONT_PACKAGES = ["fonts-kaushanscript", "fonts-leckerli-one", "fonts-klee", "fonts-kiloji"]

INKS = {  # RGB, and how much of the paper shows through the darkest stroke
    "ballpoint": ((25, 45, 150), 0.05),
    "black pen": ((20, 20, 25), 0.0),
    "red pen": ((185, 30, 35), 0.05),
    "pencil": ((95, 95, 100), 0.45),
    "marker": ((15, 15, 40), 0.0),
}
PAPERS = {
    "white": (246, 246, 242),
    "sticky note": (250, 232, 110),
    "pink": (246, 205, 215),
    "blue": (200, 222, 246),
    "green": (205, 238, 205),
    "receipt": (238, 236, 230),
}

# --- hands: digits as pen strokes -------------------------------------------------------------------

# Each digit: ways of writing it, each a list of strokes, each stroke a list of (x, y) points in a box
# 0..1 wide and 0..1 tall (y down). The points are joined by a smooth curve.
STROKES = {
    "0": [[[(0.5, 0.0), (0.15, 0.2), (0.1, 0.6), (0.35, 1.0), (0.7, 0.95), (0.9, 0.55), (0.8, 0.15), (0.5, 0.0)]]],
    "1": [
        [[(0.55, 0.0), (0.5, 1.0)]],
        [[(0.25, 0.25), (0.6, 0.0), (0.55, 1.0)]],
        [[(0.25, 0.25), (0.6, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
    ],
    "2": [
        [[(0.15, 0.25), (0.45, 0.0), (0.85, 0.2), (0.7, 0.55), (0.1, 1.0), (0.95, 0.98)]],
        [[(0.1, 0.2), (0.5, 0.0), (0.9, 0.25), (0.1, 0.95), (0.3, 0.9), (0.95, 1.0)]],
    ],
    "3": [
        [[(0.1, 0.1), (0.6, 0.0), (0.85, 0.25), (0.4, 0.48), (0.9, 0.7), (0.6, 1.0), (0.1, 0.9)]],
        [[(0.1, 0.0), (0.9, 0.0), (0.4, 0.45), (0.85, 0.65), (0.55, 1.0), (0.1, 0.9)]],
    ],
    "4": [
        [[(0.6, 0.0), (0.05, 0.7), (0.95, 0.7)], [(0.7, 0.3), (0.7, 1.0)]],
        [[(0.2, 0.0), (0.1, 0.6), (0.9, 0.6)], [(0.75, 0.0), (0.7, 1.0)]],
    ],
    "5": [
        [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.9, 0.7), (0.6, 1.0), (0.1, 0.9)]],
        [[(0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.9, 0.7), (0.6, 1.0), (0.1, 0.9)], [(0.2, 0.02), (0.9, 0.0)]],
    ],
    "6": [
        [[(0.8, 0.0), (0.3, 0.3), (0.1, 0.75), (0.45, 1.0), (0.85, 0.75), (0.55, 0.5), (0.15, 0.7)]],
        [[(0.7, 0.0), (0.2, 0.45), (0.2, 0.9), (0.6, 1.0), (0.85, 0.7), (0.5, 0.5), (0.2, 0.65)]],
    ],
    "7": [
        [[(0.05, 0.0), (0.95, 0.0), (0.35, 1.0)]],
        [[(0.05, 0.05), (0.95, 0.0), (0.4, 1.0)], [(0.3, 0.5), (0.8, 0.5)]],
    ],
    "8": [
        [
            [
                (0.5, 0.48),
                (0.15, 0.25),
                (0.5, 0.0),
                (0.85, 0.25),
                (0.5, 0.48),
                (0.1, 0.75),
                (0.5, 1.0),
                (0.9, 0.75),
                (0.5, 0.48),
            ]
        ],
    ],
    "9": [
        [[(0.85, 0.3), (0.5, 0.5), (0.15, 0.3), (0.45, 0.0), (0.85, 0.2), (0.8, 1.0)]],
        [[(0.85, 0.3), (0.5, 0.5), (0.15, 0.3), (0.45, 0.0), (0.85, 0.2), (0.75, 0.7), (0.4, 1.0)]],
    ],
}
SEPARATOR_STROKES = {  # in the same box as a digit (y 0..1 is the digit's height)
    ".": [[(0.5, 0.95), (0.52, 0.97)]],
    ",": [[(0.55, 0.9), (0.45, 1.15)]],
    "/": [[(0.85, 0.0), (0.15, 1.0)]],
    "-": [[(0.15, 0.55), (0.85, 0.52)]],
    ":": [[(0.5, 0.3), (0.52, 0.32)], [(0.5, 0.8), (0.52, 0.82)]],
}
SEPARATOR_WIDTH = {".": 0.35, ",": 0.35, "/": 0.6, "-": 0.6, ":": 0.35}


def _smooth(points: list, n: int = 24) -> np.ndarray:
    """A Catmull-Rom curve through the points (a straight stroke stays straight)."""
    p = np.asarray(points, np.float64)
    if len(p) < 3:
        t = np.linspace(0, 1, max(2, n))[:, None]
        return p[0] + t * (p[-1] - p[0])
    p = np.vstack([p[0], p, p[-1]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, n, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(
                0.5
                * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3)
            )
    out.append(p[-2])
    return np.asarray(out)


class Writer:
    """One simulated person: how they slant, size, wobble and press, and which way they write each digit."""

    def __init__(self, rng):
        self.slant = float(rng.uniform(-0.35, 0.25))  # x shift per unit of height (right-leaning < 0)
        self.aspect = float(rng.uniform(0.45, 0.75))  # a digit's width / height
        self.wobble = float(rng.uniform(0.005, 0.035))
        self.pressure = float(rng.uniform(0.15, 0.5))  # how much the pen width varies along a stroke
        self.spacing = float(rng.uniform(0.08, 0.45))  # gap between characters / height
        self.choice = {d: int(rng.integers(len(v))) for d, v in STROKES.items()}

    def strokes(self, ch: str, rng) -> tuple[list[np.ndarray], float]:
        """The strokes of one character in a box of height 1 (x from 0), and its width."""
        if ch in STROKES:
            base, width = STROKES[ch][self.choice[ch]], self.aspect
        else:
            base, width = SEPARATOR_STROKES[ch], SEPARATOR_WIDTH[ch] * self.aspect
        out = []
        for stroke in base:
            pts = _smooth([(x * width, y) for x, y in stroke])
            k = len(pts)
            # A wobble that wanders smoothly along the stroke, and the writer's slant.
            drift = np.cumsum(rng.normal(0, self.wobble, (k, 2)), axis=0) / math.sqrt(max(k, 1)) * 4
            pts = pts + drift + rng.normal(0, self.wobble / 3, (1, 2))
            pts[:, 0] += self.slant * (1.0 - pts[:, 1])
            out.append(pts)
        return out, width


def _pen_line(text: str, writer: Writer, height: int, pen: float, rng) -> tuple[np.ndarray, int]:
    """A line in a writer's hand: ink 0..1 (H, W), and where its baseline is."""
    from PIL import Image, ImageDraw

    pad = int(height * 0.6 + pen * 2)
    items, x = [], 0.0
    for ch in text:
        strokes, width = writer.strokes(ch, rng)
        dy = float(rng.normal(0, 0.04))  # the baseline wanders
        items.append((x, dy, strokes))
        x += width + writer.spacing * float(rng.uniform(0.6, 1.4))
    w = int(x * height) + 2 * pad
    img = Image.new("L", (max(w, 4), height + 2 * pad), 0)
    d = ImageDraw.Draw(img)
    for x0, dy, strokes in items:
        for pts in strokes:
            xy = [(pad + (x0 + px) * height, pad + (py + dy) * height) for px, py in pts]
            widths = pen * (1 + writer.pressure * np.sin(np.linspace(0, math.pi, len(xy)) + rng.uniform(0, 3)))
            for (a, b), wd in zip(zip(xy, xy[1:]), widths):
                d.line([a, b], fill=255, width=max(1, int(round(wd))))
                r = wd / 2
                d.ellipse([b[0] - r, b[1] - r, b[0] + r, b[1] + r], fill=255)
    return np.asarray(img, np.float64) / 255.0, pad + height


def field_fonts() -> list[Path]:
    import glob

    return sorted(Path(p) for pattern in FIELD_FONT_FILES for p in glob.glob(pattern))


def _font_line(text: str, font_path: Path, height: int, rng) -> np.ndarray | None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), int(height * 1.45))
    probe = Image.new("L", (8, 8))
    box = ImageDraw.Draw(probe).textbbox((0, 0), text, font=font)
    if box[2] - box[0] < 4:
        return None
    img = Image.new("L", (box[2] - box[0] + 40, box[3] - box[1] + 40), 0)
    ImageDraw.Draw(img).text((20 - box[0], 20 - box[1]), text, fill=255, font=font)
    return np.asarray(img, np.float64) / 255.0


# --- what is written -------------------------------------------------------------------------------

KINDS = ("digits", "long", "date", "time", "price", "side by side", "two lines", "three lines")


def content(kind: str, rng) -> list[str]:
    def digits(a, b):
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(a, b + 1))))

    if kind == "digits":
        return [digits(2, 6)]
    if kind == "long":
        return [digits(7, 10)]
    if kind == "date":
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1960, 2040))
        return [
            [f"{d:02d}/{m:02d}/{y}", f"{d}.{m}.{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y % 100:02d}"][
                int(rng.integers(4))
            ]
        ]
    if kind == "time":
        return [f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"]
    if kind == "price":
        return [f"{int(rng.integers(1, 5000))}{'.,'[int(rng.integers(2))]}{int(rng.integers(0, 100)):02d}"]
    if kind == "side by side":
        return [f"{digits(2, 4)}", f"{digits(2, 4)}"]  # written on one line, far apart: read as two lines
    if kind == "two lines":
        return [digits(2, 6), digits(2, 6)]
    return [digits(2, 5), digits(2, 5), digits(2, 5)]


# --- the photo -------------------------------------------------------------------------------------


def _paper(kind: str, shape: tuple[int, int], rng, rule: str) -> np.ndarray:
    h, w = shape
    rgb = np.empty((h, w, 3), np.float64)
    rgb[:] = PAPERS[kind]
    rgb += rng.normal(0, 2.0, (h, w, 1))  # the paper's grain
    if rule != "plain":
        step = (
            int(rng.uniform(0.05, 0.09) * min(h, w)) if rule == "ruled" else int(rng.uniform(0.035, 0.06) * min(h, w))
        )
        colour = np.array([150, 175, 215]) if rng.random() < 0.6 else np.array([170, 170, 170])
        for y in range(int(step * rng.uniform(0.5, 1.5)), h, max(step, 4)):
            rgb[y : y + max(1, h // 700)] = 0.55 * rgb[y : y + max(1, h // 700)] + 0.45 * colour
        if rule == "squared":
            for x in range(int(step * rng.uniform(0.5, 1.5)), w, max(step, 4)):
                rgb[:, x : x + max(1, w // 900)] = 0.55 * rgb[:, x : x + max(1, w // 900)] + 0.45 * colour
    return rgb


def _ink_onto(paper: np.ndarray, ink: np.ndarray, at: tuple[int, int], ink_name: str, rng) -> None:
    colour, show = INKS[ink_name]
    y, x = at
    h, w = ink.shape
    h, w = min(h, paper.shape[0] - y), min(w, paper.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    a = ink[:h, :w]
    if ink_name == "pencil":
        a = a * np.clip(rng.normal(0.75, 0.25, a.shape), 0.1, 1.0)  # graphite is grainy
    a = (a * (1 - show))[..., None]
    region = paper[y : y + h, x : x + w]
    paper[y : y + h, x : x + w] = region * (1 - a) + np.asarray(colour, np.float64) * a


def _table(shape: tuple[int, int], kind: str, rng) -> np.ndarray:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    if kind == "wood":
        grain = np.sin(yy / h * rng.uniform(20, 60) + 3 * np.sin(xx / w * rng.uniform(2, 6)))
        base = np.array([150, 105, 65]) + 18 * grain[..., None]
    elif kind == "dark":
        base = np.array([45, 45, 50]) + 6 * np.sin(xx / w * 9)[..., None]
    else:  # a white desk: the sheet barely stands out
        base = np.array([228, 228, 224]) + 3 * np.sin(yy / h * 7)[..., None]
    return base + rng.normal(0, 3.0, (h, w, 1))


def _clutter(rgb: np.ndarray, rng) -> str | None:
    from PIL import Image, ImageDraw

    kind = [None, "pen", "coffee ring"][int(rng.integers(3))]
    if kind is None:
        return None
    h, w = rgb.shape[:2]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    if kind == "pen":
        x0, y0 = rng.uniform(0.02, 0.5) * w, rng.uniform(0.75, 0.95) * h
        length, angle = rng.uniform(0.3, 0.5) * w, rng.uniform(-0.4, 0.4)
        x1, y1 = x0 + length * math.cos(angle), y0 + length * math.sin(angle)
        d.line([(x0, y0), (x1, y1)], fill=(30, 60, 160), width=max(3, int(0.018 * h)))
    else:
        cx, cy, r = rng.uniform(0.1, 0.9) * w, rng.uniform(0.75, 0.95) * h, rng.uniform(0.06, 0.12) * h
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(120, 80, 45), width=max(2, int(0.012 * h)))
    rgb[:] = np.asarray(img, np.float64)
    return kind


def make_field_photo(rng, fonts: list[Path]) -> tuple[bytes, str, dict]:
    """One field photo: (JPEG bytes, the text written with lines joined by "\\n", its conditions)."""
    from PIL import Image
    from scipy import ndimage

    tags: dict = {}
    kind = KINDS[int(rng.integers(len(KINDS)))]
    lines = content(kind, rng)
    hand = "font" if fonts and rng.random() < 0.3 else "pen"
    ink_name = list(INKS)[int(rng.integers(len(INKS)))]
    paper_kind = list(PAPERS)[int(rng.integers(len(PAPERS)))]
    rule = (
        "plain"
        if paper_kind in ("sticky note", "receipt") or rng.random() < 0.5
        else ["ruled", "squared"][int(rng.integers(2))]
    )
    tags.update(kind=kind, hand=hand, ink=ink_name, paper=paper_kind, rule=rule)

    # The writing, at 80 px a digit, then the sheet around it.
    height = 80
    writer = Writer(rng)
    pen = {"marker": rng.uniform(9, 14), "pencil": rng.uniform(2.5, 4)}.get(ink_name, rng.uniform(3.5, 6.5))
    font = fonts[int(rng.integers(len(fonts)))] if hand == "font" else None
    inks = []
    for text in lines:
        ink = _font_line(text, font, height, rng) if font is not None else None
        if ink is None:
            ink, _ = _pen_line(text, writer, height, pen, rng)
            if hand == "font":
                tags["hand"] = "pen"  # the font lacked a glyph
        inks.append(ink)
    if kind == "side by side":
        gap = int(height * rng.uniform(2.5, 4))
        a, b = inks
        hh = max(a.shape[0], b.shape[0])
        row = np.zeros((hh, a.shape[1] + gap + b.shape[1]))
        row[: a.shape[0], : a.shape[1]] = a
        row[: b.shape[0], a.shape[1] + gap :] = b
        inks = [row]
    gap = int(height * rng.uniform(0.5, 1.1))
    block_w = max(i.shape[1] for i in inks)
    block_h = sum(i.shape[0] for i in inks) + gap * (len(inks) - 1)
    margin = int(height * rng.uniform(0.8, 2.0))
    sheet_w, sheet_h = block_w + 2 * margin, block_h + 2 * margin
    if paper_kind == "sticky note":
        side = max(sheet_w, sheet_h)
        sheet_w = sheet_h = side
    elif paper_kind == "receipt":
        sheet_h = int(max(sheet_h, sheet_w * rng.uniform(1.4, 2.2)))
    paper = _paper(paper_kind, (sheet_h, sheet_w), rng, rule)
    y = (sheet_h - block_h) // 2
    for ink in inks:
        x = (sheet_w - ink.shape[1]) // 2 + int(rng.integers(-margin // 3, margin // 3 + 1))
        _ink_onto(paper, ink, (y, max(0, x)), ink_name, rng)
        y += ink.shape[0] + gap

    # The sheet on a table: turned, in perspective, with clutter.
    table_kind = ["wood", "dark", "white"][int(rng.integers(3))]
    tags["table"] = table_kind
    scale_table = rng.uniform(1.5, 2.4)
    th, tw = int(sheet_h * scale_table), int(sheet_w * scale_table)
    tw = max(tw, int(th * 1.2))
    th = max(th, int(tw * 0.6))  # a photo's proportions, whatever the sheet's
    scene = _table((th, tw), table_kind, rng)
    oy, ox = (th - sheet_h) // 2, (tw - sheet_w) // 2
    if table_kind != "white" or rng.random() < 0.5:  # a soft shadow under the sheet
        shadow = np.zeros((th, tw))
        shadow[oy + 6 : oy + sheet_h + 6, ox + 6 : ox + sheet_w + 6] = 1
        scene *= 1 - 0.35 * ndimage.gaussian_filter(shadow, 6)[..., None]
    scene[oy : oy + sheet_h, ox : ox + sheet_w] = paper
    tags["clutter"] = _clutter(scene, rng)
    angle = float(rng.uniform(-20, 20))
    tags["tilt"] = round(angle, 1)
    img = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).rotate(
        angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=tuple(int(v) for v in scene[0, 0])
    )
    strong = rng.random() < 0.3
    tags["perspective"] = "strong" if strong else "mild"
    k = rng.uniform(0.12, 0.22) if strong else rng.uniform(0.0, 0.06)
    w, h = img.size
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [
        (rng.uniform(0, k) * w, rng.uniform(0, k) * h),
        (w - rng.uniform(0, k) * w, rng.uniform(0, k) * h),
        (w - rng.uniform(0, k) * w, h - rng.uniform(0, k) * h),
        (rng.uniform(0, k) * w, h - rng.uniform(0, k) * h),
    ]
    img = img.transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        _perspective(dst, src),
        Image.Resampling.BILINEAR,
        fillcolor=tuple(int(v) for v in scene[0, 0]),
    )
    rgb = np.asarray(img, np.float64)

    # Light and the camera.
    light = ["normal", "low", "glare"][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
    tags["light"] = light
    if light == "low":
        rgb = rgb * rng.uniform(0.25, 0.45)
    elif light == "glare":
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, rng.uniform(0.08, 0.2) * min(h, w)
        rgb = rgb + 150 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
    blur = ["none", "motion", "defocus"][int(rng.choice(3, p=[0.5, 0.25, 0.25]))]
    tags["blur"] = blur
    if blur == "defocus":
        rgb = ndimage.gaussian_filter(rgb, (rng.uniform(1.2, 2.5), rng.uniform(1.2, 2.5), 0))
    elif blur == "motion":
        length = int(rng.integers(5, 12))
        kernel = np.zeros((length, length))
        theta = rng.uniform(0, math.pi)
        for t in np.linspace(-1, 1, 4 * length):
            kernel[
                int(round((length - 1) / 2 * (1 + t * math.sin(theta)))),
                int(round((length - 1) / 2 * (1 + t * math.cos(theta)))),
            ] = 1
        kernel /= kernel.sum()
        rgb = np.stack([ndimage.convolve(rgb[..., c], kernel, mode="nearest") for c in range(3)], axis=-1)
    noise = 10 if light == "low" else 3
    rgb = rgb + rng.normal(0, noise, rgb.shape)
    if light == "low":
        rgb = 255 * (np.clip(rgb, 0, 255) / 255) ** 1.15

    # The picture's size: the digits 20 to 120 pixels tall (evenly in log), the picture 500 to 4000
    # pixels wide (up to 12 Mpixels).
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    digit_px = float(np.exp(rng.uniform(math.log(20), math.log(120))))
    scale = float(np.clip(digit_px / height, 500 / img.width, 4000 / img.width))
    tags["size"] = "small" if img.width * scale < 1000 else "large" if img.width * scale >= 3000 else "medium"
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
    tags["digit_height_px"] = int(round(height * scale))
    tags["pixels"] = img.width * img.height
    orientation = 1
    if rng.random() < 0.25:
        orientation = [6, 8, 3][int(rng.integers(3))]
        img = img.transpose(
            {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}[orientation]
        )
    tags["exif"] = orientation != 1
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(buf, "JPEG", quality=int(rng.integers(70, 95)), exif=exif.tobytes())
    text = "\n".join(lines)
    tags["digits"] = sum(ch.isdigit() for ch in text)
    tags["lines"] = len(lines)
    return buf.getvalue(), text, tags


def _perspective(dst, src) -> list[float]:
    """The 8 coefficients PIL's PERSPECTIVE transform takes (output point -> input point)."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    coeffs = np.linalg.solve(np.asarray(rows, np.float64), np.asarray([c for p in src for c in p], np.float64))
    return coeffs.tolist()


def field_set(n: int, seed: int = FIELD_SEED) -> list[tuple[bytes, str, dict]]:
    """The frozen field set: photo k is drawn from (seed, k) alone, so a longer set extends a shorter."""
    fonts = field_fonts()
    return [make_field_photo(np.random.default_rng([seed, k]), fonts) for k in range(n)]


def conditions(meta: dict) -> list[str]:
    """The conditions a photo counts under in the bench's by-condition table."""
    out = [
        f"hand: {meta['hand']}",
        f"ink: {meta['ink']}",
        f"paper: {meta['paper']}",
        f"kind: {meta['kind']}",
        f"size: {meta['size']}",
        f"light: {meta['light']}",
        f"blur: {meta['blur']}",
        f"perspective: {meta['perspective']}",
    ]
    if meta["rule"] != "plain":
        out.append(f"paper: {meta['rule']}")
    if abs(meta["tilt"]) >= 10:
        out.append("tilt: 10-20 degrees")
    if meta["exif"]:
        out.append("stored sideways (EXIF)")
    if meta["clutter"]:
        out.append(f"clutter: {meta['clutter']}")
    if meta["digits"] >= 7:
        out.append("7-10 digits")
    return out
