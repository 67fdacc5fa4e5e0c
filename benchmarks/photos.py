"""Phone photos of written numbers, generated with their answers: the photo set of the reading bench.

A sheet (plain, ruled, squared, or with a form box) carries one or two lines of writing: a number,
a date, a time, a price, a negative number, or two numbers on two lines. The writing comes from the
`eval` fonts (never trained on) or from UCI writers' digits (never trained on) with separators drawn
by a pen. The sheet lies on a table, seen in perspective, under a shadow, with vignetting and uneven
light, saved as a JPEG; some photos are stored sideways with an EXIF orientation tag, as phones do.

    from photos import make_photo
    jpeg_bytes, text, meta = make_photo(np.random.default_rng(seed))
"""

from __future__ import annotations

import io

import numpy as np

KINDS = ("number", "date", "time", "price", "negative", "two_lines")
PAPERS = ("plain", "ruled", "squared", "box")
PHOTO = (1280, 960)


def content(kind: str, rng) -> list[str]:
    def digits(a, b):
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(a, b + 1))))

    if kind == "number":
        return [digits(2, 6)]
    if kind == "date":
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1950, 2040))
        style = int(rng.integers(3))
        return [[f"{d:02d}/{m:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}"][style]]
    if kind == "time":
        return [f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"]
    if kind == "price":
        whole = int(rng.integers(1, 1000))
        return [
            f"{whole}.{int(rng.integers(0, 100)):02d}"
            if rng.random() < 0.7
            else f"{whole},{int(rng.integers(0, 100)):02d}"
        ]
    if kind == "negative":
        return ["-" + digits(1, 3)]
    return [digits(2, 5), digits(2, 5)]


# --- writing: bright ink on black -----------------------------------------------------------------


def _trim(ink: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink > 10)
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def font_line(text: str, font, height: int, rng) -> np.ndarray | None:
    """One line in one font, as a person's printing: the glyphs on their own baseline."""
    from PIL import Image, ImageDraw

    from mnistlab.data.fonts import glyph_supported, load_font

    f = load_font(font, height)
    if not all(glyph_supported(f, ch) for ch in set(text)):
        return None
    img = Image.new("L", (height * (len(text) + 2), height * 3), 0)
    ImageDraw.Draw(img).text(
        (height // 2, height // 2), text, fill=255, font=f, stroke_width=int(rng.integers(0, 2)), stroke_fill=255
    )
    img = img.rotate(float(rng.uniform(-3, 3)), resample=Image.Resampling.BILINEAR, expand=True)
    box = img.getbbox()
    return None if box is None else np.asarray(img.crop(box), np.float64)


def uci_line(text: str, uci_x, uci_y, height: int, rng) -> np.ndarray:
    """One line of UCI writers' digits with pen-drawn separators, on a common baseline."""
    from PIL import Image, ImageDraw

    pen = max(2, height // 9)
    glyphs = []  # (ink, y offset from the line's top)
    for ch in text:
        if ch.isdigit():
            pool = np.flatnonzero(uci_y == int(ch))
            img8 = uci_x[int(rng.choice(pool))]
            # The 8x8 scan, smoothly enlarged and cut at a pen's edge: a stroke, not a blur.
            up = np.asarray(
                Image.fromarray(img8.astype(np.uint8)).resize((height, height), Image.Resampling.BICUBIC), np.float64
            )
            g = _trim(np.clip((up - 90.0) / 60.0, 0, 1) * 255.0)
            glyphs.append((g, height - g.shape[0] + int(rng.integers(-height // 12, height // 12 + 1))))
            continue
        w = {"/": int(0.55 * height), "-": int(0.45 * height)}.get(ch, 2 * pen + 2)
        canvas = Image.new("L", (w + 2 * pen, int(1.15 * height) + 2 * pen), 0)
        d = ImageDraw.Draw(canvas)
        base = height + pen
        if ch == ".":
            d.ellipse([pen, base - 2 * pen, 3 * pen, base], fill=255)
        elif ch == ",":
            d.line([(2 * pen, base - 2 * pen), (2 * pen, base), (pen, base + int(0.2 * height))], fill=255, width=pen)
        elif ch == ":":
            d.ellipse([pen, base - 2 * pen, 3 * pen, base], fill=255)
            d.ellipse([pen, base - int(0.55 * height), 3 * pen, base - int(0.55 * height) + 2 * pen], fill=255)
        elif ch == "-":
            y = base - int(0.5 * height)
            d.line([(pen, y), (pen + w, y)], fill=255, width=pen)
        elif ch == "/":
            d.line([(pen, base + int(0.05 * height)), (pen + w, pen)], fill=255, width=pen)
        glyphs.append((np.asarray(canvas, np.float64), -pen))
    gap = int(0.18 * height)
    width = sum(g.shape[1] for g, _ in glyphs) + (gap + gap // 3) * (len(glyphs) + 1)  # room for the jitter
    top = int(0.3 * height)
    out = np.zeros((int(1.6 * height) + top, width))
    x = gap
    for g, dy in glyphs:
        y = max(0, top + dy)
        hh = min(g.shape[0], out.shape[0] - y)
        out[y : y + hh, x : x + g.shape[1]] = np.maximum(out[y : y + hh, x : x + g.shape[1]], g[:hh])
        x += g.shape[1] + gap + int(rng.integers(-gap // 3, gap // 3 + 1))
    return _trim(out)


# --- the sheet and the photo ----------------------------------------------------------------------


def sheet(lines: list[np.ndarray], paper: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """(RGB sheet, its writing mask 0..1) with the lines of writing on it."""
    from PIL import Image, ImageDraw

    height = max(l.shape[0] for l in lines)
    spacing = int(1.7 * height)
    w = int(max(l.shape[1] for l in lines) * rng.uniform(1.5, 2.4)) + 2 * height
    h = int(spacing * (len(lines) + rng.uniform(1.5, 3.5)))
    tint = np.array([rng.uniform(225, 255), rng.uniform(220, 252), rng.uniform(200, 245)])
    img = Image.new("RGB", (w, h), tuple(int(t) for t in tint))
    d = ImageDraw.Draw(img)
    rule = tuple(int(v) for v in (rng.uniform(120, 200), rng.uniform(150, 210), rng.uniform(190, 240)))
    thin = max(1, height // 25)
    first = int(h / 2 - spacing * len(lines) / 2)
    if paper == "ruled":
        for y in range(first % spacing, h, spacing):
            d.line([(0, y + height + 4), (w, y + height + 4)], fill=rule, width=thin)
    elif paper == "squared":
        step = int(height * rng.uniform(0.6, 1.0))
        for y in range(0, h, step):
            d.line([(0, y), (w, y)], fill=rule, width=thin)
        for x in range(0, w, step):
            d.line([(x, 0), (x, h)], fill=rule, width=thin)
    ink = np.zeros((h, w))
    for k, line in enumerate(lines):
        y = first + k * spacing + (height - line.shape[0])
        x = int((w - line.shape[1]) * rng.uniform(0.3, 0.7))
        ink[y : y + line.shape[0], x : x + line.shape[1]] = np.maximum(
            ink[y : y + line.shape[0], x : x + line.shape[1]], line[: h - y, : w - x]
        )
        if paper == "box" and len(lines) == 1:
            m = int(0.25 * height)
            d.rectangle(
                [x - m, y - m, x + line.shape[1] + m, y + line.shape[0] + m],
                outline=(20, 20, 20),
                width=max(2, height // 14),
            )
    pen = np.array([rng.uniform(0, 60), rng.uniform(0, 60), rng.uniform(40, 140)])
    rgb = np.asarray(img, np.float64)
    a = (ink / 255.0)[..., None]
    return rgb * (1 - a) + pen * a, a[..., 0]


def photograph(paper_rgb: np.ndarray, rng) -> np.ndarray:
    """The sheet on a table, in perspective, under a shadow and a vignette: an RGB photo."""
    from PIL import Image, ImageDraw, ImageFilter

    W, H = PHOTO
    wood = np.array([rng.uniform(70, 150), rng.uniform(45, 110), rng.uniform(20, 70)])
    grain = np.sin(np.linspace(0, rng.uniform(20, 80), H)[:, None] + rng.normal(0, 0.4, (H, 1))) * rng.uniform(5, 20)
    table = np.clip(wood[None, None, :] + grain[..., None] + rng.normal(0, 6, (H, W, 1)), 0, 255)
    sh, sw = paper_rgb.shape[:2]
    scale = min(W * rng.uniform(0.45, 0.8) / sw, H * rng.uniform(0.45, 0.8) / sh)
    tw, th = sw * scale, sh * scale
    cx, cy = W / 2 + rng.uniform(-0.1, 0.1) * W, H / 2 + rng.uniform(-0.1, 0.1) * H
    j = 0.08 * min(tw, th)
    quad = [
        (cx - tw / 2 + rng.uniform(-j, j), cy - th / 2 + rng.uniform(-j, j)),
        (cx + tw / 2 + rng.uniform(-j, j), cy - th / 2 + rng.uniform(-j, j)),
        (cx + tw / 2 + rng.uniform(-j, j), cy + th / 2 + rng.uniform(-j, j)),
        (cx - tw / 2 + rng.uniform(-j, j), cy + th / 2 + rng.uniform(-j, j)),
    ]
    coeffs = _perspective(quad, [(0, 0), (sw, 0), (sw, sh), (0, sh)])
    paper = Image.fromarray(np.clip(paper_rgb, 0, 255).astype(np.uint8))
    warped = np.asarray(
        paper.transform((W, H), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BILINEAR), np.float64
    )
    mask_img = Image.new("L", (W, H), 0)
    ImageDraw.Draw(mask_img).polygon(quad, fill=255)
    mask = np.asarray(mask_img.filter(ImageFilter.GaussianBlur(1.0)), np.float64)[..., None] / 255.0
    photo = table * (1 - mask) + warped * mask
    # A shadow (a hand, a phone) falls across part of the picture with a soft edge.
    if rng.random() < 0.7:
        shadow = Image.new("L", (W, H), 0)
        x0 = rng.uniform(0, W)
        ImageDraw.Draw(shadow).polygon(
            [(x0, 0), (x0 + rng.uniform(-400, 400), H), (W * 2, H), (W * 2, 0)]
            if rng.random() < 0.5
            else [(0, rng.uniform(0, H)), (W, rng.uniform(0, H)), (W, H), (0, H)],
            fill=255,
        )
        soft = np.asarray(shadow.filter(ImageFilter.GaussianBlur(rng.uniform(5, 40))), np.float64)[..., None] / 255.0
        photo = photo * (1 - soft * rng.uniform(0.25, 0.55))
    yy, xx = np.mgrid[0:H, 0:W]
    r = np.hypot((xx - W / 2) / (W / 2), (yy - H / 2) / (H / 2))
    vignette = 1 - rng.uniform(0.1, 0.4) * np.clip(r - 0.3, 0, None) ** 2
    gradient = 1 + rng.uniform(-0.2, 0.2) * (xx / W - 0.5) + rng.uniform(-0.2, 0.2) * (yy / H - 0.5)
    photo = photo * (vignette * gradient)[..., None] + rng.normal(0, rng.uniform(1, 5), photo.shape)
    img = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return np.asarray(img)


def _perspective(dst, src) -> np.ndarray:
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64))


# EXIF orientation tag value -> the transpose that stores an upright photo that way.
_STORED = {6: "ROTATE_90", 8: "ROTATE_270", 3: "ROTATE_180"}


def to_jpeg(rgb: np.ndarray, rng, orientation: int = 1) -> bytes:
    """JPEG bytes; with orientation 3, 6 or 8 the pixels are stored turned and the EXIF tag says how."""
    from PIL import Image

    img = Image.fromarray(rgb)
    exif = Image.Exif()
    if orientation != 1:
        img = img.transpose(getattr(Image.Transpose, _STORED[orientation]))
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=int(rng.integers(60, 93)), exif=exif.tobytes())
    return buf.getvalue()


def make_photo(
    rng,
    fonts,
    uci_x,
    uci_y,
    kind: str | None = None,
    paper: str | None = None,
    orientation: int | None = None,
    clean: bool = False,
) -> tuple[bytes, str, dict]:
    """(JPEG bytes, the text written, what was drawn) for one photo.

    `clean`: the same writing (the same draws from `rng`, so the photo set's next photos stay the same)
    on a clean white page instead, as PNG bytes: no table, sheet, rules, light or JPEG. What a reader
    misses there is lost in the writing itself, not in the photo."""
    kind = kind or KINDS[int(rng.integers(len(KINDS)))]
    if paper is None:
        paper = PAPERS[int(rng.integers(len(PAPERS)))] if kind != "two_lines" else PAPERS[int(rng.integers(3))]
    if orientation is None:
        orientation = int(rng.choice([1, 1, 1, 1, 1, 6, 8, 3]))
    while True:
        texts = content(kind, rng)
        height = int(rng.integers(40, 90))
        if rng.random() < 0.5:
            font = fonts[int(rng.integers(len(fonts)))]
            lines = [font_line(t, font, height, rng) for t in texts]
            writer = f"font:{font.name}"
            if any(l is None for l in lines):
                continue
        else:
            lines = [uci_line(t, uci_x, uci_y, height, rng) for t in texts]
            writer = "uci"
        break
    rgb, _ = sheet(lines, paper, rng)
    photo = photograph(rgb, rng)
    meta = {"kind": kind, "paper": paper, "orientation": orientation, "writer": writer, "height": height}
    data = to_jpeg(photo, rng, orientation)  # drawn for a clean page too: its quality is a draw from rng
    return (clean_page(lines) if clean else data), "\n".join(texts), meta


def clean_page(lines: list[np.ndarray]) -> bytes:
    """The lines of writing, dark on a white page with a margin, line under line: PNG bytes."""
    from PIL import Image

    height = max(l.shape[0] for l in lines)
    spacing = int(1.7 * height)
    page = np.zeros((height + spacing * (len(lines) - 1) + 2 * height, max(l.shape[1] for l in lines) + 2 * height))
    for k, line in enumerate(lines):
        y = height + k * spacing
        page[y : y + line.shape[0], height : height + line.shape[1]] = line
    buf = io.BytesIO()
    Image.fromarray((245 - np.clip(page, 0, 255) * (215 / 255)).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()
