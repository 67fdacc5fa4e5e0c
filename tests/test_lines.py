"""The line model: strips, CTC decoding, alignment boxes, synthetic lines, and how `read` uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnistlab.data import strip as strip_mod
from mnistlab.data.strip import BLANK, STRIDE, VOCAB, decode, to_strip
from mnistlab.reading.linemodel import LineModel

DATA = Path(__file__).parent / "data"


def _probs(path: str, sure: float = 0.999) -> np.ndarray:
    """Per-step probabilities spelling `path` ("_" is blank)."""
    out = np.full((len(path), len(VOCAB) + 1), (1 - sure) / len(VOCAB), np.float32)
    for t, ch in enumerate(path):
        out[t, BLANK if ch == "_" else VOCAB.index(ch) + 1] = sure
    return out


def test_decode_merges_repeats_and_blanks_separate_them():
    chars, _ = decode(_probs("_11__1_2.55_"))
    assert "".join(c.char for c in chars) == "112.5"
    chars, _ = decode(_probs("5_5"))
    assert "".join(c.char for c in chars) == "55"


def test_decode_spans_and_confidence():
    p = _probs("__77_/_")
    p[5] = 0.0
    p[5, VOCAB.index("/") + 1] = 0.6
    p[5, BLANK] = 0.4
    chars, least = decode(p)
    assert [c.char for c in chars] == ["7", "/"]
    assert (chars[0].x0, chars[0].x1) == (2 * STRIDE, 4 * STRIDE)  # two steps of one 7
    assert chars[1].confidence == pytest.approx(0.6)  # the close call is the slash's
    assert chars[0].confidence == pytest.approx(0.999)
    assert least == pytest.approx(0.6)


def test_a_character_that_nearly_appeared_lowers_its_neighbour():
    p = _probs("_7___3_")
    p[3] = 0.0
    p[3, BLANK], p[3, VOCAB.index("1") + 1] = 0.7, 0.3  # a "1" almost written between 7 and 3
    p[1 + 1] = 0.0
    p[2, BLANK], p[2, VOCAB.index("7") + 1] = 0.5, 0.5  # the 7 merely reaching one step further
    chars, least = decode(p)
    assert "".join(c.char for c in chars) == "73"
    assert chars[0].confidence == pytest.approx(0.7, abs=1e-6)  # nearest to the almost-1
    assert chars[1].confidence == pytest.approx(0.999)
    assert least == pytest.approx(0.7, abs=1e-6)


def test_decode_of_nothing():
    chars, _ = decode(_probs("_____"))
    assert chars == []


def test_to_strip_scales_the_ink_to_a_fixed_height():
    ink = np.zeros((100, 300), np.float32)
    ink[20:68, 50:146] = 1.0  # 48 rows, 96 columns of ink
    strip, scale, offset = to_strip(ink)
    assert strip.shape == (strip_mod.HEIGHT, 96 // 2 + 2 * strip_mod.MARGIN)
    assert scale == pytest.approx(0.5) and offset == 50
    rows = np.flatnonzero(strip.max(axis=1) > 0)
    assert rows[0] == (strip_mod.HEIGHT - strip_mod.INK_HEIGHT) // 2 and len(rows) == strip_mod.INK_HEIGHT
    assert to_strip(np.zeros((10, 10))) is None


class _FixedSession:
    """Stands in for onnxruntime: returns the logits it was given."""

    def __init__(self, logits):
        self.logits = logits

    def run(self, _names, feeds):
        (x,) = feeds.values()
        return [np.repeat(self.logits[None], len(x), axis=0)[:, : x.shape[2] // STRIDE]]


def test_alignment_boxes_follow_the_ink():
    # Two blobs of ink, the first at columns 10-40, the second at 70-100 (rows 5-45).
    ink = np.zeros((50, 110), np.float32)
    ink[5:45, 10:40] = 1.0
    ink[10:45, 70:100] = 1.0
    strip, scale, offset = to_strip(ink)
    steps = strip.shape[1] // STRIDE
    # A "4" peaking over the first blob's middle and a "2" over the second's.
    path = ["_"] * steps
    for x, ch in ((25, "4"), (85, "2")):
        path[int(((x - offset) * scale + strip_mod.MARGIN) // STRIDE)] = ch
    logits = np.log(_probs("".join(path)))
    model = LineModel.__new__(LineModel)
    model.session, model.input, model.threshold = _FixedSession(logits), "strip", 0.9
    (reading,) = model.read([(ink, 1000, 2000)])
    assert reading.text == "42"
    (_c1, _, b1), (_c2, _, b2) = reading.chars
    assert b1 == (1010, 2005, 1040, 2045)
    assert b2 == (1070, 2010, 1100, 2045)


def test_synthetic_lines_are_deterministic_and_labelled():
    from mnistlab.data.lines import Sources, encode, make_lines

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (50, 28, 28)).astype(np.uint8)
    x[:, :4] = 0
    y = np.arange(50) % 10
    src = Sources(x, y, [])
    a, ta = make_lines(12, 5, src)
    b, tb = make_lines(12, 5, src)
    assert ta == tb and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert all(s.shape[0] == strip_mod.HEIGHT for s in a)
    assert all(set(t) <= set(VOCAB) for t in ta)
    codes = encode(["12", "3.4"])
    assert codes.tolist() == [[2, 3, 0], [4, VOCAB.index(".") + 1, 5]]


def test_a_coarse_scan_is_a_blocky_wide_digit_of_the_lines_height():
    from mnistlab.data.lines import _coarse

    one = np.full((20, 3), 255.0)  # a thin upright stroke, trimmed as lines trim their digits
    for seed in range(20):
        g = _coarse(one, 48, np.random.default_rng(seed), cut=100.0)
        assert g is not None and g.shape[0] <= 48 and g.max() == 255
        assert g.shape[1] / g.shape[0] > 3 / 20  # size-normalised: wider than it was written
    assert _coarse(np.zeros((20, 3)), 48, np.random.default_rng(0), cut=100.0) is None


def test_accept_threshold_keeps_accepted_lines_right():
    from mnistlab.training.lines import accept_threshold

    conf = np.array([0.99, 0.98, 0.97, 0.6, 0.95, 0.5])
    right = np.array([True, True, True, False, True, False])
    assert accept_threshold(conf, right, 0.0) == pytest.approx(0.95)
    assert accept_threshold(conf, right, 0.5) == 0.0


def test_bundled_reader_ships_a_line_model():
    from mnistlab.api import bundled_path
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    pred = Predictor(open_run(bundled_path()))
    assert pred.lines is not None and 0.0 < pred.lines.threshold <= 1.0
    assert Predictor(open_run(bundled_path()), lines="off").lines is None


def test_a_damaged_line_model_is_refused(tmp_path):
    import shutil

    from mnistlab.api import bundled_path
    from mnistlab.errors import MnistlabError

    line = tmp_path / "line"
    shutil.copytree(bundled_path() / "line", line)
    data = bytearray((line / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (line / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(MnistlabError, match="does not match its record"):
        LineModel(line)


def test_touching_pair_the_segmenter_misreads():
    """Two handwritten digits written into each other: cut apart they are misread, whole they are not."""
    from mnistlab.api import bundled_path
    from mnistlab.images import load_gray_file
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    picture = load_gray_file(DATA / "touching-pair.png")
    truth = (DATA / "touching-pair.txt").read_text().strip()
    run = open_run(bundled_path())
    segmenter = Predictor(run, mode="segmenter").read(picture)
    combined = Predictor(run).read(picture)
    assert segmenter["text"] != truth
    assert combined["text"] == truth and combined["accepted"]
    assert len(combined["digits"]) == len(truth)
    xs = [d["box"][0] for d in combined["digits"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_read_cli_modes(tmp_path):
    from mnistlab.cli import main

    assert main(["read", str(DATA / "touching-pair.png"), "--mode", "line", "--json"]) == 0
    assert main(["read", str(DATA / "touching-pair.png"), "--lines", "off"]) == 0
    assert main(["read", str(DATA / "touching-pair.png"), "--lines", str(tmp_path)]) == 2


@pytest.mark.timeout(600)
def test_a_small_line_run_trains_reads_reports_and_exports(tmp_path, mnist):
    """`--preset line` end to end, small: a run with curves, a threshold, a verified ONNX model."""
    import json

    from mnistlab.cli import main
    from mnistlab.models.presets import Recipe, get_preset
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.lines import GENERATOR_VERSION
    from mnistlab.training.train import train

    recipe = Recipe.from_dict(get_preset("line").recipe.to_dict())
    recipe.lines, recipe.epochs, recipe.negatives = 600, 2, 50
    run = train(TrainOptions(preset="line", out=str(tmp_path / "line"), verbose=0), recipe=recipe)
    assert run.is_line and run.is_complete
    history = json.loads((run.path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and all("val_exact" in h and "val_cer" in h for h in history)
    metrics = run.metrics
    assert metrics["kind"] == "line" and 0 <= metrics["test_exact"] <= 1 and metrics["test_lines"] == 200
    info = json.loads((run.path / "line.json").read_text())
    assert info["vocab"] == VOCAB and 0 <= info["threshold"] <= 1
    record = json.loads((run.path / "model.onnx.json").read_text())
    assert record["argmax_agreement"] == 1.0 and record["checked"] > 0
    assert (run.path / "plots" / "curves.png").stat().st_size > 0
    assert config_fonts(run)
    generator = json.loads((run.path / "config.json").read_text())["generator"]
    assert generator == {"lines": GENERATOR_VERSION}  # which way the lines were drawn, beside the fonts
    # Usable beside a classifier, refused in its place, reported, exported.
    assert main(["read", str(DATA / "touching-pair.png"), "--lines", str(run.path), "--json"]) == 0
    assert main(["read", str(run.path), str(DATA / "touching-pair.png")]) == 2
    assert main(["evaluate", str(run.path)]) == 0
    assert main(["report", str(run.path)]) == 0 and (run.path / "report.html").exists()
    assert main(["export", str(run.path), "--format", "onnx"]) == 0
    meta = json.loads((run.path / "export" / "line.onnx.json").read_text())
    assert meta["kind"] == "line" and meta["accept_threshold"] == info["threshold"]
    assert main(["export", str(run.path), "--format", "tflite"]) == 2


def config_fonts(run) -> bool:
    import json

    cfg = json.loads((run.path / "config.json").read_text())
    return cfg["recipe"]["lines"] == 600 and "synthetic_fonts" in cfg


def test_edit_distance():
    from mnistlab.data.strip import edit_distance

    assert edit_distance("26/11/2026", "26/11/2026") == 0
    assert edit_distance("2611", "26/11") == 1
    assert edit_distance("123", "") == 3 and edit_distance("7210", "72/0") == 1


@pytest.mark.parametrize("text, chars", [("26/11/2026", "//"), ("12.50", "."), ("10:45", ":"), ("-3", "-")])
def test_the_line_model_alone_reads_separators_with_their_boxes(text, chars):
    """Separators come out of the CTC decoding too, each with its own box between the digits'."""
    from mnistlab.api import bundled_path
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run
    from scenes import sheet

    r = Predictor(open_run(bundled_path()), mode="line").read(np.asarray(sheet([text]), np.float64))
    assert r["text"] == text and r["accepted"], r
    assert "".join(s["char"] for s in r["separators"]) == chars
    assert len(r["digits"]) == sum(ch.isdigit() for ch in text)
    for s in r["separators"]:
        assert not any(d["box"][0] <= s["box"][0] < d["box"][2] for d in r["digits"])


def test_where_the_readers_differ_the_surer_reader_is_kept_and_the_line_stays_unsure():
    from types import SimpleNamespace

    from mnistlab.reading import combine

    unsure_line = SimpleNamespace(text="93/02/2035", confidence=combine.LINE_UNSURE - 0.1)
    sure_line = SimpleNamespace(text="93/02/2035", confidence=combine.LINE_UNSURE + 0.1)
    sure_marks, unsure_marks = combine.SEGMENTER_SURE + 0.05, combine.SEGMENTER_SURE - 0.05
    assert combine.choose("13/02/2035", sure_marks, unsure_line, "combined") == "segmenter over an unsure line model"
    assert combine.choose("13/02/2035", unsure_marks, unsure_line, "combined") == "line"
    assert combine.choose("13/02/2035", sure_marks, sure_line, "combined") == "line"
    # A mark the classifier would not call a digit is no sure reading of the marks.
    assert combine.choose("?3/02/2035", sure_marks, unsure_line, "combined") == "line"
    # Separators alone are no reading of the marks' digits to keep.
    assert combine.choose("-", sure_marks, SimpleNamespace(text="-1", confidence=0.5), "combined") == "line"
    # Alike, a mark the line model calls no digit, no line model, and the modes that keep one reader.
    assert combine.choose("13/02/2035", sure_marks, SimpleNamespace(text="13/02/2035", confidence=0.5), "combined") == (
        "agree"
    )
    assert combine.choose("13", sure_marks, SimpleNamespace(text="1?", confidence=0.99), "combined") == "not a digit"
    assert combine.choose("13", sure_marks, None, "combined") == "segmenter"
    assert combine.choose("13", sure_marks, SimpleNamespace(text="", confidence=0.99), "combined") == "segmenter"
    assert combine.choose("13/02/2035", sure_marks, unsure_line, "line") == "line"
    assert combine.choose("13/02/2035", sure_marks, sure_line, "segmenter") == "segmenter"


def test_a_disagreement_is_sure_only_at_a_higher_bar_and_an_agreement_needs_both_readers():
    from mnistlab.reading import combine

    # Where the marks read digits otherwise, the line model must be surer than its own threshold;
    # where they read no digit at all (one blob the classifier rejects), its threshold stands.
    assert combine.line_bar(0.97, "combined", marks_read=True) == combine.DIFFER_CONFIDENCE > 0.97
    assert combine.line_bar(0.97, "combined", marks_read=False) == 0.97
    assert combine.line_bar(0.97, "line", marks_read=True) == 0.97
    # Alike: sure when the line model is sure, or when every digit read one by one is.
    assert combine.agreement_sure(combine.AGREE_CONFIDENCE, 0.0)
    assert not combine.agreement_sure(combine.AGREE_CONFIDENCE - 0.01, combine.AGREE_MARKS - 0.01)
    assert combine.agreement_sure(0.5, combine.AGREE_MARKS)


def _chars(text, runner_up=None):
    """Characters as the decoder gives them: each sure of itself, `runner_up` {position: (digit, p)}."""
    from mnistlab.data.strip import Char

    out = []
    for i, ch in enumerate(text):
        digits = np.full(10, 0.0005)
        if ch.isdigit():
            digits[int(ch)] = 0.95
        if runner_up and i in runner_up:
            d, p = runner_up[i]
            digits[d] = p
        out.append(Char(ch, 0.95, 4 * i, 4 * i + 4, digits))
    return out


def test_a_dates_lost_separator_is_found_only_where_one_place_makes_a_date_with_a_four_digit_year():
    from mnistlab.reading.fields import separator_lost

    assert separator_lost("1306.2023") == (2, ".")
    assert separator_lost("27.121983") == (5, ".")
    assert separator_lost("195504-12") == (4, "-")
    assert separator_lost("03/032009") == (5, "/")
    # a price, a two-digit year, a complete date, no separator, an impossible date, a "?", a colon
    for text in ("145.80", "1306.20", "12.12.1983", "13062023", "1336.2023", "13?6.2023", "1306:2023"):
        assert separator_lost(text) is None, text


def test_times_and_dates_out_of_range_take_the_likeliest_possible_digits():
    from mnistlab.reading.fields import make_possible

    chars = _chars("47:28", {0: (1, 0.04), 1: (2, 0.01)})  # a 1 read as a 4: hour 47
    assert make_possible(chars)
    assert "".join(c.char for c in chars) == "17:28"
    assert chars[0].confidence == pytest.approx(0.04)  # the changed digit keeps its own probability
    chars = _chars("07/41/2019", {3: (1, 0.03)})
    assert make_possible(chars) and "".join(c.char for c in chars) == "07/11/2019"
    chars = _chars("1967-40-08", {5: (1, 0.02)})
    assert make_possible(chars) and "".join(c.char for c in chars) == "1967-10-08"
    # A four-digit year lies in 1000-2999: a flagged 1 read as a 4 makes none.
    chars = _chars("19/03/4968", {6: (1, 0.05)})
    assert make_possible(chars) and "".join(c.char for c in chars) == "19/03/1968"
    chars = _chars("4954-05-27", {0: (1, 0.02)})
    assert make_possible(chars) and "".join(c.char for c in chars) == "1954-05-27"
    chars = _chars("19.03.68")  # a two-digit year is any
    assert not make_possible(chars)
    # Possible ones, and lines that are neither a time nor a date, are left alone.
    for text in ("23:59", "31.12.1999", "2026-11-26", "01/02/2999", "1000-01-01", "4728", "47.28", "-47"):
        chars = _chars(text)
        assert not make_possible(chars) and "".join(c.char for c in chars) == text
    # No runner-up likely enough makes it possible: unchanged.
    chars = _chars("99:99")
    assert not make_possible(chars) and "".join(c.char for c in chars) == "99:99"
