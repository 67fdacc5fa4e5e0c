"""Two readings of one line, one answer: the digit-by-digit reading of its marks (the segmenter) and
the line model's reading of the whole line (`linemodel`).

`choose` says which reading a line keeps and how sure it may be; `read.read_gray` applies it. Which of
this and the photo line model's reading of the whole picture is kept is learned (`verdict`).

The rules here were chosen on development pictures, never on the benchmark's. Six more, each a
special case of a disagreement (the line model's slashes where they make a date, a colon, a price's
point, a time or date one reader reads and the other does not, a mark the line model leaves out, a
line model that reads separators only), were removed on 2026-12-06: on 600 calibration photos
(`tools/fit_verdict.py`'s seed) the reader without them read 92.2% against 91.8% (63.5% sure against
63.2%, 0.17% sure but wrong either way), on 300 calibration numbers 97.0% against 97.3%; together
they fired on 7 of 900 lines.
"""

from __future__ import annotations

# Both readers read a line alike: sure when the line model is at least AGREE_CONFIDENCE sure or every
# digit is read at AGREE_MARKS or more. The readers differ and the line model's reading is kept: sure
# only at DIFFER_CONFIDENCE (or the model's own threshold, if higher) where the marks read some digit
# otherwise. With the line model of 2026-11-26 (coarse scans in its lines), on 800 development photos
# (seeds 777-779), accepted-but-wrong went 10 -> 3 photos, 69% -> 58% of photos accepted (digits at
# 0.9 instead of 0.98: 4 wrong, 59.5%); checked on 300 more (seed 780): 6 -> 3 wrong, 75% -> 63%.
AGREE_CONFIDENCE = 0.96
AGREE_MARKS = 0.98
DIFFER_CONFIDENCE = 0.999
# The readers differ, the line model is less sure than LINE_UNSURE and every digit of the marks is
# read at SEGMENTER_SURE or more: the marks' reading is kept (unsure, as every disagreement is). On
# the calibration photos it fired on 14 of 600 photos, and the reader without it read 3 fewer.
LINE_UNSURE = 0.8
SEGMENTER_SURE = 0.8

SOURCES = ("segmenter", "line", "agree", "not a digit", "segmenter over an unsure line model")


def choose(seg_text: str, seg_least: float, lm, mode: str) -> str:
    """Which reading of a line to keep (one of SOURCES), from the marks' text (a "?" for a mark read
    as no digit), their least digit confidence, and the line model's reading `lm` (`.text`,
    `.confidence`) or None.

    - "segmenter": no line model's reading (or `mode` "segmenter");
    - "not a digit": the line model reads a mark that is no digit (the line stays unsure);
    - "agree": both read the line alike;
    - "segmenter over an unsure line model": they differ, the line model is unsure and every mark is
      surely a digit: the marks', unsure;
    - "line": otherwise (and always in `mode` "line"), the line model's, sure only at `line_bar`.
    """
    if lm is None or mode == "segmenter" or not lm.text:
        return "segmenter"
    if "?" in lm.text:
        return "not a digit"
    if mode == "line":
        return "line"
    if lm.text == seg_text:
        return "agree"
    if (
        "?" not in seg_text
        and any(ch.isdigit() for ch in seg_text)
        and lm.confidence < LINE_UNSURE
        and seg_least >= SEGMENTER_SURE
    ):
        return "segmenter over an unsure line model"
    return "line"


def agreement_sure(line_confidence: float, marks_least: float) -> bool:
    """Whether a line both readers read alike is a sure reading (`marks_least`: the least confidence
    of its digits read one by one, 0 where a mark is no accepted digit)."""
    return line_confidence >= AGREE_CONFIDENCE or marks_least >= AGREE_MARKS


def line_bar(threshold: float, mode: str, marks_read: bool) -> float:
    """How sure the line model must be for its reading of a line to be accepted: its own threshold
    alone (`mode` "line", or where the marks read no digit at all: two digits written into one blob
    that the classifier rejects), or, where the marks read the line otherwise, DIFFER_CONFIDENCE."""
    return threshold if mode == "line" or not marks_read else max(threshold, DIFFER_CONFIDENCE)
