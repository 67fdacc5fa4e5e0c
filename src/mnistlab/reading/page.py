"""A photo -> the written region as an ink map: bounded size, the sheet, even light, no ruled lines.

1. The picture is shrunk so the work is bounded (at most `WORK_PIXELS`).
2. A sheet lying on a darker table is found (the largest bright region, when there is a darker
   surround) and warped flat from its four corners; its edges are cut away.
3. The paper is estimated locally (a grey closing wider than any pen stroke, smoothed) and the
   picture is divided by it, so shadows, gradients, vignetting and tinted paper become plain paper
   and only marks darker than their own surroundings remain ink.
4. Ruled and squared paper lines, page-wide underlines and the frames of form boxes are removed.

SciPy's ndimage does the filtering and labelling: it is already the reader's one image dependency
(OpenCV-headless would add 160 MB to a 300 MB install for the same operations here), and Pillow
does the resampling and the perspective warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..images import ink_map

WORK_PIXELS = 2_000_000      # pictures are shrunk to at most this many pixels before segmenting
MAX_SIDE = 4000              # ... and at most this long on either side
PAPER_WINDOW = 1 / 6         # the local paper estimate looks this far (of the picture's long side)
SHEET_MIN, SHEET_MAX = 0.15, 0.93   # a sheet covers this share of the photo (else: no table around it)
SHEET_CONTRAST = 30.0        # the sheet is at least this much brighter than what surrounds it
SHEET_INSET = 0.025          # what is cut from each side of a found sheet (its edge, its shadow)
LINE_SPAN = 0.75             # a straight run of ink this long (of the page's side) may be a ruled line,
LINE_GAPS = 3.0              # ... in a family of parallel runs each this many times their spacing


@dataclass
class Page:
    """The working picture: `ink` (0..1, zero paper) and how to map its boxes back to the picture."""

    ink: np.ndarray
    gray: np.ndarray          # the working picture itself (flattened light), for the single-mark case
    scale: float              # working pixel -> picture pixel, before any warp
    shape: tuple[int, int]    # the picture's (height, width)
    warp: np.ndarray | None = None   # 8 perspective coefficients: page point -> working point
    cleaned: bool = False     # lines, frames, a table or uneven light were removed

    def box_to_picture(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """A box on the page -> [x0, y0, x1, y1] in the picture's own pixels."""
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
        if self.warp is not None:
            a, b, c, d, e, f, g, h = self.warp
            den = g * corners[:, 0] + h * corners[:, 1] + 1
            corners = np.stack([(a * corners[:, 0] + b * corners[:, 1] + c) / den,
                                (d * corners[:, 0] + e * corners[:, 1] + f) / den], axis=1)
        corners *= self.scale
        hgt, wid = self.shape
        xs = np.clip(corners[:, 0], 0, wid)
        ys = np.clip(corners[:, 1], 0, hgt)
        return [int(xs.min()), int(ys.min()), int(round(xs.max())), int(round(ys.max()))]


def prepare(gray: np.ndarray) -> Page:
    """Grayscale picture (H, W, 0..255) -> Page; raises ImageError for a blank picture."""
    gray = np.asarray(gray, dtype=np.float64)
    scale, small = shrink(gray)
    warp, sheet = find_sheet(small)
    work = sheet if sheet is not None else small
    flat, uneven = flatten(work)
    ink = ink_map(flat)
    ink, lines = remove_lines(ink)
    return Page(ink=ink, gray=flat, scale=scale, shape=gray.shape, warp=warp,
                cleaned=sheet is not None or uneven or lines)


def shrink(gray: np.ndarray) -> tuple[float, np.ndarray]:
    """(scale factor from the working copy back to the picture, the working copy)."""
    from PIL import Image

    h, w = gray.shape
    factor = max(1.0, (h * w / WORK_PIXELS) ** 0.5, max(h, w) / MAX_SIDE)
    if factor <= 1.0:
        return 1.0, gray
    nw, nh = max(1, int(w / factor)), max(1, int(h / factor))
    img = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.BOX)
    return w / nw, np.asarray(img, dtype=np.float64)


def _dark_ink_on_light(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        return gray, False
    return 255.0 - gray, True


def flatten(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Divide the picture by a local estimate of its paper: (dark ink on even white paper, whether the
    light was uneven enough to matter). Light ink on dark paper comes back inverted, as dark ink."""
    from PIL import Image
    from scipy import ndimage

    g, _ = _dark_ink_on_light(gray)
    h, w = g.shape
    if min(h, w) < 16:
        return g, False
    f = max(1, int(min(h, w) / 120))
    small = np.asarray(Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).resize(
        (max(1, w // f), max(1, h // f)), Image.Resampling.BOX), np.float64)
    # The window must be wider than any pen stroke, or the strokes would count as paper.
    k = max(3, int(round(max(small.shape) * PAPER_WINDOW)), int(4 * _stroke_estimate(small)))
    paper = ndimage.grey_closing(small, size=(k, k), mode="nearest")
    paper = ndimage.uniform_filter(paper, size=k, mode="nearest")
    paper = np.asarray(Image.fromarray(paper.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR),
                       np.float64)
    paper = np.maximum(paper, 1.0)
    lo, hi = np.percentile(paper, [2, 98])
    uneven = hi - lo > 25 or hi < 200
    if not uneven:
        return g, False
    return np.clip(255.0 * g / paper, 0, 255), True


def _stroke_estimate(g: np.ndarray) -> float:
    """A generous pen width in pixels: the 90th percentile of the dark horizontal runs."""
    dark = g < min(_otsu(g), float(np.median(g)) - 20)
    on = np.pad(dark, ((0, 0), (1, 1)))
    edges = np.diff(on.astype(np.int8), axis=1)
    runs = np.nonzero(edges == -1)[1] - np.nonzero(edges == 1)[1]
    return float(np.percentile(runs, 90)) if len(runs) else 1.0


def find_sheet(gray: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A bright sheet on a darker surround -> (perspective coefficients, the sheet warped flat), else
    (None, None)."""
    from PIL import Image
    from scipy import ndimage

    h, w = gray.shape
    if min(h, w) < 64:
        return None, None
    f = max(1, int(max(h, w) / 300))
    small = gray[::f, ::f]
    t = _otsu(small)
    bright = small > t
    bright = ndimage.binary_opening(bright, iterations=2)
    labels, n = ndimage.label(bright)
    if n == 0:
        return None, None
    areas = np.bincount(labels.ravel())[1:]
    k = int(areas.argmax()) + 1
    sheet = ndimage.binary_fill_holes(labels == k)
    share = sheet.mean()
    if not SHEET_MIN <= share <= SHEET_MAX:
        return None, None
    if small[sheet].mean() - small[~sheet].mean() < SHEET_CONTRAST:
        return None, None
    # A table surrounds a sheet: much of the photo's border lies outside it (ink on paper does not).
    border = np.concatenate([sheet[0], sheet[-1], sheet[:, 0], sheet[:, -1]])
    if border.mean() > 0.6:
        return None, None
    ys, xs = np.nonzero(sheet)
    pts = np.stack([xs, ys], axis=1).astype(np.float64) * f
    corners = np.array([pts[np.argmin(pts[:, 0] + pts[:, 1])], pts[np.argmax(pts[:, 0] - pts[:, 1])],
                        pts[np.argmax(pts[:, 0] + pts[:, 1])], pts[np.argmax(pts[:, 1] - pts[:, 0])]])
    tl, tr, br, bl = corners
    out_w = int(round((np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2))
    out_h = int(round((np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2))
    if out_w < 32 or out_h < 32:
        return None, None
    # The quadrilateral must look like the sheet (its area close to the region's): else it is not one.
    quad = 0.5 * abs(_cross(tr - tl, bl - tl)) + 0.5 * abs(_cross(tr - br, bl - br))
    if not 0.85 <= quad / (sheet.sum() * f * f) <= 1.15:
        return None, None
    ix, iy = SHEET_INSET * out_w, SHEET_INSET * out_h
    dst = np.array([[ix, iy], [out_w - ix, iy], [out_w - ix, out_h - iy], [ix, out_h - iy]])
    size = (int(out_w - 2 * ix), int(out_h - 2 * iy))
    coeffs = _perspective(dst - [ix, iy], corners)
    img = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8))
    warped = img.transform(size, Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BILINEAR,
                           fillcolor=int(np.median(small[sheet])))
    return coeffs, np.asarray(warped, np.float64)


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _perspective(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The 8 coefficients that take a point of `dst` to the matching point of `src` (PIL's order)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    return np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64))


def _otsu(x: np.ndarray) -> float:
    hist, edges = np.histogram(x, bins=64, range=(0, 256))
    p = hist / max(1, hist.sum())
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    m = np.cumsum(p * centers)
    between = (m[-1] * w0 - m) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return float(centers[int(np.argmax(between))])


def remove_lines(ink: np.ndarray) -> tuple[np.ndarray, bool]:
    """Ink without ruled or squared paper lines and without form-box frames: (ink, anything removed).

    Ruled lines come in families: straight runs of ink longer than LINE_SPAN of the page, at least two
    of them parallel, each longer than LINE_GAPS times the spacing between them. The stems of a 1 and
    a 7 side by side are never that (they are as long as they are far apart).
    """
    from scipy import ndimage

    on = ink > 0
    h, w = on.shape
    removed = np.zeros_like(on)
    if w >= 40:
        removed |= _ruled(on, int(LINE_SPAN * w))
    if h >= 40:
        removed |= _ruled(on.T, int(LINE_SPAN * h)).T
    removed |= _frames(on & ~removed)
    if not removed.any():
        return ink, False
    if removed.sum() >= 0.9 * on.sum():  # nothing but lines: leave it to the reader to say so
        return ink, False
    out = ink.copy()
    out[ndimage.binary_dilation(removed, iterations=1)] = 0.0
    return out, True


def _ruled(on: np.ndarray, length: int) -> np.ndarray:
    """The horizontal ruled lines of a binary picture (a family of long parallel runs)."""
    from scipy import ndimage

    runs = ndimage.binary_opening(on, structure=np.ones((1, max(20, length)), bool))
    labels, n = ndimage.label(runs, structure=np.ones((3, 3), bool))
    if n < 2:
        return np.zeros_like(on)
    slices = ndimage.find_objects(labels)
    centres = np.array([(sl[0].start + sl[0].stop) / 2 for sl in slices])
    lengths = np.array([sl[1].stop - sl[1].start for sl in slices])
    order = np.sort(centres)
    gaps = np.diff(order)
    gaps = gaps[gaps > 2]
    if len(gaps) == 0:
        return np.zeros_like(on)
    spacing = float(np.median(gaps))
    thickness = float(np.median([sl[0].stop - sl[0].start for sl in slices]))
    # Ruled lines are thin and well apart; the strips an opening leaves of one thick slanted stroke
    # are neither.
    if spacing < max(3 * thickness, 0.04 * on.shape[1]):
        return np.zeros_like(on)
    keep = [i + 1 for i in range(n) if lengths[i] >= LINE_GAPS * spacing]
    if len(keep) < 2:
        return np.zeros_like(on)
    return np.isin(labels, keep)


def _frames(on: np.ndarray) -> np.ndarray:
    """The rows and columns of rectangle outlines (form boxes), whatever is written inside them."""
    from scipy import ndimage

    labels, n = ndimage.label(on, structure=np.ones((3, 3), bool))
    frames = np.zeros_like(on)
    if n == 0 or n > 2000:
        return frames
    for i, sl in enumerate(ndimage.find_objects(labels)):
        hh, ww = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if hh < 20 or ww < 20:
            continue
        comp = labels[sl] == i + 1
        rows = comp.sum(axis=1) >= 0.8 * ww
        cols = comp.sum(axis=0) >= 0.8 * hh
        band_r, band_c = max(2, hh // 6), max(2, ww // 6)
        sides = rows[:band_r].any() and rows[-band_r:].any() and cols[:band_c].any() and cols[-band_c:].any()
        thin = rows.sum() <= 0.2 * hh and cols.sum() <= 0.2 * ww
        # A rectangle has ink in its four corners; an oval 0 or a 1's stem does not pass all three.
        if sides and thin and _corners(comp, band_r, band_c):
            mask = np.zeros_like(comp)
            mask[rows, :] = True
            mask[:, cols] = True
            frames[sl] |= comp & mask
    return frames


def _corners(comp: np.ndarray, band_r: int, band_c: int) -> bool:
    r, c = max(1, band_r // 2), max(1, band_c // 2)
    return bool(comp[:r, :c].any() and comp[:r, -c:].any() and comp[-r:, :c].any() and comp[-r:, -c:].any())
