"""Pictures as people bring them, drawn from scratch: text in a font, then paper, pen, blur and noise.

Shared by the synthetic non-digits (negatives.py) and the reading benchmark's test sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnistlab import atomic
from mnistlab.data.fonts import font_files, glyph_supported, load_font

CACHE_VERSION = (
    2  # part of the cache key: bump it whenever the drawing or the preparation (`images.center_ink`) changes
)


def render_text(text: str, font_path, rng, size: int | None = None, rotate: float = 20.0):
    """`text` in one font, randomly sized, stroked and rotated: bright ink on black, with a margin.

    None when the font lacks one of the characters.
    """
    from PIL import Image, ImageDraw

    size = size or int(rng.integers(32, 96))
    font = load_font(font_path, size)
    if not all(glyph_supported(font, ch) for ch in text):
        return None
    img = Image.new("L", (size * (len(text) + 2), size * 3), 0)
    ImageDraw.Draw(img).text(
        (size // 2, size // 2), text, fill=255, font=font, stroke_width=int(rng.integers(0, 3)), stroke_fill=255
    )
    img = img.rotate(float(rng.uniform(-rotate, rotate)), resample=Image.Resampling.BILINEAR, expand=True)
    box = img.getbbox()
    if box is None:
        return None
    pad = int(rng.integers(4, 30))
    arr = np.asarray(img.crop(box), dtype=np.float64)
    return np.pad(arr, pad)


def photograph(ink: np.ndarray, rng) -> np.ndarray:
    """Bright-ink canvas -> a picture as people bring it: either polarity, some blur, light noise."""
    from PIL import Image, ImageFilter

    ink = np.clip(ink, 0, 255)
    if rng.random() < 0.3:
        img = Image.fromarray(ink.astype(np.uint8)).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
        ink = np.asarray(img, dtype=np.float64)
    paper, pen = (float(rng.uniform(190, 255)), float(rng.uniform(0, 70)))
    if rng.random() < 0.5:
        paper, pen = 255 - paper, 255 - pen
    pic = paper + (pen - paper) * ink / 255.0
    return np.clip(pic + rng.normal(0, rng.uniform(0, 8), pic.shape), 0, 255)


def render_digits(n: int, seed: int, fonts: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """`n` digits rendered in `fonts` and photographed, prepared like a user's file: (x uint8, y)."""
    from mnistlab.images import ImageError, to_mnist_array

    rng = np.random.default_rng(seed)
    font_list: list[Path | None] = list(fonts) if fonts else [None]
    x = np.zeros((n, 28, 28), np.uint8)
    y = np.zeros(n, np.uint8)
    i = 0
    while i < n:
        digit = int(rng.integers(0, 10))
        ink = render_text(str(digit), font_list[int(rng.integers(len(font_list)))], rng, rotate=12)
        if ink is None:
            continue
        try:
            x[i] = np.clip(np.round(to_mnist_array(photograph(ink, rng))), 0, 255).astype(np.uint8)
        except ImageError:
            continue
        y[i] = digit
        i += 1
    return x, y


def training_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`render_digits` from the `train` font group (never the fonts the benchmark scores on), cached."""
    fonts = font_files("train")

    def make():
        x, y = render_digits(n, seed, fonts)
        return np.concatenate([x.reshape(n, 784), y[:, None]], axis=1)  # the label in the last column

    packed = cached("digits", (n, seed, [f.name for f in fonts]), make)
    return packed[:, :784].reshape(n, 28, 28), packed[:, 784]


def cached(kind: str, key, make: Callable[[], np.ndarray]) -> np.ndarray:
    """An array made once by `make()` and kept under $MNISTLAB_HOME/<kind>/, keyed by `key`."""
    from mnistlab.data.datasets import mnistlab_home

    digest = hashlib.sha256(repr((CACHE_VERSION, kind, key)).encode()).hexdigest()[:16]
    path = mnistlab_home() / kind / f"{kind}-{digest}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # damaged: make it again
    arr = make()
    with atomic.atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, arr, allow_pickle=False)
    return arr
