"""Ink -> marks grouped into text lines, each mark a digit candidate or a separator.

1. Connected ink components; specks dropped.
2. Lines: the full-height components are grouped by their vertical extent, top to bottom; small
   components join the line they sit in. Lines whose bands overlap are ambiguous (interleaved).
3. In each line: underlines go, pieces that share most of their columns merge (a 5's flag, a 7's bar,
   a broken stroke, the two dots of a colon), and each piece is judged by its size, shape and place
   against the line's digits: `.` `,` `:` `-` `/` are separators, other small dots are dropped, and
   everything else is a digit candidate for the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_COMPONENTS = 20_000  # more raw ink fragments than this: noise, refused at once
MAX_DIGITS = 20  # digits a line may hold
MAX_PIECES = 60  # more candidate marks than this in a line: not a line of digits
MAX_LINES = 8
SEPARATORS = ".,/-:"
UNEXPLAINED = 0.04  # a dropped mark this big (of a digit's ink) leaves the reading unsure
FAINT = 0.4  # marks whose mean ink is under this share of the strongest marks' are dropped
HAIRLINE = 0.35  # marks (or a whole line of them) this much thinner than the writing's strokes,
HAIRLINE_PX = 1.5  # ... and at most this thick: what is left of printed lines, not a pen's


@dataclass
class Piece:
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int
    labels: list[int] = field(default_factory=list)
    labels_mask: np.ndarray | None = None  # which pixels of the box belong to this piece
    cut: tuple[int, int] | None = None  # for a split candidate: its cut points (from, to)
    points: int = 0  # for a split candidate: how many cut points its piece has
    char: str | None = None  # a separator's character; None for a digit candidate
    slope: float = 0.0  # for a thin diagonal stroke: columns leftwards per row

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class Line:
    pieces: list[Piece]
    y0: int
    y1: int
    unexplained: int = 0  # marks dropped that were too big to be specks: the reading is not sure
    thin: bool = False  # written far thinner than another line (a grid's or a frame's rest?): not sure


@dataclass
class Marks:
    lines: list[Line]
    labels: np.ndarray | None
    note: tuple[str, dict] | None = None  # why the picture is refused: a `reasons` key and its numbers
    dropped: bool = False
    ambiguous: bool = False
    hairlines: int = 0  # lines of hairline marks left out (printed lines under a shadow, a grid's rest)


def find(ink: np.ndarray, stroke: float) -> Marks:
    """Ink (0..1) -> lines of pieces, or a note saying why the picture is refused."""
    from mnistlab import morph

    labels, n, slices, areas = morph.label(ink > 0)
    if n == 0:
        return Marks([], None)
    if n > MAX_COMPONENTS:
        return Marks([], None, note=("texture", {}))
    biggest = areas.max()
    # Pen strokes are the darkest marks on the page; a shadow's rim or a fold is a faint one.
    strength = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=n + 1)[1:] / np.maximum(areas, 1)
    strong = float(np.percentile(strength[areas >= 0.05 * biggest], 90)) if n else 1.0
    keep = [i for i in range(n) if areas[i] >= max(3, 0.01 * biggest) and strength[i] >= FAINT * strong]
    dropped = len(keep) < n
    if len(keep) > 4 * MAX_PIECES * MAX_LINES:
        return Marks([], None, note=("too_many_marks", {"count": len(keep)}), dropped=dropped)
    comps = [Piece(slices[i][1].start, slices[i][0].start, slices[i][1].stop, slices[i][0].stop, [i + 1]) for i in keep]
    if not comps:
        return Marks([], None, dropped=dropped)
    lines, ambiguous = group_lines(comps)
    dropped |= sum(len(members) for members in lines) < len(comps)
    if len(lines) > MAX_LINES:
        return Marks([], None, note=("too_many_lines", {"count": len(lines), "most": MAX_LINES}), dropped=dropped)
    out = []
    for members in lines:
        pieces, line_dropped, unexplained = _line_pieces(members, labels, stroke, areas)
        dropped |= line_dropped
        if len(pieces) > MAX_PIECES:
            return Marks([], None, note=("line_too_long", {"count": len(pieces), "most": MAX_DIGITS}), dropped=dropped)
        if pieces:
            out.append(Line(pieces, min(p.y0 for p in pieces), max(p.y1 for p in pieces), unexplained))
    out, hairlines = _without_hairlines(out)
    return Marks(out, labels, dropped=dropped or hairlines > 0, ambiguous=ambiguous, hairlines=hairlines)


def _without_hairlines(lines: list[Line]) -> tuple[list[Line], int]:
    """The lines without those whose marks are all hairlines beside a line written with a pen (what
    a grid or ruled lines leave where a shadow darkened them), and each line without its hairline
    marks (counted as unexplained); and how many lines went."""
    from mnistlab import morph

    def thickness(p: Piece) -> float:
        m = p.labels_mask
        return min(morph.median_run(m), morph.median_run(m.T)) if m is not None and m.any() else 0.0

    def hair(t: float, writing: float) -> bool:
        return t <= HAIRLINE_PX and t <= HAIRLINE * writing

    if not lines:
        return lines, 0
    widths = [[thickness(p) if p.char is None else None for p in line.pieces] for line in lines]
    per_line = [
        float(np.median([t for t in ts if t is not None])) if any(t is not None for t in ts) else 0.0 for ts in widths
    ]
    thickest = max(per_line)
    kept = []
    for line, ts, t in zip(lines, widths, per_line, strict=True):
        if hair(t, thickest):
            continue
        line.thin = t <= HAIRLINE * thickest
        pieces = [p for p, tp in zip(line.pieces, ts, strict=True) if tp is None or not hair(tp, t)]
        if any(p.char is None for p in pieces):
            line.unexplained += len(line.pieces) - len(pieces)
            line.pieces = pieces
            kept.append(line)
    return kept, len(lines) - len(kept)


def group_lines(comps: list[Piece]) -> tuple[list[list[Piece]], bool]:
    """Components -> lines (top to bottom), and whether the layout is ambiguous: two lines whose bands
    overlap, or full-height marks stacked one above the other inside one line (interleaved lines)."""
    tall = float(np.percentile([c.height for c in comps], 90))
    big = sorted((c for c in comps if c.height >= 0.5 * tall), key=lambda c: c.cy)
    # Full-height marks that share a quarter of their height belong to one line (handwriting wanders
    # up and down along a line; a second line starts below the first).
    parent = list(range(len(big)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(big):
        for j in range(i + 1, len(big)):
            b = big[j]
            if min(a.y1, b.y1) - max(a.y0, b.y0) >= 0.25 * min(a.height, b.height):
                parent[root(j)] = root(i)
    groups: dict[int, list[Piece]] = {}
    for i, c in enumerate(big):
        groups.setdefault(root(i), []).append(c)

    # Groups side by side (no shared columns) and near in height are one wandering line: a second line
    # of writing lies under the first, not beside it.
    def side_by_side(a: list[Piece], b: list[Piece]) -> bool:
        ax0, ax1 = min(c.x0 for c in a), max(c.x1 for c in a)
        bx0, bx1 = min(c.x0 for c in b), max(c.x1 for c in b)
        ay0, ay1 = min(c.y0 for c in a), max(c.y1 for c in a)
        by0, by1 = min(c.y0 for c in b), max(c.y1 for c in b)
        return min(ax1, bx1) <= max(ax0, bx0) and max(ay0, by0) - min(ay1, by1) < 0.5 * tall

    merged = _merge_while(list(groups.values()), side_by_side, lambda a, b: a + b)
    bands = sorted(([min(c.y0 for c in g), max(c.y1 for c in g), g] for g in merged), key=lambda b: b[0])
    for c in comps:
        if c.height >= 0.5 * tall:
            continue
        inside = [b for b in bands if b[0] - 0.3 * (b[1] - b[0]) <= c.cy <= b[1] + 0.3 * (b[1] - b[0])]
        if inside:  # a small mark far from every line (a sliver of the sheet's edge) belongs to none
            min(inside, key=lambda b: abs((b[0] + b[1]) / 2 - c.cy))[2].append(c)
    ambiguous = False
    for a, b in zip(bands, bands[1:]):
        overlap = min(a[1], b[1]) - max(a[0], b[0])
        if overlap > 0.25 * min(a[1] - a[0], b[1] - b[0]):
            ambiguous = True
    for band in bands:
        members = [c for c in band[2] if c.height >= 0.5 * tall]
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                x_overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
                y_overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
                if x_overlap > 0.5 * min(a.width, b.width) and y_overlap < 0.25 * min(a.height, b.height):
                    ambiguous = True  # one full-height mark above another: two lines woven together
    return [b[2] for b in bands], ambiguous


def _line_pieces(
    comps: list[Piece], labels: np.ndarray, stroke: float, areas: np.ndarray
) -> tuple[list[Piece], bool, int]:
    """One line's components -> (cleaned, merged pieces left to right with separators marked,
    whether anything was dropped, how many dropped marks were too big to be specks)."""
    dropped = False
    line_h = float(np.percentile([c.height for c in comps], 90))
    # Underlines (flat, wider than a digit) go before merging, or they would join every digit above.
    flat = [c for c in comps if c.height < 0.25 * line_h and c.width > 1.5 * line_h and c.width > 6 * c.height]
    if flat and len(flat) < len(comps):
        comps = [c for c in comps if c not in flat]
        dropped = True
        line_h = float(np.percentile([c.height for c in comps], 90))

    # Two dots one above the other are a colon, even written slanted.
    comps = sorted(comps, key=lambda c: c.y0)
    colons: list[Piece] = []
    for i, a in enumerate(comps):
        for b in comps[i + 1 :]:
            if (
                a.labels
                and b.labels
                and _dot(a, line_h)
                and _dot(b, line_h)
                and 0 < b.y0 - a.y1 < 0.7 * line_h
                and abs((a.x0 + a.x1) - (b.x0 + b.x1)) / 2 < 0.35 * line_h
            ):
                a.x0, a.y0, a.x1, a.y1 = min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
                a.labels, b.labels = a.labels + b.labels, []
                colons.append(a)
    comps = [c for c in comps if c.labels]

    # Merge pieces that share most of their columns (a 5's flag, a 7's bar, a broken stroke), or that
    # almost touch when one of them is a small fragment.
    def belong_together(a: Piece, b: Piece) -> bool:
        overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
        narrow = min(a.width, b.width)
        small = min(a.height, b.height) < 0.45 * line_h
        gap = max(a.x0, b.x0) - min(a.x1, b.x1)
        # Two full-height pieces side by side are two slanted or crowded digits unless they share
        # nearly all their columns; a small piece joins what it sits over or touches, unless it is a
        # dash or a dot beside a digit.
        shared = overlap >= (0.5 if min(a.height, b.height) < 0.6 * line_h else 0.8) * narrow
        if any(c is a or c is b for c in colons):
            # Two dots one above the other stay a colon: as tall as they are together they are no
            # dot beside a digit by size, and an italic digit's box (even its ink) leans over them.
            return False
        return shared or (
            small
            and gap <= max(1, 0.04 * line_h)
            and not _is_mark_beside(a, b, line_h)
            and abs((a.y0 + a.y1) - (b.y0 + b.y1)) < line_h
        )

    comps = _merge_while(
        sorted(comps, key=lambda c: c.x0),
        belong_together,
        lambda a, b: Piece(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1), a.labels + b.labels),
    )
    for c in comps:
        c.labels_mask = np.isin(labels[c.y0 : c.y1, c.x0 : c.x1], c.labels)
    digits_like = [c for c in comps if c.height >= 0.6 * line_h]
    if not digits_like:
        return [], True, 0
    height = float(np.median([c.height for c in digits_like]))
    top = float(np.median([c.y0 for c in digits_like]))
    base = float(np.median([c.y1 for c in digits_like]))
    # The digits' top and baseline where each mark stands: a line photographed aslant drops a
    # fifth of its height over ten digits, which puts a dash at the far end below mid-height.
    tilt, middle = _tilt(digits_like), float(np.median([d.cx for d in digits_like]))
    for c in comps:
        shift = tilt * (c.cx - middle)
        c.char = separator(c, height, top + shift, base + shift, stroke)
        if c.char is None and any(c is k for k in colons) and c.width < 0.4 * height and _two_dots(c):
            c.char = ":"  # two dots one above the other, as tall as the digits (a bold hand's colon)
        others = [d for d in digits_like if d is not c]  # a digit-like mark is not its own neighbour
        alone = not any(_ink_above_or_below(c, d, height) for d in others)
        between = any(d.x1 <= c.cx for d in others) and any(d.x0 >= c.cx for d in others)
        if c.char is not None and c.char in ".,:" and not (between and alone):
            c.char = None if c.height >= 0.3 * height else "drop"
        # (a digit's box may reach back over the dash's end: a 2's foot, a slanted digit)
        if c.char == "-" and not (alone and any(d.x0 >= c.x1 - 0.1 * height for d in digits_like)):
            c.char = "drop"  # a dash after the last digit, or over a digit, is a stroke, not a minus sign
        if c.char is None and c.height < 0.3 * height and c.width < 0.5 * height:
            c.char = "drop"  # a dot that is no separator
        if (
            c.char is None
            and c.height < 0.15 * height
            and c.width > 4 * c.height
            and not top + 0.2 * height < c.cy < base - 0.15 * height
        ):
            c.char = "rule"  # a sliver of a line or a frame above or below the writing
    _slashes(comps)
    pieces = [c for c in comps if c.char not in ("drop", "rule")]
    digit_area = float(np.median([sum(areas[k - 1] for k in d.labels) for d in digits_like]))
    unexplained = sum(
        1 for c in comps if c.char == "drop" and sum(areas[k - 1] for k in c.labels) >= UNEXPLAINED * digit_area
    )
    return pieces, dropped or len(pieces) < len(comps), unexplained


# A handwritten 1 leans: a tenth of MNIST's training 1s lean more than 0.59 columns per row, one in
# 1,000 more than 0.97. A thin diagonal between digits leaning more than STEEP_SLASH is a slash; a
# gentler one is a slash only where reading it so makes the line a date (day, month, year groups),
# and a 1 everywhere else.
STEEP_SLASH = 1.2
DATE_GROUPS = ({1, 2}, {1, 2}, {2, 4})


def _slashes(comps: list[Piece]) -> None:
    cands = [c for c in comps if c.char == "/"]
    for c in cands:
        c.char = None
    digits = [c for c in comps if c.char is None and c not in cands]
    for c in cands:
        between = any(d.x1 <= c.x0 + 1 for d in digits) and any(d.x0 >= c.x1 - 1 for d in digits)
        if c.slope >= STEEP_SLASH and between:
            c.char = "/"
    gentle = [c for c in cands if c.slope < STEEP_SLASH][:6]
    if not gentle:
        return
    fits = []
    for mask in range(1, 1 << len(gentle)):
        chosen = {id(c) for k, c in enumerate(gentle) if mask >> k & 1}
        groups, run = [], 0
        for c in comps:
            if c.char == "drop":
                continue
            if c.char == "/" or id(c) in chosen:
                groups.append(run)
                run = 0
            elif c.char is None:
                run += 1
        groups.append(run)
        if len(groups) == 3 and all(g in allowed for g, allowed in zip(groups, DATE_GROUPS)):
            fits.append(chosen)
    if len(fits) == 1:
        for c in gentle:
            if id(c) in fits[0]:
                c.char = "/"


def _merge_while(items: list, joins, join) -> list:
    """Merge the first pair (i < j) for which `joins(a, b)` holds into `join(a, b)`, again and again,
    until no pair does."""
    items = list(items)
    changed = True
    while changed:
        changed = False
        for i in range(len(items)):
            for j in range(i + 1, len(items)):
                if joins(items[i], items[j]):
                    items[i] = join(items[i], items[j])
                    del items[j]
                    changed = True
                    break
            if changed:
                break
    return items


def _tilt(digits: list[Piece]) -> float:
    """How many rows the digits' boxes drop per column along the line (the median of the slopes
    between pairs of them, so that a digit written high or low does not tilt the line)."""
    slopes = [
        (b.cy - a.cy) / (b.cx - a.cx)
        for i, a in enumerate(digits)
        for b in digits[i + 1 :]
        if abs(b.cx - a.cx) >= 0.5 * a.height
    ]
    return float(np.median(slopes)) if slopes else 0.0


def _dot(c: Piece, line_h: float) -> bool:
    return c.height < 0.3 * line_h and c.width < 0.3 * line_h


def _ink_above_or_below(c: Piece, d: Piece, height: float) -> bool:
    """Whether digit `d` has ink right above or below `c`, over a third of its width (a dot under a
    5's hook, a 7's bar over a dash), rather than beside it or a box leaning over it (italics)."""
    x0, x1 = max(c.x0, d.x0), min(c.x1, d.x1)
    if x1 - x0 < max(1, c.width / 3):
        return False
    cols = d.labels_mask[:, x0 - d.x0 : x1 - d.x0]
    above = cols[max(0, int(c.y0 - 0.3 * height) - d.y0) : max(0, c.y0 - d.y0)]
    below = cols[max(0, c.y1 - d.y0) : max(0, int(c.y1 + 0.1 * height) - d.y0)]
    return bool(above.any() or below.any())


def _is_mark_beside(a: Piece, b: Piece, line_h: float) -> bool:
    small = a if a.height < b.height else b
    return small.height < 0.3 * line_h and small.width < line_h


def separator(p: Piece, height: float, top: float, base: float, stroke: float) -> str | None:
    """Which separator a piece is, from its size, shape and place against the line's digits, or None."""
    h, w = p.height / height, p.width / height
    mid = (p.cy - top) / max(1.0, base - top)
    solid = p.labels_mask.mean() if p.labels_mask is not None and p.labels_mask.size else 0.0
    dotlike = max(p.height, p.width) >= 0.5 * stroke and max(h, w) < 0.3
    if w < 0.4 and 0.25 <= h <= 0.8 and 0.2 < mid < 0.9 and _two_dots(p):
        return ":"
    if (
        dotlike
        and p.y1 >= base - 0.2 * height
        and mid > 0.7
        and solid >= 0.45
        and 0.4 <= p.width / max(1, p.height) <= 2.5
    ):
        return "."
    # A comma: small, at least as tall as wide, in the line's lower half, ending near the baseline
    # (a printed hand's comma hangs from a fifth of the height above it: Humor Sans).
    if h < 0.55 and w < 0.35 and p.height >= p.width and p.y0 > top + 0.45 * height and p.y1 >= base - 0.2 * height:
        return ","
    if h < 0.3 and 0.2 <= w <= 1.4 and p.width >= 1.3 * p.height and 0.2 < mid < 0.8:
        return "-"
    if h >= 0.6 and w >= 0.25 and solid < 0.4:
        p.slope = _diagonal(p)
        if p.slope >= 0.3:
            return "/"
    return None


def _two_dots(p: Piece) -> bool:
    """Two blobs one above the other: rows without ink between them, or a narrow waist."""
    widths = p.labels_mask.sum(axis=1)
    rows = np.flatnonzero(widths)
    if len(rows) < 5:
        return False
    widths = widths[rows[0] : rows[-1] + 1]
    n = len(widths)
    middle = widths[int(0.3 * n) : max(int(0.3 * n) + 1, int(0.7 * n))]
    ends = max(widths[: n // 3].max(), widths[-(n // 3 or 1) :].max())
    return bool(middle.min() <= 0.35 * ends)


def _diagonal(p: Piece) -> float:
    """For a thin stroke from lower left to upper right (x falls steadily as y grows, one short run of
    ink per row: no bar, no loop), how many columns it leans per row; 0 for anything else."""
    ys, xs = np.nonzero(p.labels_mask)
    if len(ys) < 10 or xs.std() == 0 or ys.std() == 0:
        return 0.0
    r = float(np.corrcoef(xs, ys)[0, 1])
    slope = -float(np.polyfit(ys, xs, 1)[0])
    per_row = p.labels_mask.sum(axis=1)
    if r < -0.9 and slope <= 2.0 and np.median(per_row[per_row > 0]) <= 0.35 * p.width:
        return slope
    return 0.0
