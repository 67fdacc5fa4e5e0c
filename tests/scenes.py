"""Pictures with a known answer, drawn here: printed numbers on a sheet, ruled or squared paper, a form
box, a table around the sheet, a shadow across it, light falling off towards one side, a small label
on a wide table."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def sheet(
    lines: list[str],
    size: int = 64,
    paper: str = "plain",
    box: bool = False,
    pad: int = 60,
    offsets: list[int] | None = None,
    margin: int = 18,
    rule: int = 180,
) -> np.ndarray:
    """Dark print on light paper (grayscale 0..255); `offsets` shifts each line right by that much;
    a box leaves `margin` pixels around the print; squared paper's lines are `rule` grey."""
    font = ImageFont.truetype(FONT, size)
    offsets = offsets or [0] * len(lines)
    spacing = int(size * 1.8)
    width = max(font.getbbox(t)[2] + o for t, o in zip(lines, offsets, strict=True)) + 2 * pad
    height = int((len(lines) - 1) * spacing + size * 1.4 + 2 * pad)
    img = Image.new("L", (width, height), 245)
    d = ImageDraw.Draw(img)
    if paper == "ruled":
        for k in range(-1, len(lines) + 2):
            y = pad + k * spacing + int(size * 1.25)
            d.line([(0, y), (width, y)], fill=170, width=2)
    elif paper == "squared":
        step = size // 2 + 8
        for y in range(0, height, step):
            d.line([(0, y), (width, y)], fill=rule, width=1)
        for x in range(0, width, step):
            d.line([(x, 0), (x, height)], fill=rule, width=1)
    for k, (text, off) in enumerate(zip(lines, offsets, strict=True)):
        at = (pad + off, pad + k * spacing)
        d.text(at, text, fill=20, font=font)
        if box:
            x0, y0, x1, y1 = d.textbbox(at, text, font=font)
            d.rectangle([x0 - margin, y0 - margin, x1 + margin, y1 + margin], outline=20, width=4)
    return np.asarray(img, np.float64)


def on_table(page: np.ndarray, shadow: str | None = "corner") -> np.ndarray:
    """The sheet on a darker, grained table; `shadow` "corner" darkens the table and the sheet's lower
    right corner (clear of the writing), "half" the whole right half with the writing under it,
    "aslant" everything right of an edge that leans back and crosses the writing in its middle."""
    h, w = page.shape
    H, W = int(h * 1.8), int(w * 1.6)
    rng = np.random.default_rng(0)
    table = 90 + 15 * np.sin(np.linspace(0, 40, H))[:, None] + rng.normal(0, 4, (H, W))
    y0, x0 = (H - h) // 2, (W - w) // 2
    table[y0 : y0 + h, x0 : x0 + w] = page
    yy, xx = np.mgrid[0:H, 0:W]
    if shadow == "corner":
        table = table * np.where(xx + yy > x0 + w + y0 + 0.55 * h, 0.55, 1.0)
    elif shadow == "half":
        table = table * np.where(xx > x0 + 0.3 * w, 0.6, 1.0)
    elif shadow == "aslant":
        table = table * np.where(xx - 0.8 * (yy - y0) > x0 + 0.4 * w, 0.55, 1.0)
    img = Image.fromarray(np.clip(table, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    return np.asarray(img, np.float64)


def on_wide_table(page: np.ndarray) -> np.ndarray:
    """A small label (a sixteenth of the photo) on a grained table lit on the left and in shade on
    the right: the lit table is as light as paper once the light is evened out."""
    h, w = page.shape
    H, W = 4 * h, 4 * w
    rng = np.random.default_rng(2)
    table = 120 + 25 * np.sin(np.linspace(0, 60, H))[:, None] + rng.normal(0, 6, (H, W))
    y0, x0 = (H - h) // 2, (W - w) // 2
    table[y0 : y0 + h, x0 : x0 + w] = page
    table = table * np.where(np.mgrid[0:H, 0:W][1] < x0 + 1.3 * w, 1.0, 0.45)
    img = Image.fromarray(np.clip(table, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    return np.asarray(img, np.float64)


def light_falling_off(page: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Light that fades towards the right edge (a lamp on the left), plus vignetting."""
    h, w = page.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    return np.clip(page * (1 - strength * xx / w) * (1 - 0.3 * np.clip(r - 0.4, 0, None) ** 2), 0, 255)


def jpeg(gray: np.ndarray, orientation: int = 1) -> bytes:
    """JPEG bytes; orientation 6 or 8 stores the pixels turned, with the EXIF tag a phone would write."""
    img = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if orientation != 1:
        img = img.transpose(
            {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}[orientation]
        )
        exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def on_bright_table(page: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The sheet on a light table with a soft shadow over its lower half and the table beside it, so
    that the shadowed paper is darker than the lit table: (photo, where the sheet lies)."""
    h, w = page.shape
    H, W = int(h * 1.8), int(w * 1.6)
    table = np.full((H, W), 175.0) + np.random.default_rng(1).normal(0, 3, (H, W))
    y0, x0 = (H - h) // 2, (W - w) // 2
    table[y0 : y0 + h, x0 : x0 + w] = page
    table = np.asarray(
        Image.fromarray(np.clip(table, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1)), np.float64
    )
    shade = Image.fromarray((np.mgrid[0:H, 0:W][0] > y0 + 0.6 * h).astype(np.uint8) * 255)
    soft = np.asarray(shade.filter(ImageFilter.GaussianBlur(8)), np.float64) / 255.0
    return table * (1 - 0.55 * soft), (slice(y0, y0 + h), slice(x0, x0 + w))


def field_note(
    lines: list[str],
    turn: float = 0.0,
    seed: int = 0,
    ink: int = 25,
    size: int = 64,
    photo: tuple[int, int] = (1280, 960),
    grain: float = 0.0,
    faint: tuple[int, int] | None = None,
    room: float = 1.5,
) -> tuple[np.ndarray, str]:
    """A note photographed as people do: `lines` in print on a sheet turned `turn` degrees on a dark
    table, the picture `photo` pixels (width, height) with the writing scaled to it; `ink` is the
    print's grey and `grain` (0..1) makes it a pencil's, broken and uneven; `faint` (line, character)
    leaves that character barely darker than the paper, as a pen running dry does; the photo is `room`
    times as wide as the sheet (a sheet seen from afar: more). Returns (grey picture, the text it holds)."""
    rng = np.random.default_rng(seed)
    page = sheet(lines, size=size, pad=size)
    if faint is not None:
        row, k = faint
        font = ImageFont.truetype(FONT, size)
        x0, x1 = size + int(font.getlength(lines[row][:k])), size + int(font.getlength(lines[row][: k + 1]))
        y0 = size + row * int(size * 1.8)
        part = page[y0 : y0 + int(size * 1.4), x0:x1]
        part[part < 128] = 232.0
    if grain:
        dark = page < 128
        speckle = rng.uniform(0, 1, page.shape) < grain * 0.5
        page = np.where(dark, np.where(speckle, 235.0, 245.0 - (245.0 - ink) * rng.uniform(0.6, 1.0, page.shape)), page)
    else:
        page = np.where(page < 128, float(ink), page)
    img = Image.fromarray(page.astype(np.uint8)).rotate(
        turn, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0
    )
    mask = Image.new("L", (page.shape[1], page.shape[0]), 255).rotate(turn, expand=True, fillcolor=0)
    w, h = img.size
    tw = int(max(w, h * photo[0] / photo[1]) * room)  # the photo's own proportions: no angle is skewed
    th = tw * photo[1] // photo[0]
    table = Image.fromarray((60 + rng.normal(0, 6, (th, tw))).clip(0, 255).astype(np.uint8))
    table.paste(img, ((table.width - w) // 2, (table.height - h) // 2), mask)
    table = table.resize(photo, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(0.6))
    gray = np.asarray(table, np.float64) + rng.normal(0, 3, (photo[1], photo[0]))
    return gray.clip(0, 255), "\n".join(lines)


def arc(cx, cy, r, start, end, n=14) -> list[tuple[float, float]]:
    """Points along a circle's arc from `start` to `end` degrees (y down)."""
    return [(cx + r * np.cos(np.radians(a)), cy + r * np.sin(np.radians(a))) for a in np.linspace(start, end, n + 1)]


# "1", "2", "3" as strokes on the page's 840 x 220 pad, in its own pixels: about 130 pixels tall.
PAD_123 = [
    [(150, 45), (150, 175)],
    arc(330, 85, 40, 200, 360) + [(360, 110), (290, 175), (375, 175)],
    arc(520, 78, 34, 200, 450),
    arc(520, 142, 38, 270, 500),
]


def pad_drawing() -> np.ndarray:
    """ "123" as the page's pad sends it: `PAD_123` in white strokes 14 pixels wide on its black canvas
    (taller writing than any line the detector learned from)."""
    img = Image.new("L", (840, 220), 0)
    draw = ImageDraw.Draw(img)
    for points in PAD_123:
        draw.line(points, fill=255, width=14, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse([x - 7, y - 7, x + 7, y + 7], fill=255)
    return np.asarray(img, np.float64)
