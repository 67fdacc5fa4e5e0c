"""tools/fit_verdict.py's own data: the numbers drawn on the page's pad, and reading in several processes."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tools"))

import fit_verdict  # noqa: E402

PHOTO_RUN = str(ROOT / "src" / "mnistlab" / "bundled" / "photoline")


def test_pad_numbers_are_white_strokes_on_the_pads_black_canvas_and_drawn_from_their_seed(mnist):
    pads = fit_verdict.pad_photos(4, PHOTO_RUN)
    assert pads == fit_verdict.pad_photos(4, PHOTO_RUN)  # the same seed, the same pictures
    for data, text, _ in pads:
        img = np.asarray(Image.open(io.BytesIO(data)))
        assert img.ndim == 2 and img.shape[1] == 840 and img.shape[0] in (220, 420)
        assert np.median(img) == 0 and img.max() > 200  # white ink on black, as the browser sends it
        assert text.isdigit() and 2 <= len(text) <= 6
        # Each digit left its ink: the writing spans most of its share of the pad.
        cols = np.flatnonzero((img > 128).any(axis=0))
        assert cols[-1] - cols[0] > 40 * len(text) * 0.5


def test_readings_in_two_processes_are_those_of_one_in_the_same_order(mnist):
    pads = fit_verdict.pad_photos(3, PHOTO_RUN)
    one = fit_verdict.readings(pads, PHOTO_RUN, jobs=1)
    two = fit_verdict.readings(pads, PHOTO_RUN, jobs=2)
    assert [t for *_, t in two] == [t for *_, t in one] == [t for _, t, _ in pads]
    assert [m["text"] for m, _, _ in two] == [m["text"] for m, _, _ in one]
