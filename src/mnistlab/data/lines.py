"""Synthetic lines for the line model: digits, separators and non-digits side by side, as people write.

A line is handwritten (MNIST *training* digits, separators drawn with a pen of the digits' width,
letters from the `train` fonts or scribbles for non-digits) or printed in one `train` font, glyph by
glyph with its own spacing. Gaps run from wide to overlapping (touching and kerned pairs), glyphs
wander off the baseline, and the whole line is slanted, thickened or thinned, blurred, photographed
(`synth.photograph`) and turned into ink exactly as the reader does (`images.ink_map`), then into a
strip (`reading.strip.to_strip`). Nothing here ever uses the `eval` fonts, the UCI digits or MNIST's
test or validation images. `make_lines(n, seed, ...)` is deterministic for its arguments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.data.strip import VOCAB, to_strip
from mnistlab.data.synth import photograph
from mnistlab.images import ImageError, ink_map

NOT_DIGIT = "?"
LETTERS = "ACEFHKLMNPRUVWXYacefhkmnprtuvwxy#%&@*+=$€£§"
MAX_CHARS = 20
COARSE = 0.2  # handwritten lines drawn as coarse 8x8 scans


def content(rng) -> str:
    """The characters of one line ("?" marks a non-digit)."""

    def digits(a, b):
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(a, b + 1))))

    kind = rng.choice(
        ["number", "long", "date", "time", "price", "negative", "decimal", "mixed", "words"],
        p=[0.28, 0.08, 0.14, 0.08, 0.12, 0.06, 0.06, 0.12, 0.06],
    )
    if kind == "number":
        return digits(1, 7)
    if kind == "long":
        return digits(8, MAX_CHARS)
    if kind == "date":
        d, m, y = (
            f"{int(rng.integers(1, 32)):02d}",
            f"{int(rng.integers(1, 13)):02d}",
            str(int(rng.integers(1900, 2100))),
        )
        if rng.random() < 0.3:
            y = y[2:]
        sep = rng.choice(["/", ".", "-"])
        return sep.join([y, m, d] if rng.random() < 0.25 else [d, m, y])
    if kind == "time":
        t = f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
        return t + (f":{int(rng.integers(0, 60)):02d}" if rng.random() < 0.2 else "")
    if kind == "price":
        whole = str(int(rng.integers(0, 100000)))
        if len(whole) > 3 and rng.random() < 0.4:
            whole = whole[:-3] + rng.choice([",", "."]) + whole[-3:]
        return whole + rng.choice([".", ","]) + digits(2, 2)
    if kind == "negative":
        return "-" + digits(1, 5) + (("." + digits(1, 2)) if rng.random() < 0.3 else "")
    if kind == "decimal":
        return digits(1, 4) + rng.choice([".", ","]) + digits(1, 4)
    if kind == "mixed":  # a non-digit before, after or among digits ($12.50, 12kg, A4)
        body = digits(1, 6)
        k = int(rng.integers(1, 3))
        where = rng.random()
        if where < 0.4:
            return NOT_DIGIT * k + body
        if where < 0.8:
            return body + NOT_DIGIT * k
        cut = int(rng.integers(0, len(body) + 1))
        return body[:cut] + NOT_DIGIT + body[cut:]
    return NOT_DIGIT * int(rng.integers(1, 6))


class Sources:
    """What lines are drawn from: MNIST training digits by class, `train` fonts, non-digit images."""

    def __init__(
        self, x_digits: np.ndarray, y_digits: np.ndarray, fonts: list[Path], nondigits: np.ndarray | None = None
    ):
        self.by_class = [x_digits[y_digits == d] for d in range(10)]
        self.fonts = list(fonts) or [None]
        self.nondigits = nondigits


def make_lines(
    n: int, seed: int, sources: Sources, finish=None, hands: float = 0.0
) -> tuple[list[np.ndarray], list[str]]:
    """`n` strips (HEIGHT, W) float32 0..255 with their texts. `finish(canvas, text, handwritten, rng,
    sources)` turns a line's bright ink canvas into its strip (None: drawn again); by default, as
    the reader's ink map shows it. `hands` of the handwritten lines are written by a simulated hand
    from stroke templates (`data.hands`) instead of with MNIST digits."""
    rng = np.random.default_rng(seed)
    strips, texts = [], []
    while len(strips) < n:
        text = content(rng)
        hand = rng.random() < 0.6
        canvas = handwritten_line(text, rng, sources, hands) if hand else printed_line(text, rng, sources)
        if canvas is None:
            continue
        strip = _as_reader_sees(canvas, rng) if finish is None else finish(canvas, text, hand, rng, sources)
        if strip is None:
            continue
        strips.append(strip)
        texts.append(text)
    return strips, texts


def make_chunk(args) -> tuple[list[np.ndarray], list[str]]:
    """`make_lines` for one (n, seed, digits, labels, fonts, non-digits) task (a worker process's job)."""
    n, seed, x, y, fonts, nondigits = args
    return make_lines(n, seed, Sources(x, y, fonts, nondigits))


def encode(texts: list[str]) -> np.ndarray:
    """Texts -> (N, max length) class indices, padded with 0 (CTC's blank)."""
    width = max(1, max(len(t) for t in texts))
    out = np.zeros((len(texts), width), np.int32)
    for i, t in enumerate(texts):
        out[i, : len(t)] = [VOCAB.index(ch) + 1 for ch in t]
    return out


# --- handwriting ------------------------------------------------------------------------------------


def _resize(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(
        Image.fromarray(arr.astype(np.float32), mode="F").resize((max(1, w), max(1, h)), Image.Resampling.BILINEAR),
        np.float64,
    )


def _trim(ink: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(ink > 20)
    if ys.size == 0:
        return None
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _pen_mark(ch: str, height: int, pen: int, rng) -> tuple[np.ndarray, int]:
    """A separator drawn with a pen: (bright canvas, its top relative to the digits' top)."""
    from PIL import Image, ImageDraw

    dot = max(2, int(pen * rng.uniform(1.0, 1.8)))
    if ch in ".,:":
        w = dot + 2 * pen
    elif ch == "/":
        w = int(height * rng.uniform(0.3, 0.7))
    else:  # "-"
        w = int(height * rng.uniform(0.25, 0.6))
    h = int(height * 1.3) + 2 * pen
    img = Image.new("L", (w + 2 * pen, h), 0)
    d = ImageDraw.Draw(img)
    base = height + pen  # the digits' baseline, in this canvas
    if ch in ".:":
        d.ellipse([pen, base - dot, pen + dot, base], fill=255)
        if ch == ":":
            y = base - int(height * rng.uniform(0.4, 0.65))
            d.ellipse([pen, y, pen + dot, y + dot], fill=255)
    elif ch == ",":
        tail = int(height * rng.uniform(0.12, 0.3))
        d.line([(pen + dot // 2, base - dot), (pen + dot // 2, base), (pen, base + tail)], fill=255, width=pen)
    elif ch == "-":
        y = base - int(height * rng.uniform(0.35, 0.6))
        d.line([(pen, y), (pen + w - 1, y + int(rng.integers(-pen, pen + 1)))], fill=255, width=pen)
    else:  # "/"
        top = pen + int(height * rng.uniform(-0.05, 0.1))
        d.line([(pen, base + int(height * rng.uniform(0, 0.1))), (pen + w - 1, max(0, top))], fill=255, width=pen)
    return np.asarray(img, np.float64), -pen


def _nondigit(height: int, rng, sources: Sources) -> np.ndarray | None:
    from mnistlab.data.synth import render_text

    if sources.nondigits is not None and rng.random() < 0.4:
        g = _trim(sources.nondigits[int(rng.integers(len(sources.nondigits)))].astype(np.float64))
    else:
        font = sources.fonts[int(rng.integers(len(sources.fonts)))]
        g = render_text(LETTERS[int(rng.integers(len(LETTERS)))], font, rng, size=64, rotate=8)
        g = None if g is None else _trim(g)
    if g is None:
        return None
    h = int(height * rng.uniform(0.6, 1.2))
    return _resize(g, h, int(g.shape[1] * h / g.shape[0] * rng.uniform(0.8, 1.2)))


def _coarse(g: np.ndarray, height: int, rng, cut: float) -> np.ndarray | None:
    """A digit as a coarse scan sees it: its bitmap size-normalised into a box (stretched wider than
    it was written), counted in 8x8 cells, then enlarged smoothly and cut at a pen's edge."""
    from PIL import Image

    from mnistlab import morph

    w = int(32 * rng.uniform(0.5, 0.9))  # 16-28 columns of the 32
    box = np.zeros((32, 32))
    x0 = (32 - w) // 2
    box[:, x0 : x0 + w] = _resize(g, 32, w) > 110  # the scanner's bitmap
    if rng.random() < 0.5:  # a broader pen
        box = morph.max_filter(box, 2, 2)
    cells = box.reshape(8, 4, 8, 4).sum(axis=(1, 3)) * (255.0 / 16.0)
    up = np.asarray(
        Image.fromarray(cells.astype(np.uint8)).resize((height, height), Image.Resampling.BICUBIC), np.float64
    )
    return _trim(np.clip((up - cut) / 60.0, 0, 1) * 255.0)


def handwritten_line(text: str, rng, sources: Sources, hands: float = 0.0) -> np.ndarray | None:
    """A line of MNIST digits and pen-drawn separators (or, `hands` of the time, both written by a
    simulated hand: `data.hands`) and non-digits: a bright ink canvas."""
    height = int(rng.integers(28, 64))
    pen = max(2, int(round(height * rng.uniform(0.07, 0.14))))
    if hands > 0 and rng.random() < hands:
        from mnistlab.data.hands import Writer

        writer = Writer(rng, height)  # its own separators: `pen` is for the MNIST lines' ones
    else:
        writer = None
    # One line in COARSE is written as coarse scans (8x8 cells) show digits: blocky and wide.
    coarse = float(rng.uniform(80, 130)) if rng.random() < COARSE else None
    glyphs = []  # (canvas, top offset from the digits' top)
    for ch in text:
        if ch.isdigit() and writer is not None:
            g = writer.digit(ch, rng)
            glyphs.append((g, height - g.shape[0] + int(rng.integers(-height // 12, height // 12 + 1))))
        elif ch.isdigit():
            pool = sources.by_class[int(ch)]
            g = _trim(pool[int(rng.integers(len(pool)))].astype(np.float64))
            if g is not None and coarse is not None:
                g = _coarse(g, height, rng, coarse)
            if g is None:
                return None
            h = int(height * rng.uniform(0.8, 1.1))
            g = _resize(g, h, int(g.shape[1] * h / g.shape[0] * rng.uniform(0.85, 1.2)))
            glyphs.append((g, height - h + int(rng.integers(-height // 10, height // 10 + 1))))
        elif ch == NOT_DIGIT:
            g = _nondigit(height, rng, sources)
            if g is None:
                return None
            glyphs.append((g, height - g.shape[0] + int(rng.integers(-height // 8, height // 8 + 1))))
        elif writer is not None:
            glyphs.append(writer.mark(ch, rng))
        else:
            glyphs.append(_pen_mark(ch, height, pen, rng))
    spacing = rng.uniform(-0.12, 0.45) * height
    return _place(glyphs, spacing, height, rng, [ch for ch in text])


def _place(glyphs, spacing: float, height: int, rng, chars) -> np.ndarray:
    top = height
    width = sum(g.shape[1] for g, _ in glyphs) + int(max(0, spacing) * len(glyphs)) + 4 * height
    out = np.zeros((3 * height + top, width))
    x = height
    for k, (g, dy) in enumerate(glyphs):
        if k:
            gap = spacing + rng.normal(0, 0.08 * height)
            if chars[k] in ".,:-/" or chars[k - 1] in ".,:-/":
                gap = max(gap, 0.05 * height)  # a pen mark is seldom written into a digit
            x = max(0, x + int(gap))
        y = max(0, top + dy)
        hh = min(g.shape[0], out.shape[0] - y)
        ww = min(g.shape[1], out.shape[1] - x)
        out[y : y + hh, x : x + ww] = np.maximum(out[y : y + hh, x : x + ww], g[:hh, :ww])
        x += g.shape[1]
    return out


# --- print ------------------------------------------------------------------------------------------


def printed_line(text: str, rng, sources: Sources) -> np.ndarray | None:
    from PIL import Image, ImageDraw

    from mnistlab.data.fonts import glyph_supported, load_font

    font_path = sources.fonts[int(rng.integers(len(sources.fonts)))]
    size = int(rng.integers(28, 64))
    font = load_font(font_path, size)
    chars = [LETTERS[int(rng.integers(len(LETTERS)))] if ch == NOT_DIGIT else ch for ch in text]
    if not all(glyph_supported(font, ch) for ch in chars):
        return None
    tracking = rng.uniform(-0.12, 0.25)
    img = Image.new("L", (size * (len(chars) + 4), size * 3), 0)
    d = ImageDraw.Draw(img)
    stroke = int(rng.integers(0, 3)) if rng.random() < 0.4 else 0
    x = float(size)
    for ch in chars:
        d.text((x, 2 * size), ch, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255)
        x += font.getlength(ch) + tracking * size + rng.normal(0, 0.04 * size)
    return np.asarray(img, np.float64)


# --- the whole line ---------------------------------------------------------------------------------


def slant(img, shear: float):
    """A PIL picture slanted by `shear` (columns shifted by shear x row), widened to keep it whole."""
    from PIL import Image

    w, h = img.size
    return img.transform(
        (w + int(abs(shear) * h), h),
        Image.Transform.AFFINE,
        (1, shear, -abs(shear) * h if shear > 0 else 0, 0, 1, 0),
        resample=Image.Resampling.BILINEAR,
    )


def _as_reader_sees(canvas: np.ndarray, rng) -> np.ndarray | None:
    """Slant, pen width, blur, a photograph of it, and the reader's ink map and strip."""
    from PIL import Image, ImageFilter

    from mnistlab import morph

    img = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))
    shear = rng.uniform(-0.35, 0.35) if rng.random() < 0.7 else 0.0
    if shear:
        img = slant(img, shear)
    if rng.random() < 0.3:
        img = img.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BILINEAR, expand=True)
    arr = np.asarray(img, np.float64)
    box = _trim(arr)
    if box is None:
        return None
    arr = np.pad(box, int(rng.integers(3, 12)))
    r = rng.random()
    if r < 0.15:
        arr = morph.max_filter(arr, 3, 3)
    elif r < 0.25:
        arr = morph.min_filter(arr, 2, 2)
    if rng.random() < 0.3:  # low resolution: a small, far or cheap picture
        f = rng.uniform(0.3, 0.7)
        small = Image.fromarray(arr.astype(np.uint8)).resize(
            (max(4, int(arr.shape[1] * f)), max(4, int(arr.shape[0] * f))), Image.Resampling.BILINEAR
        )
        arr = np.asarray(small.resize((arr.shape[1], arr.shape[0]), Image.Resampling.BILINEAR), np.float64)
    if rng.random() < 0.3:
        arr = np.asarray(
            Image.fromarray(arr.astype(np.uint8)).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.2)))),
            np.float64,
        )
    try:
        ink = ink_map(photograph(arr, rng))
    except ImageError:
        return None
    ink *= rng.uniform(0.5, 1.0)
    out = to_strip(ink)
    return None if out is None else out[0]
