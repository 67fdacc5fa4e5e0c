"""The reading bench's photo generator: the clean pages carry the very writing of the photos."""

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_clean_pages_hold_the_photos_writing_and_leave_the_set_unchanged():
    from reading import photo_set

    photos, pages = photo_set(6, seed=5), photo_set(6, seed=5, clean=True)
    # The same draws: every later photo's text and layout match, so the photo set is the same set.
    assert [(t, m) for _, t, m in photos] == [(t, m) for _, t, m in pages]
    for (jpeg, _, _), (png, text, _) in zip(photos, pages, strict=True):
        assert jpeg.startswith(b"\xff\xd8") and png.startswith(b"\x89PNG")
        page = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float64)
        assert page[0].min() == page[:, 0].min() == 245  # a clean white margin
        dark = page < 128
        assert dark.any()
        rows = np.flatnonzero(dark.any(axis=1))
        # one band of ink per line written, line under line
        bands = 1 + int(np.sum(np.diff(rows) > 1))
        assert bands >= text.count("\n") + 1


def test_the_field_set_is_frozen_and_covers_its_conditions():
    """Photo k of the field set comes from (seed, k) alone: a longer set extends a shorter one, and
    the same seed draws the same bytes. Every photo is a JPEG with its EXIF orientation, its text
    made of digits and separators, and its conditions tagged."""
    from field import conditions, field_set, make_field_photo

    few = field_set(3)
    assert field_set(2) == few[:2]
    seen = set()
    for jpeg, text, meta in few + [make_field_photo(np.random.default_rng([1, k]), []) for k in range(6)]:
        img = Image.open(io.BytesIO(jpeg))
        assert img.format == "JPEG" and img.getexif().get(0x0112) in (1, 3, 6, 8)
        assert text and set(text) <= set("0123456789./:,-\n")
        assert text.count("\n") + 1 == meta["lines"] or meta["kind"] == "side by side"
        assert meta["hand"] == "pen" or meta["hand"] == "font"
        seen.update(conditions(meta))
    assert {c.split(":")[0] for c in seen} >= {"hand", "ink", "paper", "kind", "size", "light", "blur", "perspective"}


def test_the_pp_ocr_detector_gives_each_box_as_a_line_along_its_longer_side():
    """The bench's PP-OCR detector in mnistlab's detector's place: two numbers, one above the other,
    one of them turned, are two lines with the writing's direction, length and height."""
    import pytest

    pytest.importorskip("rapidocr")
    from PIL import ImageDraw, ImageFont

    import engines

    img = Image.new("L", (900, 500), 245)
    font = ImageFont.truetype("DejaVuSans.ttf", 60)
    ImageDraw.Draw(img).text((100, 60), "4711 2026", font=font, fill=20)
    line = Image.new("L", (520, 110), 245)
    ImageDraw.Draw(line).text((20, 20), "31.12.2024", font=font, fill=20)
    img.paste(line.rotate(15, expand=True, fillcolor=245), (150, 220))
    found = sorted(engines.PPOCRDetector().find(np.asarray(img, np.float64)), key=lambda ln: ln.cy)
    assert len(found) == 2, found
    level, turned = found
    assert abs(np.rad2deg(level.angle)) < 3 and 250 < level.length < 450 and 40 < level.height < 110
    assert -20 < np.rad2deg(turned.angle) < -10  # turned counterclockwise: rising to the right (y down)
    assert turned.length > 3 * turned.height


def test_no_engines_keeps_the_engines_rows_only_from_a_report_of_the_same_photos(tmp_path):
    import json
    from types import SimpleNamespace

    from reading import keep_engines

    out = tmp_path / "report.json"
    old = {"date": "2026-12-05", "seed": 7, "photos": 500, "engines": {"rapidocr": "3.10.0"}}
    old["readers"] = {"RapidOCR": {"exact": 0.86}, "mnistlab (bundled)": {"exact": 0.9}}
    out.write_text(json.dumps(old))
    args = SimpleNamespace(no_engines=True, out=str(out))

    def new(seed, photos):
        return {"seed": seed, "photos": photos, "engines": {}, "readers": {"mnistlab (bundled)": {"exact": 0.91}}}

    same = new(7, 500)
    keep_engines(same, args)
    assert same["readers"]["RapidOCR"] == {"exact": 0.86, "measured": "2026-12-05"}
    assert same["readers"]["mnistlab (bundled)"] == {"exact": 0.91} and same["engines"] == {"rapidocr": "3.10.0"}
    for other in (new(8, 500), new(7, 600)):  # other photos: nothing carried over
        keep_engines(other, args)
        assert list(other["readers"]) == ["mnistlab (bundled)"] and other["engines"] == {}
