"""A drawing (a pad's canvas, a screenshot) is told from a photo and read without the text detector."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mnistlab.reading import drawing


def as_jpeg(gray: np.ndarray) -> np.ndarray:
    """`gray` saved as a JPEG (`scenes.jpeg`) and decoded again."""
    from tests.scenes import jpeg

    return np.asarray(Image.open(io.BytesIO(jpeg(gray))).convert("L"), np.float64)


def test_the_pads_canvas_and_a_rendered_sheet_are_drawings_and_photos_are_not():
    from tests.scenes import field_note, on_table, pad_drawing, sheet

    assert drawing.is_drawing(pad_drawing())
    assert drawing.is_drawing(as_jpeg(pad_drawing()))  # saved as JPEG, its empty canvas stays one grey
    page = sheet(["4071"])
    assert drawing.is_drawing(page)  # a rendered page: a screenshot of a number
    assert not drawing.is_drawing(on_table(page))  # the same page photographed on a table
    for seed in range(5):
        gray, _ = field_note(["4071", "2389"], seed=seed)
        assert not drawing.is_drawing(gray)


def test_one_grey_over_less_than_flat_of_the_picture_is_a_photo():
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (200, 300))
    flat = noise.copy()
    rows = int(200 * drawing.FLAT) + 4
    flat[:rows] = 17.0  # three quarters and a little more of it one grey
    assert drawing.is_drawing(flat)
    flat[: rows - 12] = noise[: rows - 12]
    assert not drawing.is_drawing(flat)
    assert not drawing.is_drawing(np.zeros((0, 0)))
    assert not drawing.is_drawing(np.zeros((4, 4, 3)))


@pytest.fixture(scope="module")
def reader():
    from mnistlab.api import bundled_path
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    return Predictor(open_run(bundled_path()))


def test_a_drawing_is_read_without_the_detector_and_a_photo_with_it(reader, monkeypatch):
    from tests.scenes import field_note, pad_drawing

    calls = []
    find = reader.detector.find
    monkeypatch.setattr(reader.detector, "find", lambda gray: calls.append(gray.shape) or find(gray))
    r = reader.read(pad_drawing())
    assert r["text"] == "123" and r["accepted"], r
    assert calls == []
    gray, text = field_note(["4071"], seed=1)
    assert reader.read(gray)["text"] == text
    assert calls
