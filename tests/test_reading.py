"""`read`: segmentation of whole numbers, touching digits, clean-up, bounded work, CLI and JSON."""

import json
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import compose_number, run_cli
from mnistlab.reading import read_gray

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def sure_judge(arrays):
    """Reads everything as a confident 3: segmentation tests need no model."""
    n = len(arrays)
    probs = np.full((n, 10), 0.001, np.float32)
    probs[:, 3] = 0.991
    return probs, probs.max(1), np.ones(n, bool)


def _rings(xs=(30, 110, 230, 310), width=420):
    """A white picture with a ring 60 wide and 100 tall at each x (digits for `sure_judge`), and its
    drawing context for the marks a test adds between them."""
    img = Image.new("L", (width, 180), 255)
    d = ImageDraw.Draw(img)
    for x in xs:
        d.ellipse([(x, 40), (x + 60, 140)], outline=0, width=14)
    return img, d


def _text_picture(text, size=60, pad=30, spacing=40):
    font = ImageFont.truetype(FONT, size)
    img = Image.new("L", (pad * 2 + len(text) * (size // 2 + spacing), size + 2 * pad), 255)
    d = ImageDraw.Draw(img)
    x = pad
    for ch in text:
        d.text((x, pad), ch, fill=0, font=font)
        x += size // 2 + spacing
    return img


def test_separate_digits_are_boxed_left_to_right():
    r = read_gray(np.asarray(_text_picture("1234"), np.float64), sure_judge)
    boxes = [d["box"] for d in r["digits"]]
    assert len(boxes) == 4
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert r["text"] == "3333" and r["accepted"]
    assert len(r["inputs"]) == 4 and r["inputs"][0].shape == (28, 28)


def test_broken_strokes_are_merged():
    # A 5 written with its flag apart from its body, and a 7 whose bar does not touch its stem.
    img = Image.new("L", (300, 140), 255)
    d = ImageDraw.Draw(img)
    d.line([(40, 30), (85, 30)], fill=0, width=8)  # the 5's flag, apart
    d.line([(40, 42), (38, 70)], fill=0, width=8)
    d.arc([(30, 60), (90, 120)], start=-100, end=140, fill=0, width=8)  # the 5's body
    d.line([(170, 30), (230, 30)], fill=0, width=8)  # the 7's bar
    d.line([(226, 40), (190, 120)], fill=0, width=8)  # the 7's stem, apart
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert len(r["digits"]) == 2


def test_underlines_and_specks_are_dropped():
    img = _text_picture("58")
    d = ImageDraw.Draw(img)
    d.line([(10, img.height - 12), (img.width - 10, img.height - 12)], fill=0, width=4)  # underline
    rng = np.random.default_rng(0)
    for x, y in rng.integers(0, min(img.size), (12, 2)):
        d.point((int(x), int(y)), fill=0)  # dust
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert len(r["digits"]) == 2


def test_a_minus_sign_is_kept_beside_a_digit_that_reaches_back_and_when_short_and_bold():
    # A handwritten 2 whose foot starts left of its body, back over the dash's end.
    img = Image.new("L", (300, 200), 255)
    d = ImageDraw.Draw(img)
    d.line([(40, 100), (92, 100)], fill=0, width=10)  # the minus sign
    d.arc([(100, 40), (160, 100)], start=180, end=30, fill=0, width=9)  # the 2's bowl
    d.line([(155, 85), (88, 140)], fill=0, width=9)  # its diagonal, to a foot ...
    d.line([(88, 140), (165, 140)], fill=0, width=9)  # ... that reaches back
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert [s["char"] for s in r["separators"]] == ["-"] and r["text"] == "-3"
    # A short, bold dash: wider than tall by a third, not by half.
    img = Image.new("L", (300, 200), 255)
    d = ImageDraw.Draw(img)
    d.rectangle([(40, 88), (73, 112)], fill=0)
    d.ellipse([(95, 40), (160, 140)], outline=0, width=16)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert [s["char"] for s in r["separators"]] == ["-"] and r["text"] == "-3"


def _zero(d):
    d.ellipse([(40, 40), (100, 140)], outline=0, width=14)


def _seven(d):
    # A 7 whose bar ends past where the colon begins: its box leans over the colon's left edge, its
    # ink is not above it (`07:28` in a round hand had been read `07528`).
    d.line([(40, 40), (106, 40)], fill=0, width=14)
    d.line([(102, 40), (58, 140)], fill=0, width=14)


def test_a_comma_hung_above_the_baseline_is_a_comma():
    # Humor Sans's comma: as tall as wide (a blob and a short tail) and ending a fifth of the
    # digits' height above their baseline.
    img, d = _rings()
    d.ellipse([(188, 93), (214, 115)], fill=0)
    d.polygon([(192, 106), (214, 106), (190, 125)], fill=0)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert r["text"] == "33,33", r["text"]
    assert [s["char"] for s in r["separators"]] == [","]


@pytest.mark.parametrize(
    "before, dots",
    [
        # Two dots together a third as tall as the digits (too tall for "a dot beside a digit"),
        # beginning two columns after the digit ends.
        (_zero, [(103, 76, 114, 86), (103, 101, 114, 111)]),
        # A bold hand's colon: two big dots that span nearly the digits' height.
        (_zero, [(105, 46, 124, 65), (105, 116, 124, 135)]),
        (_seven, [(105, 86, 118, 99), (105, 111, 118, 124)]),
    ],
)
def test_a_colon_stays_a_colon(before, dots):
    img = Image.new("L", (240, 180), 255)
    d = ImageDraw.Draw(img)
    before(d)
    for x0, y0, x1, y1 in dots:
        d.ellipse([(x0, y0), (x1, y1)], fill=0)
    d.ellipse([(130, 40), (190, 140)], outline=0, width=14)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert [s["char"] for s in r["separators"]] == [":"] and r["text"] == "3:3", r["text"]


def test_a_closed_loop_no_taller_than_the_digits_beside_it_is_no_form_box():
    # Two digits a connected hand joins into one closed loop (`08`), with a stroke inside: shaped
    # like a form box holding writing, but only as tall as the digits around it. It stays a mark;
    # taken for a box, it vanished (`508` read `5`, and `8302` read `82`, sure).
    img = Image.new("L", (420, 200), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 90)
    d.text((30, 40), "5", fill=0, font=font)
    d.rectangle([(120, 60), (190, 128)], outline=0, width=7)
    d.line([(120, 60), (160, 100)], fill=0, width=7)
    d.text((230, 40), "2", fill=0, font=font)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    x0, _, x1, _ = r["digits"][1]["box"]
    assert len(r["digits"]) == 3 and x0 <= 121 and x1 >= 189, r["digits"]


@pytest.mark.parametrize("angle", [-6, 6])
def test_dashes_are_judged_against_the_digits_beside_them_on_a_tilted_line(angle):
    # A date photographed aslant: against the whole line's median baseline, the dash at the low
    # end sits below the digits' middle (then no dash at all); against the digits beside it, at it.
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 60)
    img = Image.new("L", (760, 200), 255)
    ImageDraw.Draw(img).text((30, 60), "1960-08-06", fill=0, font=font)
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert [s["char"] for s in r["separators"]] == ["-", "-"], r["text"]
    assert r["text"] == "3333-33-33", r["text"]


def test_a_line_written_far_thinner_than_the_other_leaves_the_reading_unsure():
    # Bold digits, and below them one short stroke a third as thick (what a grid or a frame left
    # after the light was evened out): read as a second line, never as an accepted one.
    img = Image.new("L", (320, 300), 255)
    d = ImageDraw.Draw(img)
    d.text((40, 30), "58", fill=0, font=ImageFont.truetype(FONT, 90), stroke_width=5, stroke_fill=0)
    alone = read_gray(np.asarray(img, np.float64), sure_judge)
    assert alone["accepted"] and alone["text"] == "33", alone
    d.line([(100, 200), (100, 250)], fill=0, width=4)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert r["text"] == "33\n3" and not r["accepted"] and r["reason"] == "thin_line", r


def test_a_mark_the_line_model_leaves_out_leaves_the_reading_unsure():
    from mnistlab.reading.linemodel import LineReading

    img = Image.new("L", (300, 160), 255)
    d = ImageDraw.Draw(img)
    d.ellipse([(40, 30), (100, 130)], outline=0, width=14)
    d.ellipse([(115, 112), (131, 134)], fill=0)
    d.line([(126, 128), (118, 150)], fill=0, width=7)
    d.ellipse([(146, 30), (206, 130)], outline=0, width=14)
    marks_only = read_gray(np.asarray(img, np.float64), sure_judge)
    assert marks_only["text"] == "3,3", marks_only["text"]

    class SureLineModel:
        threshold = 0.9

        def read(self, crops):
            return [
                LineReading("58", 0.9999, [("5", 0.9999, (40, 30, 101, 131)), ("8", 0.9999, (146, 30, 207, 131))])
                for _ in crops
            ]

    r = read_gray(np.asarray(img, np.float64), sure_judge, SureLineModel())
    assert r["text"] == "58" and not r["accepted"] and r["reason"] == "missing_mark", r


def test_a_colon_the_line_model_leaves_out_makes_the_reading_unsure():
    from mnistlab.reading.linemodel import LineReading

    img, d = _rings()
    d.ellipse([(190, 76), (201, 86)], fill=0)
    d.ellipse([(190, 111), (201, 121)], fill=0)
    marks_only = read_gray(np.asarray(img, np.float64), sure_judge)
    assert marks_only["text"] == "33:33" and marks_only["accepted"], marks_only

    class NoColonLineModel:  # reads other digits, and not the colon (two faint dots)
        threshold = 0.9

        def read(self, crops):
            boxes = [(x, 40, x + 61, 141) for x in (30, 110, 230, 310)]
            return [LineReading("0043", 0.99, [(ch, 0.99, b) for ch, b in zip("0043", boxes)]) for _ in crops]

    # The readers differ and the line model is fairly sure: its reading is kept, never as sure
    # (under DIFFER_CONFIDENCE, and a mark the marks read is missing from it).
    r = read_gray(np.asarray(img, np.float64), sure_judge, NoColonLineModel())
    assert r["text"] == "0043" and not r["accepted"], r
    assert r["reason"] in ("missing_mark", "readers_differ"), r
    assert [dg["digit"] for dg in r["digits"]] == [0, 0, 4, 3]


def test_a_dates_separator_joined_to_a_digit_is_put_back_between_the_digits_and_the_reading_unsure():
    from mnistlab.reading.linemodel import LineReading

    xs = [30, 110, 190, 270, 380, 460, 540, 620]
    img, d = _rings(xs, width=760)
    d.ellipse([(345, 128), (357, 140)], fill=0)  # the second point; the first is joined to a digit

    class JoinedPointLineModel:  # reads the date surely, with its first point lost, as both readers do
        threshold = 0.9

        def read(self, crops):
            boxes = [(x, 40, x + 61, 141) for x in xs]
            chars = (
                [(ch, 0.9999, b) for ch, b in zip("1306", boxes[:4])]
                + [(".", 0.9999, (345, 128, 358, 141))]
                + [(ch, 0.9999, b) for ch, b in zip("2023", boxes[4:])]
            )
            return [LineReading("1306.2023", 0.9999, chars) for _ in crops]

    r = read_gray(np.asarray(img, np.float64), sure_judge, JoinedPointLineModel())
    assert r["text"] == "13.06.2023" and not r["accepted"] and r["reason"] == "separator_added", r
    points = r["separators"]
    assert [s["char"] for s in points] == [".", "."]
    # the point put back lies between the 3 and the 0 (their boxes: 110-171 and 190-251)
    assert 165 <= points[0]["box"][0] and points[0]["box"][2] <= 196, points
    assert r["lines"][0]["text"] == "13.06.2023" and len(r["digits"]) == 8


def test_a_line_of_hairlines_below_the_writing_is_left_out_and_the_reading_unsure():
    # Bold digits, and under them what a grid leaves where a shadow darkened it: short hairline
    # pieces, too short for the ruled-line search, as tall as the digits.
    img = _text_picture("58", size=60, pad=30)
    canvas = Image.new("L", (img.width, img.height + 120), 255)
    canvas.paste(img, (0, 0))
    d = ImageDraw.Draw(canvas)
    d.text((30, 30), "58", fill=0, font=ImageFont.truetype(FONT, 60), stroke_width=3, stroke_fill=0)
    for x in range(30, canvas.width - 40, 40):
        d.line([(x, img.height + 20), (x, img.height + 85)], fill=0, width=1)
        d.line([(x + 5, img.height + 20 + (x % 3) * 20), (x + 25, img.height + 20 + (x % 3) * 20)], fill=0, width=1)
    r = read_gray(np.asarray(canvas, np.float64), sure_judge)
    assert r["text"] == "33" and len(r["lines"]) == 1, r["text"]
    assert not r["accepted"] and r["reason"] == "faint_lines"
    # The same pen throughout: two lines of thin writing are both kept.
    thin = Image.new("L", (400, 260), 255)
    d = ImageDraw.Draw(thin)
    for y in (20, 140):
        d.text((30, y), "47", fill=0, font=ImageFont.truetype(FONT, 80))
    r = read_gray(np.asarray(thin, np.float64), sure_judge)
    assert len(r["lines"]) == 2 and r["accepted"], r


def test_blank_picture_reads_nothing():
    r = read_gray(np.full((50, 120), 255.0), sure_judge)
    assert r["text"] == "" and r["accepted"] is False and r["digits"] == [] and "note" in r


@pytest.mark.timeout(60)
def test_forty_megapixel_noise_is_refused_quickly(tmp_path):
    noise = (np.random.default_rng(0).random((6000, 6600)) > 0.5).astype(np.uint8) * 255
    start = time.perf_counter()
    r = read_gray(noise.astype(np.float64), sure_judge)
    seconds = time.perf_counter() - start
    assert r["text"] == "" and not r["accepted"] and "note" in r
    print(f"40 Mpixel noise answered in {seconds:.2f} s: {r['note']}")


@pytest.mark.timeout(60)
def test_a_twenty_thousand_pixel_strip_is_read():
    strip = np.full((80, 20000), 255.0)
    font = ImageFont.truetype(FONT, 56)
    for x in (500, 9000, 19000):
        glyph = Image.new("L", (60, 80), 255)
        ImageDraw.Draw(glyph).text((10, 5), "7", fill=0, font=font)
        strip[:, x : x + 60] = np.asarray(glyph, np.float64)
    r = read_gray(strip, sure_judge)
    assert len(r["digits"]) == 3
    assert r["digits"][2]["box"][0] > 18000  # boxes are in the picture's own coordinates


def test_too_many_marks_is_not_a_number():
    img = _text_picture("1" * 30, size=30, spacing=10)
    r = read_gray(np.asarray(img, np.float64), sure_judge)
    assert r["digits"] == [] and r["reason"] == "line_too_long" and "at most 20" in r["note"]


# --- with a trained reader ------------------------------------------------------------------------


def _numbers(mnist, n, gap_range, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 7))
        idx = rng.integers(0, len(mnist.y_test), k)
        # MNIST digits sit in a 28x28 box with ~4 px margins: a gap of -8 makes the ink touch.
        gaps = [int(g) for g in rng.integers(*gap_range, k - 1)]
        picture = compose_number([mnist.x_test[i].astype(np.float64) for i in idx], gaps, rng)
        out.append((picture, "".join(str(mnist.y_test[i]) for i in idx)))
    return out


def test_whole_numbers_are_read(reader_run, mnist):
    from mnistlab.reading.predictor import Predictor

    judge = Predictor(reader_run).judge
    numbers = _numbers(mnist, 40, (-6, 20), seed=1)
    exact = np.mean(["".join(str(d["digit"]) for d in read_gray(p, judge)["digits"]) == t for p, t in numbers])
    print(f"exact whole-number match {exact:.3f} on {len(numbers)} numbers")
    assert exact >= 0.8


def test_touching_digits_are_split_by_the_classifier(reader_run, mnist):
    from mnistlab.reading.predictor import Predictor

    judge = Predictor(reader_run).judge
    numbers = _numbers(mnist, 30, (-11, -8), seed=2)  # every pair of neighbours touches or overlaps
    counts = [len(read_gray(p, judge)["digits"]) == len(t) for p, t in numbers]
    exact = np.mean(["".join(str(d["digit"]) for d in read_gray(p, judge)["digits"]) == t for p, t in numbers])
    print(f"touching: right digit count {np.mean(counts):.3f}, exact {exact:.3f}")
    assert np.mean(counts) >= 0.7 and exact >= 0.6


def test_one_digit_reads_the_same_as_predict(reader_run, mnist, tmp_path):
    from mnistlab.batch.many import ReadOptions, read_many
    from mnistlab.reading.predictor import predict_files

    paths = []
    for i in range(25):
        p = tmp_path / f"d{i}.png"
        Image.fromarray(255 - mnist.x_test[i]).resize((84, 84)).save(p)
        paths.append(str(p))
    predicted = predict_files(reader_run, paths)
    read = list(read_many(paths, ReadOptions(run=str(reader_run.path)), jobs=1))
    for p, r in zip(predicted, read, strict=True):
        assert len(r["digits"]) == 1
        assert r["digits"][0]["digit"] == p["digit"]
        assert r["digits"][0]["confidence"] == p["confidence"]
        assert r["digits"][0]["accepted"] == p["accepted"]


def test_read_cli_json_annotate_and_errors(reader_run, mnist, tmp_path):
    rng = np.random.default_rng(3)
    picture = compose_number([mnist.x_test[i].astype(np.float64) for i in (0, 1, 2)], [6, 6], rng)
    Image.fromarray(picture.astype(np.uint8)).save(tmp_path / "n.png")
    Image.new("L", (60, 40), 255).save(tmp_path / "blank.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    res = run_cli(
        "read",
        reader_run.path,
        tmp_path / "n.png",
        tmp_path / "blank.png",
        tmp_path / "junk.png",
        "--json",
        "--annotate",
        tmp_path / "ann",
    )
    assert res.returncode == 1, res.stderr  # one file failed, the others were read
    out = {r["file"].rsplit("/", 1)[-1]: r for r in json.loads(res.stdout)}
    n = out["n.png"]
    assert set(n) >= {"file", "text", "accepted", "digits"}
    assert n["text"] == "721" and all(set(d) == {"digit", "confidence", "accepted", "box"} for d in n["digits"])
    assert out["blank.png"]["text"] == "" and out["blank.png"]["accepted"] is False
    assert "not an image" in out["junk.png"]["error"]
    assert (tmp_path / "ann" / "n.read.png").exists()
    human = run_cli("read", reader_run.path, tmp_path / "n.png")
    assert human.returncode == 0 and "n.png: 721  (read, lowest confidence" in human.stdout
    missing = run_cli("read", reader_run.path, tmp_path / "nope.png")
    assert missing.returncode == 2 and "nope.png: error: does not exist" in missing.stderr and not missing.stdout
    assert "Traceback" not in missing.stderr
    nothing = run_cli("read", reader_run.path, str(tmp_path / "*.tiff"))
    assert nothing.returncode == 2 and "matches no file" in nothing.stderr and "Traceback" not in nothing.stderr


def _star(size, radius, width):
    import math

    from PIL import Image, ImageDraw

    img = Image.new("L", size, 240)
    cx, cy = size[0] / 2, size[1] / 2
    pts = [
        (cx + radius[0] * math.cos(math.radians(-90 + 144 * k)), cy + radius[1] * math.sin(math.radians(-90 + 144 * k)))
        for k in range(6)
    ]
    ImageDraw.Draw(img).line(pts, fill=20, width=width)
    return np.asarray(img)


def test_a_reading_that_is_not_sure_says_why_in_words_a_user_can_act_on():
    """One reason a reading, a stable key and its sentence: what was seen, then what to do."""
    import mnistlab as ml
    from mnistlab.reading.reasons import REASONS
    from scenes import sheet

    cut = sheet(["48638"])[:, 40:-90]  # the last digit runs off the picture's right edge
    close = _star((400, 300), (190, 148), 14)  # one mark from edge to edge: the sheet taken too close
    lone = _star((400, 300), (60, 60), 8)
    blank = np.full((200, 300), 230.0)
    got = {
        name: ml.read(pic)[0]
        for name, pic in {"cut": cut, "close": close, "lone": lone, "blank": blank, "sure": sheet(["2026"])}.items()
    }
    assert got["sure"]["accepted"] and "reason" not in got["sure"] and "note" not in got["sure"]
    expected = {"cut": "cut_off", "close": "too_close", "lone": "not_a_digit", "blank": "no_ink"}
    for name, reason in expected.items():
        r = got[name]
        assert not r["accepted"] and r["reason"] == reason and r["note"] == REASONS[reason], (name, r)
        assert ": " in r["note"]  # what was seen: what to do
    assert got["cut"]["text"].startswith("4863")  # read, but not vouched for
