"""A user's picture -> a 28x28 MNIST-style array (light ink on black, 0..255 float32).

This repeats what MNIST's own preparation did: grayscale, ink made bright on a dark background,
contrast stretched and background noise dropped, cropped to the ink, scaled to fit 20x20 keeping the
aspect ratio, and placed in 28x28 with its centre of mass at the centre.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError

MAX_PIXELS = 40_000_000  # refuse larger images from their header, before decoding a single pixel
MAX_FILE_BYTES = 20 * 1024 * 1024
WORK_PIXELS = 2_000_000  # pictures are read at most this big (reading shrinks them to it anyway)
# WebP is decoded whole, through libwebp's buffers and Pillow's (0.66 GB for 40 Mpixels): a 12-Mpixel
# phone picture is read, a bigger WebP refused from its header.
MAX_WEBP_PIXELS = 16_000_000
DIGIT_PIXELS = 1_000_000  # a single digit is prepared at 20x20: a million pixels is far more than enough
# What a reader needs (JPEG includes the MPO files some phones write; PPM is every PNM): no parser
# for the other formats Pillow knows (JPEG 2000, PSD, FITS, EPS with its Ghostscript...) is ever
# reached by a user's bytes.
READ_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "PPM")


class ImageError(MnistlabError):
    """This file or upload cannot be turned into a digit image."""


def load_gray_file(path: str | Path, shrink_to: int | None = WORK_PIXELS) -> np.ndarray:
    """An image file -> float grayscale (H, W) in 0..255, decoded straight to at most `shrink_to`
    pixels (raises ImageError naming the file)."""
    return load_picture(path, shrink_to)[0]


def load_picture(path: str | Path, shrink_to: int | None = WORK_PIXELS) -> tuple[np.ndarray, float]:
    """An image file -> (float grayscale, the factor from its pixels to the file's), decoded straight
    to at most `shrink_to` pixels (see `decode_picture`). The ImageError names the file."""
    try:
        return decode_picture(picture_bytes(path), shrink_to)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from None


def picture_bytes(path: str | Path) -> bytes:
    """A picture file's bytes, refused before reading where it is no regular file or too big.

    The ImageError says what is wrong without naming the file: the caller names it once
    (`load_picture` in its message, `mnistlab read` in its row).
    """
    import stat

    path = Path(path)
    try:
        info = path.stat()
        # Only regular files: a FIFO would block forever and /dev/zero never ends.
        if not stat.S_ISREG(info.st_mode):
            raise ImageError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ImageError(
                f"{info.st_size // 1_000_000} MB, more than the {MAX_FILE_BYTES // 1_000_000} MB mnistlab reads"
            )
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # the cap holds even if the file grows meanwhile
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"larger than the {MAX_FILE_BYTES // 1_000_000} MB mnistlab reads")
    except FileNotFoundError:
        raise ImageError("does not exist") from None
    except OSError as exc:
        raise ImageError(f"cannot be read: {exc.strerror or exc}") from None
    return data


def image_bytes_to_array(data: bytes) -> np.ndarray:
    """Decode image bytes (PNG, JPEG, WebP, GIF, BMP, TIFF, PNM) into a 28x28 MNIST-style array,
    decoded straight to at most DIGIT_PIXELS."""
    return to_mnist_array(decode_picture(data, DIGIT_PIXELS)[0])


def webp_size(data: bytes) -> tuple[int, int] | None:
    """A WebP's width and height from its RIFF header, for bytes that are a WebP (else None).

    Pillow allocates a WebP's whole canvas as soon as it opens one (about 0.5 GB for 40 Mpixels),
    so its size is read here first, from the VP8X, VP8L or VP8 chunk (RFC 9649)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


def _check_webp(data: bytes) -> None:
    size = webp_size(data)
    if size is not None and size[0] * size[1] > MAX_WEBP_PIXELS:
        raise ImageError(
            f"the WebP image is {size[0]}x{size[1]} pixels, more than the {MAX_WEBP_PIXELS:,} "
            f"mnistlab decodes in WebP (it is decoded whole): send it as JPEG or PNG"
        )


def _load_plugins() -> None:
    """Pillow's parsers for READ_FORMATS (WebP and TIFF are not among those it loads at first)."""
    from PIL import (  # noqa: F401
        BmpImagePlugin,
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        PpmImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )


# What decoding a picture holds at its peak, per pixel, against a PNG's or a JPEG's: Pillow decodes a
# WebP whole, through libwebp's buffers and its own (0.66 GB for a 40-Mpixel WebP, 0.16 GB a PNG).
DECODE_WEIGHT = {"WEBP": 4}


def picture_cost(data: bytes) -> int:
    """The pixels a picture declares in its header (nothing decoded), weighted by what decoding its
    format holds (DECODE_WEIGHT); 0 for bytes that are no picture mnistlab reads (decoding them
    says why)."""
    from PIL import Image

    size = webp_size(data)
    if size is not None:  # never opened by Pillow just to be weighed (see webp_size)
        return size[0] * size[1] * DECODE_WEIGHT["WEBP"]
    _load_plugins()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=READ_FORMATS) as img:
                return int(img.size[0]) * int(img.size[1]) * DECODE_WEIGHT.get(img.format, 1)
    except Exception:  # any parser's failure on hostile bytes: the decode itself reports it
        return 0


def decode_gray(data: bytes) -> np.ndarray:
    """Decode image bytes into float grayscale (H, W) in 0..255; refuses huge images from the header."""
    return decode_picture(data, shrink_to=None)[0]


def decode_picture(data: bytes, shrink_to: int | None = WORK_PIXELS) -> tuple[np.ndarray, float]:
    """Image bytes -> (float grayscale 0..255, the factor from its pixels to the picture's own).

    A picture over `shrink_to` pixels is decoded straight to about that size (a JPEG's DCT scaling,
    else a box reduction in 8 bits), so a 40-Mpixel upload never becomes a 40-Mpixel float array.
    """

    def shrunk(img):
        w, h = img.size
        factor = 1
        if shrink_to and w * h > shrink_to:
            factor = int(np.ceil((w * h / shrink_to) ** 0.5))
            if img.format == "JPEG":
                img.draft("L", (max(1, w // factor), max(1, h // factor)))
        img.load()
        if factor > 1:
            img = _reduced(img, shrink_to)
        return upright(img), w / img.size[0]

    return _decode(data, shrunk)


def decode_region(data: bytes, box, shrink_to: int | None = WORK_PIXELS) -> tuple[np.ndarray, float]:
    """The part `box` (x0, y0, x1, y1 in the upright picture's own pixels) of a picture's bytes, at
    the picture's own resolution or shrunk to about `shrink_to` pixels: (float grayscale 0..255, the
    factor from its pixels to the picture's own). Only the part ever becomes a float array."""

    def part(img):
        if img.format == "JPEG":
            img.draft("L", img.size)  # the luminance alone, at full size
        img.load()
        img = upright(img)
        w, h = img.size
        x0, y0 = int(np.clip(box[0], 0, w - 1)), int(np.clip(box[1], 0, h - 1))
        x1, y1 = int(np.clip(box[2], x0 + 1, w)), int(np.clip(box[3], y0 + 1, h))
        img = img.crop((x0, y0, x1, y1))
        size = img.size[0]
        if shrink_to:
            img = _reduced(img, shrink_to)
        return img, size / img.size[0]

    return _decode(data, part)


def _reduced(img, shrink_to: int):
    """`img` reduced by a whole factor to at most about `shrink_to` pixels (8-bit where it can be)."""
    if img.size[0] * img.size[1] <= shrink_to:
        return img
    if img.mode.startswith("I;16"):
        img = img.convert("I")  # 16-bit: reduce() takes 32-bit integers, not I;16
    elif img.mode not in ("L", "RGB", "RGBA", "LA", "I", "F"):
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    return img.reduce(int(np.ceil((img.size[0] * img.size[1] / shrink_to) ** 0.5)))


def _decode(data: bytes, take) -> tuple[np.ndarray, float]:
    """Image bytes, checked, opened and given to `take(img) -> (img, scale)`: (grayscale, scale)."""
    from PIL import Image, UnidentifiedImageError

    _load_plugins()
    if not data:
        raise ImageError("the file is empty")
    _check_webp(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=READ_FORMATS)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"the image is {w}x{h} pixels, more than the {MAX_PIXELS:,} mnistlab decodes")

            if w < 1 or h < 1:
                raise ImageError("the image has no pixels")
            img.seek(0)  # first frame of an animation
            img, scale = take(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not an image in a format mnistlab can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the image is larger than the {MAX_PIXELS:,} pixels mnistlab decodes") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"the image data is damaged or truncated ({exc})") from None
    try:
        return to_gray(img), scale
    except (ValueError, OSError) as exc:
        raise ImageError(f"the image's colour mode {img.mode} cannot be read ({exc})") from None


def upright(img):
    """The picture as it was taken: a phone stores a sideways photo with an EXIF orientation tag."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(img) or img
    except (ValueError, OSError, SyntaxError, KeyError, TypeError):
        return img  # a damaged EXIF block: the pixels as stored


def to_gray(img) -> np.ndarray:
    """Float grayscale 0..255; transparency is flattened onto the background the ink is not."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return np.clip(arr / top * 255.0, 0, 255)
    if img.mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = arr.min(), arr.max()
        return (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        alpha = rgba[..., 3] / 255.0
        if alpha.min() < 0.99:
            opaque = alpha > 0.5
            ink_is_light = opaque.any() and gray[opaque].mean() > 127
            background = 0.0 if ink_is_light else 255.0
            return gray * alpha + background * (1 - alpha)
        return gray
    return np.asarray(img.convert("L"), dtype=np.float64)


def to_mnist_array(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in 0..255 -> (28, 28) float32 with bright ink centred by mass."""
    return center_ink(ink_map(gray))


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) in 0..255 -> ink strength 0..1 on a zero background, either polarity.

    The paper is the median of the border; contrast is stretched to the 99.5th percentile of ink and
    anything under 20% of it (paper texture, JPEG noise, dust) is dropped.
    """
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError("the image has no pixels")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    # A piece the reader cut from a page comes framed in zeros: its median needs no sort.
    background = float(np.median(border)) if border.any() else 0.0
    if background > 127:  # dark ink on light paper
        gray = 255.0 - gray
        background = 255.0 - background
    ink = gray - background
    peak = percentile(ink, 99.5) if ink.size > 200 else float(ink.max())
    peak = max(peak, float(ink.max()) * 0.5)
    if peak < 24:  # less than ~10% contrast anywhere: a blank, uniform or near-uniform picture
        raise ImageError("no digit found: the image is blank or has almost no contrast")
    ink = np.clip(ink / peak, 0, 1)
    ink[ink < 0.2] = 0.0  # paper texture, JPEG noise, scanner dust
    return ink


def percentile(a: np.ndarray, q: float) -> float:
    """`np.percentile(a, q)` (its linear method), the same number to the last bit, by one partition:
    numpy's general path costs tens of microseconds a call, most of preparing a line's small pieces."""
    flat = np.ravel(a)
    n = flat.size
    at = (n - 1) * (q / 100)
    if at >= n - 1:
        return float(flat.max())
    lo = int(np.floor(at))
    part = np.partition(flat, [lo, lo + 1])
    below, above = part[lo], part[lo + 1]
    gamma, diff = at - lo, above - below
    # numpy's _lerp: from the nearer end, so that the result never leaves [below, above]
    return float(above - diff * (1 - gamma)) if gamma >= 0.5 else float(below + diff * gamma)


def center_ink(ink: np.ndarray) -> np.ndarray:
    """Ink map 0..1 -> crop to the ink, fit 20x20 keeping the aspect, centre of mass at (14, 14)."""
    from PIL import Image

    ys, xs = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(ys) == 0:
        raise ImageError("no digit found: the image has no ink")
    crop = ink[ys[0] : ys[-1] + 1, xs[0] : xs[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    small = np.asarray(small, dtype=np.float64)
    canvas = np.zeros((28, 28))
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    canvas = thinned(canvas)
    total = canvas.sum()
    if total <= 0:
        raise ImageError("no digit found after scaling")
    cy = (canvas.sum(axis=1) * np.arange(28)).sum() / total
    cx = (canvas.sum(axis=0) * np.arange(28)).sum() / total
    # MNIST put the centre of mass at pixel (14, 14) (0-based), not at the geometric centre 13.5.
    dy, dx = int(round(14.0 - cy)), int(round(14.0 - cx))
    return _shift(canvas, dy, dx).astype(np.float32)  # 0..255 already: the pixels came as bytes


# Ink pixels per edge pixel (about half a stroke's width, in pixels of the 20x20 box) above which a
# stroke is thinned. MNIST's digits: 1.08 (median), 1.39 (90th percentile); thick pens, bold fonts and
# coarse scans enlarged: 1.6-2.0 and up.
STROKE_BAR = 1.8


def half_stroke(canvas: np.ndarray) -> float:
    """Ink pixels per edge pixel of a digit's solid ink (over half the full value): about half its
    strokes' width, in pixels. 0 for no solid ink."""
    solid = canvas > 127
    area = int(solid.sum())
    if area == 0:
        return 0.0
    p = np.pad(solid, 1)
    h, w = solid.shape
    inner = np.logical_and.reduce([p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)])
    return area / max(1, area - int(inner.sum()))


def thinned(canvas: np.ndarray) -> np.ndarray:
    """A 28x28 digit whose strokes are much thicker than MNIST's (`half_stroke` over STROKE_BAR)
    thinned by one pixel (a 2x2 grey minimum); any other, as it is. The model learned MNIST's pen: a
    blob-thick 9, 1 or 4 reads as a 3, 4 or 6 far more often than the same digit drawn thinner."""
    if half_stroke(canvas) <= STROKE_BAR:
        return canvas
    g = np.pad(canvas, ((0, 1), (0, 1)))
    return np.minimum.reduce([g[:-1, :-1], g[1:, :-1], g[:-1, 1:], g[1:, 1:]])


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(a)
    h, w = a.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    return out


def pixels_to_array(pixels) -> np.ndarray:
    """Validate a 28x28 nested list of numbers 0..255 (MNIST polarity: bright ink on black)."""
    try:
        arr = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ImageError("pixels must be a 28x28 array of numbers") from None
    if arr.shape != (28, 28):
        raise ImageError(f"pixels must be 28x28, got shape {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ImageError("pixels must be finite numbers (no NaN or infinity)")
    if arr.min() < 0 or arr.max() > 255:
        raise ImageError("pixels must lie in 0..255")
    return arr.astype(np.float32)
