"""Digits written by a simulated hand from stroke templates: the shapes MNIST's writers seldom use.

MNIST's digits, and the pen re-drawing of their skeletons (`photolines.pen_redraw`), keep MNIST's
ways of writing. Here each digit has several written forms (a 1 with a flag and a foot, a 7 with
a bar across, an open or a closed 4, a 9 with a straight or a curved tail, a 2 with a loop), each a
few strokes through control points in a unit box. A `Writer` fixes, for one line, the forms it uses,
its slant, width, pen and how much it trembles; every digit it writes then varies its points a
little, as a hand never writes the same digit twice. The strokes are smoothed (Catmull-Rom) and drawn
at twice the size with a round pen whose pressure comes and goes, then shrunk.

Used for training only (`photolines`, a share of its handwritten lines); nothing here is drawn from
the benchmarks' generators, their hands or their seeds.
"""

from __future__ import annotations

import numpy as np

# Control points (x, y) in a box one unit tall (x about 0..0.6, y down), one list per stroke.
FORMS: dict[str, list[list[list[tuple[float, float]]]]] = {
    "0": [
        [
            [
                (0.32, 0.02),
                (0.08, 0.2),
                (0.04, 0.55),
                (0.18, 0.92),
                (0.4, 0.96),
                (0.56, 0.65),
                (0.54, 0.25),
                (0.32, 0.02),
            ]
        ],
        [[(0.3, 0.05), (0.12, 0.3), (0.12, 0.75), (0.3, 0.97), (0.46, 0.75), (0.46, 0.28), (0.28, 0.02), (0.2, 0.1)]],
    ],
    "1": [
        [[(0.32, 0.0), (0.3, 0.5), (0.28, 1.0)]],
        [[(0.1, 0.22), (0.34, 0.0), (0.32, 0.5), (0.3, 1.0)]],
        [[(0.1, 0.22), (0.34, 0.0), (0.32, 0.5), (0.3, 1.0)], [[0.1, 1.0], [0.5, 1.0]]],
    ],
    "2": [
        [[(0.06, 0.22), (0.28, 0.0), (0.52, 0.15), (0.45, 0.45), (0.04, 1.0), (0.3, 0.97), (0.6, 0.98)]],
        [[(0.08, 0.2), (0.3, 0.0), (0.52, 0.18), (0.42, 0.5), (0.1, 0.92), (0.2, 0.8), (0.28, 0.95), (0.6, 1.0)]],
    ],
    "3": [
        [[(0.06, 0.12), (0.3, 0.0), (0.52, 0.18), (0.26, 0.46), (0.55, 0.68), (0.36, 0.98), (0.04, 0.88)]],
        [[(0.06, 0.02), (0.54, 0.02), (0.26, 0.4), (0.55, 0.62), (0.4, 0.97), (0.04, 0.88)]],
    ],
    "4": [
        [[(0.34, 0.0), (0.04, 0.62), (0.6, 0.62)], [(0.46, 0.2), (0.44, 0.6), (0.43, 1.0)]],
        [[(0.46, 1.0), (0.46, 0.0), (0.04, 0.64), (0.6, 0.64)]],
        [[(0.1, 0.0), (0.06, 0.58), (0.58, 0.58)], [(0.46, 0.05), (0.45, 0.5), (0.44, 1.0)]],
    ],
    "5": [
        [
            [(0.12, 0.02), (0.08, 0.42), (0.38, 0.38), (0.54, 0.66), (0.38, 0.96), (0.04, 0.88)],
            [(0.12, 0.02), (0.54, 0.0)],
        ],
        [[(0.54, 0.02), (0.12, 0.02), (0.08, 0.44), (0.4, 0.4), (0.55, 0.7), (0.32, 0.98), (0.04, 0.86)]],
    ],
    "6": [
        [[(0.48, 0.02), (0.16, 0.35), (0.06, 0.75), (0.3, 0.98), (0.52, 0.76), (0.36, 0.52), (0.1, 0.66)]],
        [[(0.52, 0.08), (0.3, 0.02), (0.1, 0.4), (0.1, 0.82), (0.34, 0.98), (0.52, 0.74), (0.3, 0.54), (0.1, 0.7)]],
    ],
    "7": [
        [[(0.02, 0.04), (0.58, 0.02), (0.3, 0.55), (0.2, 1.0)]],
        [[(0.02, 0.04), (0.58, 0.02), (0.32, 0.55), (0.22, 1.0)], [(0.14, 0.5), (0.52, 0.48)]],
        [[(0.04, 0.14), (0.08, 0.02), (0.58, 0.04), (0.36, 0.4), (0.28, 1.0)]],
    ],
    "8": [
        [
            [
                (0.5, 0.1),
                (0.3, 0.0),
                (0.1, 0.18),
                (0.46, 0.6),
                (0.4, 0.95),
                (0.14, 0.92),
                (0.12, 0.64),
                (0.48, 0.32),
                (0.5, 0.1),
            ]
        ],
        [
            [(0.3, 0.0), (0.1, 0.2), (0.3, 0.45), (0.5, 0.2), (0.3, 0.0)],
            [(0.3, 0.45), (0.06, 0.72), (0.3, 1.0), (0.54, 0.72), (0.3, 0.45)],
        ],
    ],
    "9": [
        [[(0.52, 0.2), (0.3, 0.02), (0.08, 0.22), (0.24, 0.46), (0.5, 0.32), (0.52, 0.1), (0.48, 0.6), (0.44, 1.0)]],
        [
            [
                (0.52, 0.2),
                (0.3, 0.02),
                (0.08, 0.22),
                (0.24, 0.46),
                (0.5, 0.32),
                (0.52, 0.12),
                (0.5, 0.7),
                (0.3, 0.98),
                (0.1, 0.9),
            ]
        ],
    ],
}


class Writer:
    """One hand for one line: the form of each digit, a slant, a width, a pen and a tremor."""

    def __init__(self, rng, height: int):
        self.forms = {d: int(rng.integers(len(f))) for d, f in FORMS.items()}
        self.slant = float(rng.uniform(-0.35, 0.25))  # x shifted by slant * (0.5 - y): a right lean is > 0
        self.wide = float(rng.uniform(0.7, 1.35))
        self.pen = max(1.0, height * float(rng.uniform(0.04, 0.14)))
        self.tremor = float(rng.uniform(0.01, 0.045))  # each control point's wander, a share of the height
        self.height = height
        # Its separators: a slash from nearly upright (as steep as a 1) to leaning far, a comma as a
        # dot with a tail or a bare tick, a colon's and a point's dots as round dots or short ticks.
        self.lean = float(rng.uniform(0.1, 0.65))  # the slash's run over its rise
        self.tick = bool(rng.random() < 0.5)  # commas without a dot
        self.dash = float(rng.uniform(0.25, 0.6))  # a dash's length, a share of the height

    def mark(self, ch: str, rng) -> tuple[np.ndarray, int]:
        """A separator (`. , : - /`) in this hand: (bright ink canvas, its top relative to the
        digits' top, which are `height` above their baseline)."""
        h = float(self.height)
        if ch == ".":
            strokes = [[(0.0, 0.96), (0.02, 0.99)]]
        elif ch == ",":
            tail = float(rng.uniform(0.12, 0.3))
            strokes = (
                [[(0.06, 0.9), (0.02, 1.0 + tail)]] if self.tick else [[(0.05, 0.95), (0.05, 1.0), (0.0, 1.0 + tail)]]
            )
        elif ch == ":":
            upper = float(rng.uniform(0.35, 0.6))
            strokes = [[(0.0, 0.96), (0.02, 0.99)], [(0.0, upper), (0.02, upper + 0.03)]]
        elif ch == "-":
            y = float(rng.uniform(0.45, 0.65))
            strokes = [[(0.0, y), (self.dash, y + float(rng.normal(0, 0.03)))]]
        elif ch == "/":
            lean = self.lean * float(rng.uniform(0.85, 1.15))
            top, foot = float(rng.uniform(-0.08, 0.08)), 1.0 + float(rng.uniform(0.0, 0.12))
            strokes = [[(0.0, foot), (lean * (foot - top), top)]]
        else:
            raise ValueError(f"no separator {ch!r}")
        pts = [_polyline(np.array(st, np.float64) * h) for st in strokes]
        ink = self._draw(pts, rng)
        top = min(float(p[:, 1].min()) for p in pts) - self.pen / 2 - 1
        return ink, int(round(top))

    def digit(self, d: str, rng) -> np.ndarray:
        """The digit `d` written once: a bright ink canvas (h, w) 0..255, trimmed to its ink."""
        h = self.height * float(rng.uniform(0.9, 1.08))
        strokes = []
        for stroke in FORMS[d][self.forms[d]]:
            pts = np.array(stroke, np.float64) + rng.normal(0, self.tremor, (len(stroke), 2))
            pts[:, 0] = pts[:, 0] * self.wide + self.slant * (0.5 - pts[:, 1])
            strokes.append(_smooth(pts, int(3 * h) + 60) * h)
        return self._draw(strokes, rng)

    def _draw(self, strokes: list[np.ndarray], rng) -> np.ndarray:
        """Strokes (each (N, 2) points in pixels) drawn with this hand's pen, trimmed to the ink."""
        from PIL import Image, ImageDraw

        allpts = np.concatenate(strokes)
        r = self.pen / 2
        lo = allpts.min(0) - r - 1
        size = np.ceil(allpts.max(0) - lo + r + 1).astype(int)
        ss = 2  # drawn at twice the size, then shrunk: smooth edges
        img = Image.new("L", (int(size[0]) * ss, int(size[1]) * ss), 0)
        draw = ImageDraw.Draw(img)
        for pts in strokes:
            pressure = 1.0 + float(rng.uniform(0.0, 0.4)) * np.sin(
                np.linspace(0, float(rng.uniform(1, 4)) * np.pi, len(pts)) + float(rng.uniform(0, 6.3))
            )
            for (x, y), p in zip(pts - lo, pressure):
                rr = max(0.5, r * p) * ss
                draw.ellipse([x * ss - rr, y * ss - rr, x * ss + rr, y * ss + rr], fill=255)
        out = np.asarray(img.resize((int(size[0]), int(size[1])), Image.Resampling.BOX), np.float64)
        ys, xs = np.nonzero(out > 20)  # trimmed as `lines._trim` trims (which imports this module)
        return out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _polyline(pts: np.ndarray) -> np.ndarray:
    """Straight strokes through the points (N, 2) in pixels, sampled every half pixel."""
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:]):
        t = np.linspace(0, 1, max(2, int(np.linalg.norm(b - a) * 2) + 2))[1:, None]
        out.append(a * (1 - t) + b * t)
    return np.concatenate(out)


def _smooth(pts: np.ndarray, per_unit: int = 120) -> np.ndarray:
    """A Catmull-Rom curve through the points (N, 2), sampled densely enough to draw dot by dot."""
    if len(pts) == 2:
        n = max(2, int(np.linalg.norm(pts[1] - pts[0]) * per_unit))
        t = np.linspace(0, 1, n)[:, None]
        return pts[0] * (1 - t) + pts[1] * t
    p = np.concatenate([pts[:1] * 2 - pts[1:2], pts, pts[-1:] * 2 - pts[-2:-1]])
    out = []
    for k in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[k - 1], p[k], p[k + 1], p[k + 2]
        n = max(2, int(np.linalg.norm(p2 - p1) * per_unit))
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        out.append(
            0.5
            * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(p[-2:-1])
    return np.concatenate(out)
