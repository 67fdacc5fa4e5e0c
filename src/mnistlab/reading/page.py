"""A photo -> the written region as an ink map: bounded size, the sheet, even light, no ruled lines.

1. The picture is shrunk so the work is bounded (at most `WORK_PIXELS`).
2. A sheet lying on a darker table is found: the largest quadrilateral closed in by sharp edges of
   log brightness (which a shadow does not weaken), else the bright quadrilateral that stays the
   same over most brightness cuts. Everything off it (the table, the sheet's edge and its shadow)
   becomes paper.
3. The paper is estimated locally (a grey closing wider than any pen stroke, smoothed) and the
   picture is divided by it, so shadows, gradients, vignetting and tinted paper become plain paper
   and only marks darker than their own surroundings remain ink.
4. Ruled and squared paper lines, page-wide underlines and the frames of form boxes are removed.

`morph` does the labelling (cc3d) and the rectangle morphology; Pillow does the resampling and the
shrinking (see morph.py for why not SciPy or OpenCV).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistlab import morph
from mnistlab.images import WORK_PIXELS, ink_map

MAX_SIDE = 4000  # ... and at most this long on either side
PHOTO_INK = 0.45  # on an evened-out photo, ink under this share of the darkest is dropped
STRONG_PIXELS = 500  # ... the darkest: the darkness this many pixels reach
PAPER_STROKES = 3.0  # the paper estimate looks this many pen widths around each pixel
SHEET_PHOTO = 200  # a sheet is looked for in pictures at least this big on both sides
SHEET_MIN, SHEET_MAX = 0.04, 0.8  # a sheet covers this share of the photo (else: no table around it)
SHEET_SOLID = 0.8  # ... fills this share of its convex hull (strokes drawn light on dark do not)
SHEET_CONTRAST = 30.0  # the sheet is at least this much brighter than what surrounds it
SHEET_EDGE = 0.15  # the sheet's edge: a step of this much in log brightness (about 16%)
SHEET_INSET = 0.035  # what is cut from each side of a found sheet (its edge, its shadow)
LINE_SPAN = 0.15  # ruled lines: straight runs of ink this long (of the page's width) or more,
LINE_SLOPES = np.linspace(-0.25, 0.25, 11)  # ... at any of these slopes (up to 14 degrees),
LINE_FAMILY = 3  # ... at least this many of them,
LINE_MARKS = 3.0  # ... each this many times as long as the other marks are tall,
LINE_APART = 0.015  # ... and this far apart (of the page's height) at least
FRAME_SIDE = 20  # a form box is at least this many pixels high and wide
FRAME_HOLLOW = 0.35  # a form box's outline encloses at least this share of its area empty
FRAME_TALLER = 1.25  # ... and is this much taller than the marks outside it (their median)


@dataclass
class Page:
    """The working picture: `ink` (0..1, zero paper) and how to map its boxes back to the picture."""

    ink: np.ndarray
    scale: float  # working pixel -> picture pixel
    shape: tuple[int, int]  # the picture's (height, width)
    cleaned: bool = False  # lines, frames, a table or uneven light were removed
    lost: int = 0  # digit-like marks removed along the sheet's edge: the reading is unsure

    def box_to_picture(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """A box on the page -> [x0, y0, x1, y1] in the picture's own pixels."""
        corners = np.array([[x0, y0], [x1, y1]], np.float64) * self.scale
        hgt, wid = self.shape
        xs = np.clip(corners[:, 0], 0, wid)
        ys = np.clip(corners[:, 1], 0, hgt)
        return [int(xs.min()), int(ys.min()), int(round(xs.max())), int(round(ys.max()))]


def prepare(gray: np.ndarray) -> Page:
    """Grayscale picture (H, W, 0..255) -> Page; raises ImageError for a blank picture."""
    gray = np.asarray(gray, dtype=np.float64)
    scale, small = shrink(gray)
    sheet = find_sheet(small)
    flat, uneven = flatten(small, paper=sheet)
    if sheet is not None:
        # Everything off the sheet (the table, the sheet's own edge and its shadow) is paper, and so
        # is any mark reaching the sheet's edge (once ruled lines are gone): writing stays clear of
        # it, the table showing past an imperfect outline does not.
        inner = morph.min_filter(sheet, *(2 * [max(3, int(SHEET_INSET * min(small.shape)) | 1)]))
        flat = np.where(inner, flat, 255.0)
    flat, edges = clear_edges(flat)
    ink = ink_map(flat)
    if uneven:
        # On a photo whose light was evened out, what stays faint is the rim of a shadow or a fold,
        # or the printed lines of ruled and squared paper, not a pen: ink must be nearly as dark as
        # the writing's darkest (its 500th darkest pixel: JPEG specks do not count, a grid covering
        # more of the page than the writing does not lower the bar).
        dark = 255.0 - flat
        strong = _kth_largest(dark, STRONG_PIXELS)
        ink[dark < PHOTO_INK * strong] = 0.0
    ink, lines = remove_lines(ink)
    lost = 0
    if sheet is not None:
        ink, lost = _clear_rim(ink, inner)
    return Page(
        ink=ink, scale=scale, shape=gray.shape, cleaned=sheet is not None or uneven or lines or edges, lost=lost
    )


def _kth_largest(x: np.ndarray, k: int) -> float:
    """The k-th largest value of x (its smallest value when x holds fewer than k). Partitioning only
    the values at or above a bound taken from a sample is exact and, on a photo, some 20 times faster
    than partitioning all of them."""
    flat = x.ravel()
    k = min(k, flat.size)
    sample = flat[::16]
    j = min(sample.size, 4 * (k // 16) + 8)
    top = flat[flat >= np.partition(sample, -j)[-j]]
    if top.size < k:  # the sample set the bound too high (rare): partition them all
        top = flat
    return float(np.partition(top, -k)[-k])


def _clear_rim(ink: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, int]:
    """Ink without the marks that reach the sheet's edge and lie mostly along it (the table past an
    imperfect outline, the sheet's own rim), and how many of those were shaped like the writing (a
    digit cut by a shadow's edge that the outline followed): the reader must not be sure then. A mark
    reaching the edge but spreading inwards (writing joined to a grid) stays, for the reader to refuse
    rather than to lose silently."""
    ring = max(5, int(0.03 * min(inner.shape)) | 1)
    rim = inner & ~morph.min_filter(inner, ring, ring)
    band = inner & ~morph.min_filter(inner, *(2 * [max(5, int(0.08 * min(inner.shape)) | 1)]))
    labels, n, boxes, areas = morph.label(ink > 0)
    touching = np.unique(labels[rim & (labels > 0)])
    if not len(touching):
        return ink, 0
    in_band = np.bincount(labels[band].ravel(), minlength=n + 1)
    edge = [int(k) for k in touching if in_band[k] >= 0.6 * areas[k - 1]]
    if not edge:
        return ink, 0
    others = [k for k in range(1, n + 1) if k not in set(edge) and areas[k - 1] >= 0.05 * areas.max()]
    lost = 0
    if others:
        height = float(np.median([boxes[k - 1][0].stop - boxes[k - 1][0].start for k in others]))
        area = float(np.median([areas[k - 1] for k in others]))
        for k in edge:
            bh = boxes[k - 1][0].stop - boxes[k - 1][0].start
            bw = boxes[k - 1][1].stop - boxes[k - 1][1].start
            dark = float(ink[labels == k].mean()) >= 0.6  # a pen's ink, not a shadow's grey rim
            lost += bool(
                dark and 0.5 * height <= bh <= 1.5 * height and bw <= 1.5 * height and areas[k - 1] >= 0.3 * area
            )
    return np.where(np.isin(labels, edge), 0.0, ink), lost


def clear_edges(flat: np.ndarray) -> tuple[np.ndarray, bool]:
    """Paint as paper the dark bands along the picture's sides that are no writing: a table's edge,
    a sheet's border, a shadow's rim."""
    h, w = flat.shape
    if min(h, w) < 40:
        return flat, False
    t = min(_otsu(flat), float(np.median(flat)) - 30)
    labels, _n, boxes, _ = morph.label(flat < t)
    erase = []
    for i, (ys, xs) in enumerate(boxes):
        bh, bw = ys.stop - ys.start, xs.stop - xs.start
        top, bottom, left, right = ys.start == 0, ys.stop == h, xs.start == 0, xs.stop == w
        band = ((top or bottom) and bw >= 0.4 * w and bh <= 0.3 * h) or (
            (left or right) and bh >= 0.4 * h and bw <= 0.3 * w
        )
        if band:
            erase.append(i + 1)
    if not erase:
        return flat, False
    mask = morph.max_filter(np.isin(labels, erase), 5, 5)
    out = flat.copy()
    out[mask] = float(np.median(flat[~mask])) if (~mask).any() else 255.0
    return out, True


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


def _dark_ink_on_light(gray: np.ndarray) -> np.ndarray:
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return gray if np.median(border) > 127 else 255.0 - gray


def flatten(gray: np.ndarray, paper: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Divide the picture by a local estimate of its paper: (dark ink on even white paper, whether the
    light was uneven enough to matter). Light ink on dark paper comes back inverted, as dark ink.

    The paper is a grey closing a few pen strokes wide, smoothed and upsampled: it follows shadows,
    their edges, gradients and vignetting closely.
    """
    from PIL import Image

    g = _dark_ink_on_light(gray) if paper is None else gray
    h, w = g.shape
    if min(h, w) < 16:
        return g, False
    f = max(1, int(min(h, w) / 160))
    small = np.asarray(
        Image.fromarray(np.clip(g, 0, 255).astype(np.uint8)).resize(
            (max(1, w // f), max(1, h // f)), Image.Resampling.BOX
        ),
        np.float64,
    )
    sh, sw = small.shape
    where = None
    if paper is not None:
        where = np.asarray(Image.fromarray(paper.astype(np.uint8)).resize((sw, sh), Image.Resampling.NEAREST)) > 0
    # A closing a few pen strokes wide wipes out the strokes and keeps everything broader (shadows,
    # their edges, gradients, vignetting); a box mean a quarter as wide smooths its blocks. (As wide
    # as the closing, it blurred a shadow's edge over a band where the paper, taken too bright, left
    # the grid of squared paper as a staircase of marks.)
    k = max(5, int(round(PAPER_STROKES * _stroke_estimate(small, where))), min(sh, sw) // 6) | 1
    if min(sh, sw) < 4 * k:
        return g, False  # a picture a few strokes wide: nothing to learn about its light
    grid = morph.box_mean(morph.closing(small, k, k), (k // 4) | 1)
    paper = np.asarray(
        Image.fromarray(grid.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR), np.float64
    )
    paper = np.maximum(paper, 1.0)
    lo, hi = np.percentile(paper, [2, 98])
    uneven = hi - lo > 25 or hi < 200
    if not uneven:
        return g, False
    return np.clip(255.0 * g / paper, 0, 255), True


def _stroke_estimate(g: np.ndarray, where: np.ndarray | None = None) -> float:
    """A pen's width in pixels: the 75th percentile of the dark horizontal runs (on the sheet, when
    one was found) short enough to be strokes; a table or a shadow makes long runs."""
    dark = g < min(_otsu(g if where is None else g[where]), float(np.median(g)) - 20)
    if where is not None:
        dark &= where
    runs = morph.run_lengths(dark)
    runs = runs[runs <= max(3, 0.12 * g.shape[1])]
    return float(np.percentile(runs, 75)) if len(runs) else 1.0


def find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """Where a bright sheet lies on a darker surround (a table): a mask at `gray`'s size, or None."""
    from PIL import Image

    h, w = gray.shape
    if min(h, w) < SHEET_PHOTO:
        return None  # a strip or a crop of writing, not a photo of a sheet
    mask = _sheet_by_edges(gray)
    if mask is None:
        f = max(1, int(max(h, w) / 300))
        mask = _sheet_by_levels(gray[::f, ::f])
    if mask is None:
        return None
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 0


def _sheet_by_edges(gray: np.ndarray) -> np.ndarray | None:
    """The sheet as the largest region closed in by sharp edges of brightness (at about 300 pixels
    across), or None. Edges are measured on the logarithm of the brightness: a shadow or a vignette
    multiplies paper and table alike, so the sheet's edge keeps its strength under them, while a
    shadow's own edge is soft and a table's grain is faint."""
    h, w = gray.shape
    f = max(1, int(max(h, w) / 300))
    small = morph.box_mean(gray, f, every=f) if f > 1 else gray
    g = np.log(morph.box_mean(small, 3) + 10.0)
    gx = np.zeros_like(g)
    gy = np.zeros_like(g)
    gx[:, 1:-1] = g[:, 2:] - g[:, :-2]
    gy[1:-1] = g[2:] - g[:-2]
    edges = morph.closing(np.hypot(gx, gy) > SHEET_EDGE, 3, 3)
    # The edges' insides, without the thin edges themselves or a shadow's line sticking out.
    inside = morph.opening(morph.fill_holes(edges), 5, 5)
    labels, n, _, areas = morph.label(inside)
    if n == 0:
        return None
    sheet = labels == int(areas.argmax()) + 1
    return sheet if _sheet_like(small, sheet) else None


def _sheet_by_levels(small: np.ndarray) -> np.ndarray | None:
    """The sheet as a bright region over brightness cuts (when no edge closes all around it)."""
    # Under a shadow the paper can be darker than a lit table: cut the brightness at several levels.
    # The sheet is the quadrilateral that stays the same over the most levels (a sharp-edged bright
    # object); a region that grows with every lower cut is table joining it.
    levels = sorted({round(float(t)) for t in [_otsu(small), *np.percentile(small, range(20, 95, 6))]})
    found = [r for r in (_sheet_region(small, t) for t in levels) if r is not None]
    if not found:
        return None

    def stability(r):
        return sum(abs(o[1] - r[1]) <= 0.08 * r[1] for o in found), r[1]

    return max(found, key=stability)[0]


def _sheet_region(small: np.ndarray, t: float) -> tuple[np.ndarray, int] | None:
    """(the mask, its area) of the sheet brighter than `t`: a bright quadrilateral, or None."""
    bright = morph.opening(small > t, 5, 5)
    labels, n, _, areas = morph.label(bright)
    if n == 0:
        return None
    sheet = morph.fill_holes(labels == int(areas.argmax()) + 1)
    if not _sheet_like(small, sheet):
        return None
    return sheet, int(sheet.sum())


def _sheet_like(small: np.ndarray, sheet: np.ndarray) -> bool:
    """Whether a region looks like a sheet on a table: a bright quadrilateral covering part of the
    photo, with the table around it."""
    if not SHEET_MIN <= sheet.mean() <= SHEET_MAX:
        return False
    if small[sheet].mean() - small[~sheet].mean() < SHEET_CONTRAST:
        return False
    # A table surrounds a sheet: much of the photo's border lies outside it (ink on paper does not).
    border = np.concatenate([sheet[0], sheet[-1], sheet[:, 0], sheet[:, -1]])
    if border.mean() > 0.4:
        return False
    return _quadrilateral(sheet) and sheet.sum() >= SHEET_SOLID * _hull_area(sheet)


def _hull_area(region: np.ndarray) -> float:
    """The area of the convex hull of a region's pixels (a monotone chain over each row's ends)."""
    rows = np.flatnonzero(region.any(axis=1))
    sub = region[rows]
    first = sub.argmax(axis=1)
    last = sub.shape[1] - sub[:, ::-1].argmax(axis=1)
    pts = sorted({(int(x), int(y) + dy) for xs in (first, last) for x, y in zip(xs, rows) for dy in (0, 1)})

    def half(points):
        chain: list[tuple[int, int]] = []
        for px, py in points:
            while (
                len(chain) >= 2
                and (
                    (chain[-1][0] - chain[-2][0]) * (py - chain[-2][1])
                    - (chain[-1][1] - chain[-2][1]) * (px - chain[-2][0])
                )
                <= 0
            ):
                chain.pop()
            chain.append((px, py))
        return chain[:-1]

    hull = half(pts) + half(pts[::-1])
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1])))


def _quadrilateral(region: np.ndarray) -> bool:
    """Whether a filled region is a quadrilateral: the one spanned by its four extreme corners has
    nearly its area (an oval's or a ragged region's has not)."""
    ys, xs = np.nonzero(region)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    tl, tr, br, bl = (
        pts[np.argmin(pts[:, 0] + pts[:, 1])],
        pts[np.argmax(pts[:, 0] - pts[:, 1])],
        pts[np.argmax(pts[:, 0] + pts[:, 1])],
        pts[np.argmax(pts[:, 1] - pts[:, 0])],
    )
    quad = 0.5 * abs(_cross(tr - tl, bl - tl)) + 0.5 * abs(_cross(tr - br, bl - br))
    return 0.9 <= quad / region.sum() <= 1.1


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


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

    Ruled lines come in families of long straight runs, much longer than the writing is tall; the
    strokes of a digit never are. Where a removed line crossed a stroke, the stroke is joined again
    across the line's width.
    """
    on = ink > 0
    h, w = on.shape
    # Lines are looked for at half size on a big page (max-pooled, so thin lines survive): the
    # slanted-run search is the costliest step of reading a photo.
    f = 2 if on.size > 400_000 else 1
    coarse = on if f == 1 else morph.max_filter(on, 2, 2)[::2, ::2]
    horizontal = _ruled(coarse) if w >= 40 else np.zeros_like(coarse)
    vertical = _ruled(coarse.T).T if h >= 40 else np.zeros_like(coarse)
    if f > 1:
        horizontal = np.repeat(np.repeat(horizontal, 2, 0), 2, 1)[:h, :w] & on
        vertical = np.repeat(np.repeat(vertical, 2, 0), 2, 1)[:h, :w] & on
    frames = _frames(on & ~horizontal & ~vertical)
    removed = horizontal | vertical | frames
    if not removed.any():
        return ink, False
    if removed.sum() >= 0.9 * on.sum():  # nothing but lines: leave it to the reader to say so
        return ink, False
    gone = morph.max_filter(removed, 3, 3)
    keep = on & ~gone
    # A stroke that crossed a line continues on both sides of it: close the gap the line leaves.
    span = 2 * _thickness(gone) + 3
    bridged = (morph.closing(keep, span, 1) & _near(gone, horizontal)) | (
        morph.closing(keep, 1, span) & _near(gone, vertical)
    )
    out = np.where(keep | (bridged & on), ink, 0.0)
    return out, True


def _near(gone: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The removed pixels that belong to `lines`."""
    return gone & morph.max_filter(lines, 3, 3) if lines.any() else np.zeros_like(gone)


def _thickness(mask: np.ndarray) -> int:
    """The typical width of the removed lines, in pixels: their median vertical run (1 for none)."""
    return int(morph.median_run(mask.T)) or 1


def _ruled(on: np.ndarray) -> np.ndarray:
    """The horizontal ruled lines of a binary picture, allowing the slight slant and bow of a
    photographed page: at least LINE_FAMILY long parallel runs, each LINE_MARKS times as long as the
    marks left beside them are tall."""
    h, w = on.shape
    # Runs along every slope a photographed page gives its lines, on ink widened by a pixel up and
    # down, so that a line that wavers by a pixel still joins into one run.
    widened = morph.max_filter(on, 3, 1)
    runs = morph.slanted_runs(widened, max(20, int(LINE_SPAN * w)), LINE_SLOPES) & on
    labels, n, slices, _ = morph.label(morph.max_filter(runs, 5, 3))
    if n < LINE_FAMILY:
        return np.zeros_like(on)
    extent = np.array([sl[1].stop - sl[1].start for sl in slices])
    # How tall the writing is: the sizeable marks that are neither long (lines, or writing joined to
    # one) nor as big as the page, nor a grid joining everything (see _grids).
    on_labels, m, boxes, areas = morph.label(on)
    crossed = _grids(on_labels, m, runs, labels, slices, extent)
    marks = [
        (b[0].stop - b[0].start, b[1].stop - b[1].start)
        for k, (b, a) in enumerate(zip(boxes, areas, strict=True))
        if a >= 0.05 * areas.max() and not crossed[k + 1]
    ]
    marks = [(bh, bw) for bh, bw in marks if max(bh, bw) <= 4 * min(bh, bw) and not (bh > 0.5 * h and bw > 0.5 * w)]
    typical = float(np.median([bh for bh, _ in marks])) if marks else 0.0
    keep = [i for i in range(n) if extent[i] >= LINE_MARKS * typical]
    if len(keep) < LINE_FAMILY:
        return np.zeros_like(on)
    # Ruled lines are thin and well apart; the strips an opening leaves of one thick stroke are not.
    centres = np.sort([(slices[i][0].start + slices[i][0].stop) / 2 for i in keep])
    thickness = float(np.median([(runs[slices[i]] & (labels[slices[i]] == i + 1)).sum() / extent[i] for i in keep]))
    if float(np.median(np.diff(centres))) < max(4 * thickness, LINE_APART * h):
        return np.zeros_like(on)
    return _along(runs, labels, slices, keep, thickness) & on


def _grids(on_labels: np.ndarray, m: int, runs: np.ndarray, labels: np.ndarray, slices, extent) -> np.ndarray:
    """Which marks (by label, 0..m) hold a family of parallel runs, each much longer than the family
    is spaced: squared or ruled paper with the writing joined to it, not a digit's bars."""
    grids = np.zeros(m + 1, bool)
    # Each (mark, run) pair once, as one integer key: a 1-d unique, not a far slower unique of columns.
    base = int(labels.max()) + 1
    keys = np.unique(on_labels[runs].astype(np.int64) * base + labels[runs])
    pairs = np.stack([keys // base, keys % base])
    for k in np.unique(pairs[0]):
        held = pairs[1][pairs[0] == k] - 1
        if len(held) < LINE_FAMILY:
            continue
        centres = np.sort([(slices[i][0].start + slices[i][0].stop) / 2 for i in held])
        grids[k] = float(np.median(extent[held])) >= LINE_MARKS * float(np.median(np.diff(centres)))
    return grids


def _along(runs: np.ndarray, labels: np.ndarray, slices, keep: list[int], thickness: float) -> np.ndarray:
    """The band each kept run follows, as a straight line fitted to it and carried across the whole
    picture: the pieces of a ruled line its runs missed (broken by faint ink, cut by a shadow) go
    with it, and a stroke that only runs beside the line keeps what lies off the band."""
    h, w = runs.shape
    half = max(1.0, 0.5 * thickness + 0.5)
    xs_all = np.arange(w, dtype=np.float64)
    rows = np.arange(h, dtype=np.float64)[:, None]
    band = np.zeros((h, w), bool)
    for i in keep:
        sy, sx = slices[i]
        ys, xs = np.nonzero((labels[sy, sx] == i + 1) & runs[sy, sx])
        if len(xs) < 2 or xs.max() == xs.min():
            continue
        slope, offset = np.polyfit(xs + float(sx.start), ys + float(sy.start), 1)
        band |= np.abs(rows - (slope * xs_all + offset)[None, :]) <= half
    return band


def _frames(on: np.ndarray) -> np.ndarray:
    """The rows and columns of rectangle outlines (form boxes), whatever is written inside them."""
    labels, n, slices, _ = morph.label(on)
    frames = np.zeros_like(on)
    if n == 0 or n > 2000:
        return frames
    heights = np.array([sl[0].stop - sl[0].start for sl in slices])
    for i, sl in enumerate(slices):
        hh, ww = int(heights[i]), sl[1].stop - sl[1].start
        if hh < FRAME_SIDE or ww < FRAME_SIDE:
            continue
        comp = labels[sl] == i + 1
        ring = _closed_frame(comp, on[sl] & ~comp)
        if ring is not None and hh < FRAME_TALLER * _beside(slices, heights, i):
            ring = None  # no taller than the writing around it: digits joined into a loop (`08`)
        if ring is not None:
            frames[sl] |= ring
            continue
        # A photographed box is a little rotated: its sides are found on the component widened by a
        # few pixels across them.
        dy, dx = max(2, hh // 10), max(2, ww // 12)
        rows = morph.max_filter(comp, 2 * dy + 1, 1).sum(axis=1) >= 0.8 * ww
        cols = morph.max_filter(comp, 1, 2 * dx + 1).sum(axis=0) >= 0.8 * hh
        band_r, band_c = max(2, hh // 6), max(2, ww // 6)
        sides = rows[:band_r].any() and rows[-band_r:].any() and cols[:band_c].any() and cols[-band_c:].any()
        thin = rows.sum() <= 0.35 * hh and cols.sum() <= 0.35 * ww
        # A rectangle has ink in its four corners; an oval 0 or a 1's stem does not pass all three.
        if sides and thin and _corners(comp):
            near_rows = morph.max_filter(rows[:, None], 2 * dy + 1, 1)[:, 0]
            near_cols = morph.max_filter(cols[None, :], 1, 2 * dx + 1)[0]
            mask = near_rows[:, None] | near_cols[None, :]
            # The frame's own pixels: those of the component near its sides and outside the writing
            # (the writing inside is a separate component unless it touches the frame).
            frames[sl] |= comp & mask & ~_inside(rows, cols, dy, dx)
    return frames


def _beside(slices, heights: np.ndarray, i: int) -> float:
    """The median height of the marks at least FRAME_SIDE high outside mark i's box (0 for none)."""
    sy, sx = slices[i]
    out = [
        k
        for k, (ty, tx) in enumerate(slices)
        if k != i
        and heights[k] >= FRAME_SIDE
        and not (ty.start >= sy.start and ty.stop <= sy.stop and tx.start >= sx.start and tx.stop <= sx.stop)
    ]
    return float(np.median(heights[out])) if out else 0.0


def _closed_frame(comp: np.ndarray, others: np.ndarray) -> np.ndarray | None:
    """A closed box outline's own pixels (a ring as thick as its sides along the outside of what it
    encloses), or None when the mark is no hollow quadrilateral holding writing: a box in
    perspective, a little turned, with writing inside that may touch it (`others`: the other marks'
    ink around it)."""
    hh = comp.shape[0]
    filled = morph.fill_holes(morph.pad(comp, 1))[1:-1, 1:-1]
    hole = filled & ~comp
    if hole.sum() < FRAME_HOLLOW * filled.sum():
        return None  # a loop of a digit: mostly stroke
    if not _quadrilateral(filled):
        return None  # an oval, or no closed outline
    # The sides' thickness: the first run of ink across the left and right sides, middle rows.
    middle = comp[hh // 4 : hh - hh // 4]
    widths = []
    for row in middle:
        on = np.flatnonzero(row)
        if len(on) == 0:
            continue
        gaps = np.flatnonzero(np.diff(on) > 1)
        widths.append((on[gaps[0]] if len(gaps) else on[-1]) - on[0] + 1)
        widths.append(on[-1] - (on[gaps[-1] + 1] if len(gaps) else on[0]) + 1)
    side = int(np.median(widths)) if widths else 1
    k = 2 * (side + 2) + 1

    def within(width):  # what lies deeper inside the outline than width / 2 (nothing is, past its box)
        return morph.min_filter(morph.pad(filled, width), width, width)[width:-width, width:-width]

    inner = within(k)
    if not ((others & filled).any() or (comp & inner).any()):
        return None  # it holds nothing: a square 0, an empty box (left to the older test)
    ring = comp & ~inner
    # What stays of the outline where it was thicker than its sides' median (a corner, a side nearer
    # the camera): pieces lying wholly along it. Writing touching the box reaches further in.
    near = ~within(3 * k)
    labels, n, _, _ = morph.label(comp & ~ring)
    if n == 0:
        return ring
    inward = np.bincount(labels[~near].ravel(), minlength=n + 1)
    return ring | ((labels > 0) & (inward[labels] == 0))


def _corners(comp: np.ndarray) -> bool:
    """Whether each corner of the component's box holds ink: a rectangle's do (a little rotated, near
    them), an oval 0's or a 1's do not."""
    hh, ww = comp.shape
    r, c = max(3, int(0.12 * hh)), max(3, int(0.12 * ww))
    return bool(comp[:r, :c].any() and comp[:r, -c:].any() and comp[-r:, :c].any() and comp[-r:, -c:].any())


def _inside(rows: np.ndarray, cols: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The area strictly inside a frame whose side rows and columns are flagged."""
    inside = np.zeros((len(rows), len(cols)), bool)
    r, c = np.flatnonzero(rows), np.flatnonzero(cols)
    top = r[r < len(rows) / 2]
    bottom = r[r >= len(rows) / 2]
    left = c[c < len(cols) / 2]
    right = c[c >= len(cols) / 2]
    if len(top) and len(bottom) and len(left) and len(right):
        inside[top.max() + dy + 1 : bottom.min() - dy, left.max() + dx + 1 : right.min() - dx] = True
    return inside
