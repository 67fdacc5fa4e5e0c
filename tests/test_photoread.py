"""The photo line reader: photographed lines, the simulated pen, the crop of a found line, and reading
each found line from the photo itself."""

from __future__ import annotations

import numpy as np
import pytest

from mnistlab.data import photolines, strip
from mnistlab.reading import detect, photoread


def test_photographed_lines_are_drawn_from_their_seed_alone(sources):
    a, ta = photolines.make_lines(16, 7, sources)
    b, tb = photolines.make_lines(16, 7, sources)
    assert ta == tb and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert photolines.make_lines(16, 8, sources)[1] != ta
    for s, t in zip(a, ta):
        assert s.shape[0] == strip.HEIGHT and s.dtype == np.float32
        assert 0 <= s.min() and s.max() <= 255
        assert s.shape[1] // strip.STRIDE > len(t)  # room for CTC
        assert set(t) <= set(strip.VOCAB)


def test_photo_strip_takes_out_the_light_and_keeps_the_proportions():
    rng = np.random.default_rng(0)
    crop = np.full((40, 200), 200.0) + rng.normal(0, 2, (40, 200))
    crop[12:28, 20:30] = 60  # a dark stroke
    bright = photolines.photo_strip(crop)
    dim = photolines.photo_strip(crop * 0.3)  # the same line in low light
    assert bright.shape == (strip.HEIGHT, 160)
    assert np.abs(bright - dim).max() < 3  # the light is taken out
    assert bright[16, 20] > bright[16, 100] + 100  # darker than the paper: brighter in the strip
    assert photolines.photo_strip(np.zeros((1, 5))) is None


def test_thinning_leaves_a_one_pixel_skeleton_of_a_stroke():
    mask = np.zeros((30, 40), bool)
    mask[10:17, 5:35] = True  # a bar seven pixels thick
    skel = photolines.thin(mask)
    assert skel.sum() > 15
    assert (skel & ~mask).sum() == 0
    assert skel.sum(axis=0).max() == 1  # one pixel thick across the bar
    rows = np.flatnonzero(skel.any(axis=1))
    assert 12 <= rows.min() and rows.max() <= 14  # along its middle


def test_the_pen_redraws_a_digit_with_another_width(sources):
    rng = np.random.default_rng(3)
    canvas = np.zeros((60, 60))
    canvas[10:50, 26:34] = 255  # a thick 1
    out = photolines.pen_redraw(canvas, rng)
    assert out.shape == canvas.shape
    ink = out > 110
    assert ink.any() and ink.sum() < (canvas > 110).sum()  # a pen narrower than the stroke
    cols = np.flatnonzero(ink.any(axis=0))
    assert cols.min() >= 20 and cols.max() <= 40  # where the stroke was


def test_light_writing_on_dark_is_turned_to_dark_on_light_and_glare_is_not():
    rng = np.random.default_rng(0)
    crop = np.full((64, 240), 200.0) + rng.normal(0, 3, (64, 240))
    for x in (30, 80, 130, 180):
        crop[12:52, x : x + 7] = 40  # four dark strokes on light paper
    assert photoread.dark_on_light(crop) is crop
    mnist_style = 255.0 - crop  # MNIST's own white on black
    assert np.allclose(photoread.dark_on_light(mnist_style), crop)
    glare = crop.copy()
    glare[:, 150:] = 255  # a bright patch beside the writing: still dark writing
    assert photoread.dark_on_light(glare) is glare


def test_a_found_line_is_cut_out_level_with_paper_around_it():
    gray = np.full((300, 400), 220.0)
    angle = np.deg2rad(20)
    d, n = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    centre = np.array([200.0, 150.0])
    yy, xx = np.mgrid[0:300, 0:400]
    rel = np.stack([xx - centre[0], yy - centre[1]], -1)
    along, across = rel @ d, rel @ n
    # A dark band 200 long and 20 high, turned 20 degrees: a found line's height runs past its ink.
    gray[(np.abs(along) < 100) & (np.abs(across) < 10)] = 40
    line = detect.Line(cx=200, cy=150, angle=float(angle), length=200, height=30)
    crop = photoread.crop_line(gray, line, float(angle))
    assert crop.gray.shape[0] == photoread.WORK_HEIGHT
    h = crop.gray.shape[0]
    assert crop.gray[h // 2, 30:-30].max() < 80  # the band runs level through the middle ...
    assert crop.gray[4].min() > 180 and crop.gray[h - 5].min() > 180  # ... paper above and below it
    assert crop.gray[h // 2, :4].min() > 180  # ... and before it
    # Boxes map back: the whole crop covers the band's corners in the picture.
    box = crop.box(0, 0, crop.gray.shape[1], h, gray.shape)
    corners = centre + np.array([[a * 100, b * 10] for a in (-1, 1) for b in (-1, 1)]) @ np.stack([d, n])
    assert box[0] <= corners[:, 0].min() and box[2] >= corners[:, 0].max()
    assert box[1] <= corners[:, 1].min() and box[3] >= corners[:, 1].max()


def test_lines_side_by_side_on_a_tilted_sheet_are_read_left_to_right():
    """Two short numbers side by side on a sheet tilted 14 degrees: the right one lies higher in the
    picture, yet it is read second."""
    angle = np.deg2rad(-14)
    left = detect.Line(cx=259, cy=282, angle=angle, length=130, height=54)
    right = detect.Line(cx=522, cy=217, angle=angle, length=125, height=54)
    below = detect.Line(cx=300, cy=400, angle=angle, length=130, height=54)
    writing = detect.text_angle([left, right, below], photoread.OWN_ANGLE)
    assert abs(writing - angle) < 1e-9  # short lines still show the writing's direction
    assert photoread.reading_order([right, below, left], writing) == [left, right, below]


def test_short_numbers_side_by_side_stay_one_row_when_the_writing_angle_is_missed():
    """Short numbers show no direction (the writing is taken as level), yet the sheet is turned 12
    degrees: numbers far apart along the writing whose bands overlap across it are one row, read
    left to right; lines one above the other, sharing a stretch along the writing, are not."""
    left = detect.Line(cx=440, cy=490, angle=0.0, length=60, height=64)
    right = detect.Line(cx=750, cy=424, angle=np.deg2rad(-11), length=120, height=80)
    assert photoread.reading_order([right, left], 0.0) == [left, right]
    top = detect.Line(cx=450, cy=400, angle=0.0, length=200, height=60)
    under = detect.Line(cx=470, cy=445, angle=0.0, length=200, height=60)  # overlapping bands, one stretch
    assert photoread.reading_order([under, top], 0.0) == [top, under]


def test_pieces_of_one_line_are_joined_and_numbers_far_apart_are_not():
    """The detector can break a small line into pieces: closer than a line height, they are one line."""
    a = detect.Line(cx=40, cy=20, angle=0.0, length=40, height=20)
    b = detect.Line(cx=90, cy=21, angle=0.0, length=40, height=20)  # 10 pixels after a
    far = detect.Line(cx=200, cy=20, angle=0.0, length=40, height=20)  # 70 pixels after b
    (joined, alone) = photoread.reading_order([far, b, a], 0.0)
    assert (joined.cx, joined.length, joined.height) == (65.0, 90.0, 20) and alone is far


class _Model:
    """A photo line model that reads every strip as `text` with confidence `sure`."""

    threshold = 0.9

    def __init__(self, texts, sure=0.99):
        self.texts, self.sure = list(texts), sure

    def probabilities(self, strips):
        out = []
        for s, text in zip(strips, self.texts):
            steps = s.shape[1] // strip.STRIDE
            p = np.full((steps, len(strip.VOCAB) + 1), (1 - self.sure) / len(strip.VOCAB), np.float32)
            p[:, strip.BLANK] = self.sure
            for k, ch in enumerate(text):
                p[2 * k + 1] = (1 - self.sure) / len(strip.VOCAB)
                p[2 * k + 1, strip.VOCAB.index(ch) + 1] = self.sure
            out.append(p)
        return out


def test_each_found_line_is_one_line_of_the_reading_with_boxes_in_the_picture():
    gray = np.full((200, 300), 230.0)
    found = [detect.Line(150, 60, 0.0, 160, 40), detect.Line(150, 140, 0.0, 120, 40)]
    r = photoread.read_found(gray, found, _Model(["12.5", "40"]))
    assert r["text"] == "12.5\n40" and r["accepted"]
    assert [d["digit"] for d in r["digits"]] == [1, 2, 5, 4, 0] and r["separators"][0]["char"] == "."
    assert len(r["inputs"]) == 5 and r["inputs"][0].shape == (28, 28)
    for d in r["digits"][:3]:
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 < x1 <= 300 and 30 <= y1 and y0 <= 90  # on the first line
    unsure = photoread.read_found(gray, found, _Model(["12", "40"], sure=0.6))
    assert unsure["text"] == "12\n40" and not unsure["accepted"] and unsure["reason"] == "unclear_digit"
    nothing = photoread.read_found(gray, found, _Model(["12", ""]))
    assert nothing["text"] == "12" and not nothing["accepted"] and nothing["reason"] == "missing_line"
    letters = photoread.read_found(gray, found, _Model(["12", "4?"]))
    assert not letters["accepted"] and letters["reason"] == "stray_mark"


def _reading(text: str, sure: bool, reason: str | None = None, conf: float = 0.99, gap_at: int = -1) -> dict:
    """A reading of `text`: characters 10 pixels tall, 8 apart (20 apart before character `gap_at`)."""
    lines = []
    for row, t in enumerate(text.split("\n") if text else []):
        digits, x = [], 0
        for k, c in enumerate(t):
            x += 20 if k == gap_at else 8
            digits.append(
                {"digit": int(c), "confidence": conf, "accepted": True, "box": [x, 20 * row, x + 6, 20 * row + 10]}
            )
        lines.append({"text": t, "confidence": conf, "digits": digits, "separators": []})
    out = {
        "text": text,
        "accepted": sure,
        "digits": [d for line in lines for d in line["digits"]],
        "separators": [],
        "lines": lines,
        "inputs": [],
    }
    if reason:
        out["reason"], out["note"] = reason, "why"
    return out


def test_the_verdict_keeps_the_likelier_reading_and_never_trusts_a_dropped_line(tmp_path):
    from mnistlab.errors import MnistlabError
    from mnistlab.reading import verdict

    # Without learned weights: agreement is sure, the photo's sure reading beats the marks' unsure one.
    agree = verdict.choose(_reading("4071", False, "unclear_digit"), _reading("4071", False, "unclear_digit"))
    assert agree["text"] == "4071" and agree["accepted"] and "reason" not in agree
    dropped = verdict.choose(_reading("4071", False, "missing_mark"), _reading("4071", True))
    assert not dropped["accepted"] and dropped["reason"] == "missing_mark"
    gap = verdict.choose(_reading("401", False, "unclear_digit", gap_at=2), _reading("401", False, gap_at=2))
    assert not gap["accepted"] and gap["reason"] == "missing_mark"  # room for a digit neither read
    photo = verdict.choose(_reading("4071", False, "unclear_digit"), _reading("4077", True))
    assert photo["text"] == "4077" and photo["accepted"]
    assert verdict.choose(_reading("12", True), _reading("", False, "too_small"))["text"] == "12"
    # With weights: the reading judged likelier is kept, sure only at the accept level.
    n = len(verdict.FEATURES)
    trust_photo = verdict.Verdict(np.zeros(n), np.eye(n)[verdict.FEATURES.index("photo_conf")] * 2, accept=0.9)
    kept = trust_photo.probabilities(_reading("11", True), _reading("17", False, conf=0.999))
    assert kept[1] > kept[0]
    r = verdict.choose(_reading("11", True), _reading("17", False, conf=0.999), trust_photo)
    assert r["text"] == "17" and r["accepted"] and r["confidence"] > 0.9
    r = verdict.choose(_reading("11", True), _reading("17", False, conf=0.7), trust_photo)
    assert r["text"] == "17" and not r["accepted"] and r["reason"] == "readers_differ"
    f = verdict.features(_reading("17", True, conf=0.99), _reading("17", False, conf=0.9))
    low, high = verdict.FEATURES.index("agree_low"), verdict.FEATURES.index("agree_high")
    assert f[verdict.FEATURES.index("agree")] == 1 and f[low] < f[high] and abs(f[high] - np.log(99)) < 1e-6
    assert verdict.features(_reading("11", True), _reading("17", True))[low] == 0  # they differ
    r = verdict.choose(_reading("11", True), _reading("1\n7", False, "missing_line", conf=0.999), trust_photo)
    assert not r["accepted"] and r["reason"] == "missing_line"
    # Its file: read back, or one sentence when damaged.
    (tmp_path / "verdict.json").write_text('{"features": ["bias"], "marks": [0], "photo": [0], "accept": 0.5}')
    with pytest.raises(MnistlabError, match="verdict.json is damaged"):
        verdict.Verdict.load(tmp_path)
    assert verdict.Verdict.load(tmp_path / "nowhere") is None


def test_a_photo_line_model_is_not_an_ink_line_model():
    from mnistlab.api import bundled_path
    from mnistlab.errors import MnistlabError
    from mnistlab.reading.predictor import Predictor, line_model_for, photo_reader_for
    from mnistlab.runs import BUNDLED, open_run

    run = open_run(bundled_path())
    with pytest.raises(MnistlabError, match="--lines"):
        photo_reader_for(run, BUNDLED / "line")
    with pytest.raises(MnistlabError, match="--photo-lines"):
        line_model_for(run, BUNDLED / "photoline")
    assert Predictor(run).photo.world == "photo"
    assert Predictor(run, photo="off").photo is None
    assert Predictor(run, detector="off").photo is None  # it reads the lines the detector found


def test_a_partner_reads_the_strips_the_lead_is_unsure_of_and_the_surest_reading_is_kept():
    """The bundled photo line model has a partner: a strip the lead reads sure keeps the lead's
    reading; on any other, the reading whose least sure character is the surer of the two is kept."""
    from mnistlab.reading.linemodel import LineModel
    from mnistlab.runs import BUNDLED

    pair = LineModel(BUNDLED / "photoline")
    assert [p.path.name for p in pair.partners] == ["partner1"] and pair.partners[0].world == "photo"
    rng = np.random.default_rng(3)
    strips = [photolines.photo_strip(rng.random((32, int(w))) * 255) for w in rng.integers(40, 200, 12)]
    scene = np.full((40, 150), 230.0)
    scene[8:32, 20:24] = 40  # a clear stroke or two: something the lead can be sure of
    scene[8:32, 60:64] = 40
    strips.append(photolines.photo_strip(scene))
    kept = pair.probabilities(strips)
    own, other = pair._own_probabilities(strips), pair.partners[0]._own_probabilities(strips)
    chose = {"own sure": 0, "other": 0, "own unsure": 0}
    for k, p in enumerate(kept):
        a, b = strip.decode(own[k])[1], strip.decode(other[k])[1]
        if a >= pair.threshold:
            assert np.array_equal(p, own[k])
            chose["own sure"] += 1
        else:
            assert np.array_equal(p, other[k] if b > a else own[k])
            chose["other" if b > a else "own unsure"] += 1
    assert chose["other"] > 0 and chose["own unsure"] > 0, chose  # the pair is two models, not one


def test_pairing_line_runs_writes_a_new_run_and_refuses_what_cannot_pair(tmp_path):
    """tools/pair_line_runs.py: a new folder that loads with its partner; never over a folder, never a
    partner of another world, never a partner folder outside the run; one clear message, no traceback."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from mnistlab.errors import MnistlabError
    from mnistlab.reading.linemodel import LineModel
    from mnistlab.runs import BUNDLED

    lead, partner = tmp_path / "lead", tmp_path / "partner"
    shutil.copytree(BUNDLED / "photoline", lead)
    shutil.copytree(BUNDLED / "photoline" / "partner1", partner)
    info = json.loads((lead / "line.json").read_text())
    info.pop("partners")
    (lead / "line.json").write_text(json.dumps(info))
    tool = Path(__file__).resolve().parent.parent / "tools" / "pair_line_runs.py"

    def run(*args):
        return subprocess.run([sys.executable, str(tool), *map(str, args)], capture_output=True, text=True)

    res = run(tmp_path / "pair", lead, partner)
    assert res.returncode == 0, res.stderr
    assert [p.path.name for p in LineModel(tmp_path / "pair").partners] == ["partner1"]
    for args, message in (
        ((tmp_path / "pair", lead, partner), "already exists"),
        ((tmp_path / "mixed", lead, BUNDLED / "line"), "must read the world"),
    ):
        res = run(*args)
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "mixed").exists() and not list(tmp_path.glob(".mixed.*"))
    info["partners"] = ["../partner"]
    (lead / "line.json").write_text(json.dumps(info))
    with pytest.raises(MnistlabError, match="folder names inside the run"):
        LineModel(lead)
