"""The text detector: its synthetic pages, the geometry of normalising a picture to what it found,
its run files, and a small detector run end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import pages
from mnistlab.errors import MnistlabError
from mnistlab.reading import detect


def test_pages_are_drawn_from_their_seed_alone_with_a_core_for_the_writing(sources):
    x1, y1 = pages.make_pages(6, 5, sources)
    x2, y2 = pages.make_pages(6, 5, sources)
    x3, _ = pages.make_pages(6, 6, sources)
    assert x1.shape == (6, pages.SIZE, pages.SIZE) and x1.dtype == np.uint8
    assert y1.shape == (6, pages.SIZE // pages.OUT_STRIDE, pages.SIZE // pages.OUT_STRIDE)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert set(np.unique(y1)) <= {0, 1}
    assert sum(int(m.any()) for m in y1) >= 4  # most pages show some writing (a sheet may hide it)
    for photo, core in zip(x1, y1):
        if core.any():  # under a core, ink: darker than most of the page around it
            under = np.kron(core, np.ones((4, 4), np.uint8)).astype(bool)
            ys, xs = np.nonzero(under)
            around = photo[max(0, ys.min() - 8) : ys.max() + 9, max(0, xs.min() - 8) : xs.max() + 9]
            assert photo[under].min() < np.percentile(around, 75)


def test_standardize_takes_out_the_light():
    rng = np.random.default_rng(0)
    picture = rng.uniform(0, 255, (40, 60))
    dim = picture * 0.2 + 10
    assert np.allclose(pages.standardize(picture), pages.standardize(dim), atol=1e-4)
    assert np.isfinite(pages.standardize(np.full((8, 8), 7.0))).all()  # a flat picture: no division by 0


def level_line(angle_deg: float, cx=400.0, cy=300.0, length=300.0, height=40.0) -> detect.Line:
    return detect.Line(cx=cx, cy=cy, angle=float(np.deg2rad(angle_deg)), length=length, height=height)


def test_normalize_turns_the_picture_level_enlarges_small_writing_and_maps_boxes_back():
    gray = np.full((300, 400), 230.0)
    line = level_line(20.0, cx=200.0, cy=150.0, length=150.0, height=48.0)
    norm = detect.normalize(gray, [line])
    assert norm is not None and abs(norm.angle - 20.0) < 1e-6
    k = detect.LINE_HEIGHT / line.height  # small writing is enlarged to LINE_HEIGHT
    h, w = norm.gray.shape
    turned = 400 * np.cos(np.deg2rad(20)) + 300 * np.sin(np.deg2rad(20))  # the whole picture, turned
    assert abs(w - turned * k) <= 2
    # A box around the whole normalised picture maps back onto the whole picture.
    assert norm.box_to_picture([0, 0, w, h], gray.shape) == [0, 0, 400, 300]
    # The line's centre maps back to itself.
    inv = np.linalg.inv(np.vstack([norm.to_picture, [0, 0, 1]]))
    x, y, _ = inv @ np.array([line.cx, line.cy, 1.0])
    assert np.allclose(norm.to_picture @ np.array([x, y, 1.0]), [line.cx, line.cy])


def test_a_level_picture_with_big_writing_is_read_as_it_is():
    gray = np.random.default_rng(0).uniform(0, 255, (300, 400))
    norm = detect.normalize(gray, [level_line(detect.MIN_TURN / 2, height=detect.LINE_HEIGHT * 1.5)])
    assert norm.gray is gray and norm.angle == 0.0
    assert norm.box_to_picture([10, 20, 30, 40], gray.shape) == [10, 20, 30, 40]


def test_the_writing_direction_is_the_long_lines_median_and_bounded():
    assert detect.text_angle([]) == 0.0
    short = level_line(70.0, length=40.0)  # a lone digit shows no direction
    assert detect.text_angle([short]) == 0.0
    angles = [level_line(a) for a in (9.0, 10.0, 30.0)]
    assert abs(np.rad2deg(detect.text_angle([*angles, short])) - 10.0) < 1e-6
    assert np.rad2deg(detect.text_angle([level_line(80.0)])) == pytest.approx(detect.MAX_TURN)
    assert detect.normalize(np.zeros((10, 10)), []) is None


def test_a_huge_region_is_normalised_within_the_pixel_budget():
    gray = np.full((3000, 4000), 200.0)
    tiny = level_line(10.0, cx=2000, cy=1500, length=3800, height=5.0)  # would be enlarged 19 times
    norm = detect.normalize(gray, [tiny], max_pixels=1_000_000)
    assert norm.gray.size <= 1_000_000 * 1.01


def detector_copy(tmp_path: Path) -> Path:
    from mnistlab.api import bundled_path

    folder = tmp_path / "detector"
    shutil.copytree(bundled_path() / "detector", folder)
    return folder


def test_a_damaged_detector_run_is_refused_in_one_sentence(tmp_path):
    folder = detector_copy(tmp_path)
    assert detect.Detector(folder).threshold > 0
    info = json.loads((folder / "detector.json").read_text())
    (folder / "detector.json").write_text(json.dumps({**info, "threshold": 2}))
    with pytest.raises(MnistlabError, match="threshold must be a number between 0 and 1"):
        detect.Detector(folder)
    (folder / "detector.json").write_text(json.dumps(info))
    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes()[:-10])
    with pytest.raises(MnistlabError, match="does not match its record"):
        detect.Detector(folder)
    (folder / "detector.json").unlink()
    with pytest.raises(MnistlabError, match="is not a detector run"):
        detect.Detector(folder)


def test_the_bundled_detector_finds_each_line_of_a_turned_note():
    from tests.scenes import field_note

    gray, _ = field_note(["4071", "2389", "56"], turn=18.0, seed=3)
    found = detect.Detector(detector_copy_path()).find(gray)
    assert len(found) == 3
    # Turned anticlockwise (as Pillow turns), the lines rise to the right: -18 degrees with y down.
    assert all(abs(np.rad2deg(ln.angle) + 18.0) < 6 for ln in found if ln.length > 3 * ln.height)


def test_writing_taller_than_the_detector_learned_is_found_whole_at_half_the_size():
    from tests.scenes import pad_drawing

    det = detect.Detector(detector_copy_path())
    gray = pad_drawing()
    # At the working size the digits stand ~120 pixels tall, past pages.HEIGHTS: the cores come apart.
    assert len(det._find(gray, 1.0)) > 1
    found = det.find(gray)
    assert len(found) == 1
    (line,) = found
    assert line.cx - line.length / 2 < 200 and line.cx + line.length / 2 > 520  # from the "1" to the "3"
    # Small writing on a small picture keeps the first look.
    from tests.scenes import field_note

    note, _ = field_note(["4071", "2389"], photo=(600, 450), seed=3)
    assert det.find(note) == det._find(note, 1.0)


def detector_copy_path() -> Path:
    from mnistlab.api import bundled_path

    return bundled_path() / "detector"


@pytest.mark.timeout(600)
def test_a_small_detector_run_trains_reads_reports_and_exports(tmp_path, mnist):
    """`--preset detector` end to end, small: a run with curves, a threshold, a verified ONNX model."""
    from mnistlab.cli import main
    from mnistlab.models.presets import Recipe, get_preset
    from mnistlab.training import detector as detector_training
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.train import train

    recipe = Recipe.from_dict(get_preset("detector").recipe.to_dict())
    recipe.pages, recipe.epochs = 64, 1
    run = train(TrainOptions(preset="detector", out=str(tmp_path / "det"), verbose=0), recipe=recipe)
    assert run.is_detector and run.is_complete and not run.is_line
    history = json.loads((run.path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1] and "val_pages_exact" in history[0]
    m = run.metrics
    assert m["kind"] == "detector" and m["test_pages"] == 32 and 0 <= m["test_pages_exact"] <= 1
    info = json.loads((run.path / "detector.json").read_text())
    assert 0 < info["threshold"] < 1 and info["stride"] == pages.OUT_STRIDE
    record = json.loads((run.path / "model.onnx.json").read_text())
    assert record["argmax_agreement"] == 1.0 and record["checked"] > 0
    assert (run.path / "plots" / "curves.png").stat().st_size > 0
    cfg = json.loads((run.path / "config.json").read_text())
    assert cfg["recipe"]["pages"] == 64 and "synthetic_fonts" in cfg  # what the pages were drawn from
    assert cfg["generator"] == {"pages": detector_training.GENERATOR_VERSION}  # ... and which way
    picture = Path(__file__).parent / "data" / "touching-pair.png"
    assert main(["read", str(picture), "--detector", str(run.path), "--json"]) == 0
    assert main(["read", str(picture), "--detector", str(tmp_path)]) == 2  # not a detector run
    assert main(["evaluate", str(run.path)]) == 0
    assert main(["report", str(run.path)]) == 0 and (run.path / "report.html").exists()
    assert main(["export", str(run.path), "--format", "onnx"]) == 0
    meta = json.loads((run.path / "export" / "detector.onnx.json").read_text())
    assert meta["kind"] == "detector" and meta["threshold"] == info["threshold"]
    assert main(["export", str(run.path), "--format", "tflite"]) == 2


@pytest.fixture(scope="module")
def reader():
    from mnistlab.api import bundled_path
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    return Predictor(open_run(bundled_path()))


def trusted(result: dict, text: str) -> bool:
    """Right, or not sure: never a wrong answer marked read."""
    return result["text"] == text or not result["accepted"]


def test_a_sheet_turned_18_degrees_is_read_level(reader):
    from tests.scenes import field_note

    gray, text = field_note(["4071", "2389"], turn=18.0, seed=3)
    r = reader.read(gray)
    assert r["text"] == text and r["accepted"], r
    # The boxes are the picture's: each digit's box lies on the turned writing, inside the picture.
    assert all(0 <= d["box"][0] < d["box"][2] <= gray.shape[1] for d in r["digits"])
    assert r["lines"][0]["box"][1] < r["lines"][1]["box"][1]


def test_a_12_megapixel_photo_is_read_like_a_small_one(reader):
    from tests.scenes import field_note

    gray, text = field_note(["30472"], photo=(4000, 3000), seed=5)
    r = reader.read(gray)
    assert r["text"] == text and r["accepted"], r


def test_a_small_number_on_a_12_megapixel_photo_is_read_from_the_files_own_pixels(reader, tmp_path, capsys):
    from fastapi.testclient import TestClient
    from tests.scenes import field_note, jpeg

    from mnistlab.api import bundled_path
    from mnistlab.cli import main
    from mnistlab.images import decode_picture
    from mnistlab.runs import RunDir
    from mnistlab.serving.app import create_app

    gray, text = field_note(["30472"], photo=(4000, 3000), seed=5, room=8, size=40)  # a sheet seen from afar
    data = jpeg(gray)
    small, scale = decode_picture(data)
    assert scale == 4.0  # decoded to 1000 x 750: the writing some 20 pixels tall there
    assert not reader.read(small, scale=scale)["accepted"]  # without the file, too small to be sure
    r = reader.read(small, scale=scale, data=data)
    assert r["text"] == text and r["accepted"], r
    # The boxes are the file's: on the note, in the middle of the photo, left to right.
    xs = [d["box"][0] for d in r["digits"]]
    assert xs == sorted(xs) and all(1500 < d["box"][0] < d["box"][2] < 2500 for d in r["digits"])
    assert all(1200 < d["box"][1] < d["box"][3] < 1800 for d in r["digits"])
    # The whole picture handed over as pixels (the Python API) gets the same closer look.
    full = reader.read(gray)
    assert full["text"] == text and full["accepted"], full
    a, b = np.array([d["box"] for d in full["digits"]]), np.array([d["box"] for d in r["digits"]])
    # The same places, from the file's pixels and from the array's: each digit's centre within 12
    # pixels, its sides within 12 across (the height of a box is the reading's: the marks' boxes
    # hug the ink, the photo reading's span its line).
    centres = lambda boxes: np.stack([boxes[:, [0, 2]].mean(1), boxes[:, [1, 3]].mean(1)], axis=1)
    assert np.abs(centres(a) - centres(b)).max() <= 12 and np.abs(a[:, [0, 2]] - b[:, [0, 2]]).max() <= 12
    # ... and so do a file given to `read` and an upload to the server.
    path = tmp_path / "far.jpg"
    path.write_bytes(data)
    capsys.readouterr()
    assert main(["read", str(path), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    said = said[0] if isinstance(said, list) else said
    assert said["text"] == text and said["accepted"], said
    client = TestClient(create_app(RunDir(bundled_path())))
    res = client.post("/api/read", files={"file": ("far.jpg", data, "image/jpeg")})
    assert res.status_code == 200 and res.json()["text"] == text and res.json()["accepted"], res.json()


def test_a_number_drawn_large_on_the_pad_is_read_and_sure(reader):
    from tests.scenes import pad_drawing

    r = reader.read(pad_drawing())
    assert r["text"] == "123" and r["accepted"], r


def test_a_pencil_note_is_read(reader):
    from tests.scenes import field_note

    gray, text = field_note(["6193"], ink=120, grain=0.6, seed=6)
    r = reader.read(gray)
    assert r["text"] == text, r  # read right; grey, broken strokes may leave it unsure


def test_a_three_line_note_keeps_its_three_lines_and_is_never_wrong_and_sure(reader):
    from tests.scenes import field_note

    gray, text = field_note(["4071", "2389", "56"], turn=6.0, seed=7)
    r = reader.read(gray)
    assert len(r["lines"]) == 3 and trusted(r, text), r
    assert r["text"] == text


def test_a_dropped_digit_is_never_sure(reader):
    """A digit too faint to read, first on its line: the detector's line reaches past what was read."""
    from tests.scenes import field_note

    gray, text = field_note(["4071", "2389"], faint=(1, 0), seed=9)
    r = reader.read(gray)
    assert r["text"] != text and not r["accepted"] and r["reason"] == "missing_mark", r
    gray, text = field_note(["4071"], faint=(0, 2), seed=8)  # in the middle of its line
    assert trusted(reader.read(gray), text)


def test_a_reading_the_detector_disagrees_with_is_never_sure(reader):
    """Writing the detector found where nothing was read (a found line added on blank paper), two
    found lines read as one, a line read where no writing was found: the reading is not sure."""
    from tests.scenes import field_note

    from mnistlab.reading import read_gray

    gray, text = field_note(["4071"], seed=10)
    real = reader.detector

    class SeesMore:
        def find(self, picture):
            found = real.find(picture)
            first = found[0]
            extra = detect.Line(first.cx, first.cy + 1.8 * first.height, first.angle, first.length, first.height)
            return [*found, extra]

    def judge(arrays):
        return reader.judge(arrays)

    class SeesTwo:  # the one line, found as two lines one above the other
        def find(self, picture):
            (ln,) = real.find(picture)
            return [
                detect.Line(ln.cx, ln.cy - ln.height / 4, ln.angle, ln.length, ln.height / 2),
                detect.Line(ln.cx, ln.cy + ln.height / 4, ln.angle, ln.length, ln.height / 2),
            ]

    class SeesElsewhere:  # writing found only far from what is read
        def find(self, picture):
            (ln,) = real.find(picture)
            return [detect.Line(ln.cx, ln.cy + 1.8 * ln.height, ln.angle, ln.length, ln.height)]

    sure = read_gray(gray, judge, reader.lines, detector=real)
    assert sure["text"] == text and sure["accepted"]
    for detector, reason in ((SeesMore(), "missing_line"), (SeesTwo(), "lines_merged")):
        doubted = read_gray(gray, judge, reader.lines, detector=detector)
        assert doubted["text"] == text and not doubted["accepted"] and doubted["reason"] == reason
    doubted = read_gray(gray, judge, reader.lines, detector=SeesElsewhere())
    assert not doubted["accepted"] and doubted["reason"] in ("missing_line", "not_writing")


def test_reading_without_the_detector_is_the_picture_as_it_is(reader):
    from tests.scenes import field_note

    gray, _ = field_note(["58213"], turn=-25.0, seed=4)
    from mnistlab.api import bundled_path
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    off = Predictor(open_run(bundled_path()), detector="off")
    assert off.detector is None and reader.detector is not None
    assert reader.read(gray)["accepted"] and not off.read(gray)["accepted"]
