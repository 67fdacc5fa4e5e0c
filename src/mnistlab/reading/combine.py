"""Two readings of one line, one answer: the digit-by-digit reading of its marks (the segmenter) and
the line model's reading of the whole line (`linemodel`).

`choose` says which reading a line keeps and how sure it may be; `read.read_gray` applies it. Every
rule and number here was chosen on development pictures (MNIST validation digits in training fonts,
photo seeds 777-779), never on the benchmark's.
"""

from __future__ import annotations

import re

from mnistlab.reading import fields, marks

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
# read at SEGMENTER_SURE or more: the marks' reading is kept (unsure, as every disagreement is).
LINE_UNSURE = 0.8
SEGMENTER_SURE = 0.8
# The line model's reading is the marks' with one character left out (CTC joins a repeated digit,
# "11" -> "1", and loses a narrow mark: a dot, a 1), the character left out is a mark of its own
# (not a digit cut from a wider mark: a 1 with a foot cut in two is the marks' mistake), and every
# digit of the marks is read at MARKS_KEEP or more: the marks' reading is kept (unsure). On 1,100
# development photos (seeds 777-780) 5 lines read so: the 3 with every mark at 0.997 or more were
# the marks' right, the 2 at 0.93 and under the line model's (one of them a 1 cut in two).
MARKS_KEEP = 0.99

SOURCES = (
    "segmenter",
    "line",
    "agree",
    "agree, with the line model's slashes",
    "not a digit",
    "line misses digits",
    "segmenter over an unsure line model",
    "line leaves out a mark",
    "marks read a time or date",
    "line, with the marks' colon",
)


def choose(seg_text: str, seg_least: float, lm, mode: str, cut=frozenset()) -> str:
    """Which reading of a line to keep (one of SOURCES), from the marks' text (a "?" for a mark read
    as no digit), their least digit confidence, the line model's reading `lm` (`.text`,
    `.confidence`) or None, and where in the marks' text a digit was cut from a wider mark (`cut`).

    - "agree": both read the line alike; "agree, with the line model's slashes": alike but for "/"
      against "1", and the line model's slashes make a day/month/year date.
    - "not a digit": the line model reads a mark that is no digit (the line stays unsure).
    - "line misses digits": the line model reads separators only where the marks hold digits (a
      lone 1 beside a dash): the marks', unsure.
    - "segmenter over an unsure line model": they differ, the line model is unsure and every mark
      is surely a digit: the marks', unsure.
    - "line leaves out a mark": the line model's text is the marks' with one character left out,
      a mark of its own (not in `cut`), and every mark is read at MARKS_KEEP or more: the marks',
      unsure.
    - "line, with the marks' colon": the line model reads no colon where the marks read one (`0043`
      against `?:43`: a colon of two faint dots), and with the colon put back where the marks have
      it, the line is a possible time: the line model's digits with the marks' colon, unsure.
    - "marks read a time or date": the marks read a possible time or date (`fields.a_time_or_date`:
      `22:04`), the line model no time or date at all (`22204`: the colon read as
      a 2): the marks', unsure.
      None of these three keeps the marks' reading where it is an impossible time or date (day 93,
      year 4954: `fields.possible`) and the line model's is a possible one, nor where it is no time
      or date at all and the line model's a possible one (`122:471` against `22:47`).
    - "line": otherwise, where they differ, the line model's (sure only at `line_bar`); also where
      they differ only in a point against a comma, even with the line model unsure (on 1,900
      development photos the line model's was right all 8 times they did), and where the line
      model reads a price whose point or comma the marks lost (`_point_added`).
      Keeping a *sure* digit-by-digit reading over an unsure line model as an accepted answer was
      measured: 0.3 points more numbers exact, but accepted-but-wrong 0.3% -> 0.7% of numbers and
      0% -> 1% of photos.
    """
    if lm is None or mode == "segmenter" or not lm.text:
        return "segmenter"
    if "?" in lm.text:
        return "not a digit"
    if mode == "line":
        return "line"
    if not any(ch.isdigit() for ch in lm.text) and any(ch.isdigit() for ch in seg_text):
        return "line misses digits"
    if lm.text == seg_text:
        return "agree"
    if _apart_only_in(seg_text, lm.text, {"/", "1"}):
        # The digits agree, and whether a stroke is a slash is left to the shape rule
        # (`marks.STEEP_SLASH`: steeper than 99.9% of MNIST's 1s, or a date's place), which the line
        # model, trained on few slanted 1s beside slashes, does not know as well (a slanted MNIST 1
        # in "7210" came out as "72/0"). The shape rule decides, except where the line model's
        # slashes make the line a date and the shape rule saw 1s (a printed slash as upright as a
        # 1): then the line model's text.
        return "agree, with the line model's slashes" if _a_date(lm.text) else "agree"
    if _colon_left_out(seg_text, lm.text):
        return "line, with the marks' colon"
    if not fields.possible(seg_text) and fields.possible(lm.text):
        return "line"  # the marks read an impossible time or date (day 93), the line model a possible one
    if fields.a_time_or_date(lm.text) and not fields.laid_out(seg_text):
        return "line"  # the line model reads a possible time or date, the marks none (`122:471` for `22:47`)
    if _apart_only_in(seg_text, lm.text, {".", ","}):
        return "line"  # a point against a comma: the line model tells them apart better (8 of 8 seen)
    if _point_added(seg_text, lm.text):
        return "line"  # a price's point or comma, too small a mark for the marks to keep
    if (
        "?" not in seg_text
        and any(ch.isdigit() for ch in seg_text)
        and lm.confidence < LINE_UNSURE
        and seg_least >= SEGMENTER_SURE
    ):
        return "segmenter over an unsure line model"
    if "?" not in seg_text and seg_least >= MARKS_KEEP and _one_left_out(seg_text, lm.text, cut):
        return "line leaves out a mark"
    if fields.a_time_or_date(seg_text) and not fields.laid_out(lm.text):
        return "marks read a time or date"
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


def _a_date(text: str) -> bool:
    """Whether `text` is day/month/year: groups of digits sized as `marks.DATE_GROUPS` says."""
    parts = text.split("/")
    return len(parts) == len(marks.DATE_GROUPS) and all(
        p.isdigit() and len(p) in sizes for p, sizes in zip(parts, marks.DATE_GROUPS, strict=True)
    )


PRICE = re.compile(r"^-?\d+[.,]\d\d$")


def _point_added(seg_text: str, lm_text: str) -> bool:
    """Whether the line model reads a price (`12.50`, `3,99`) that is the marks' digits with a point
    or comma put in before the last two. The marks lose such a dot where it is smaller than
    anything they keep (`47814` for `478.14`). On 1,900 development photos the line model read so
    11 times: right 10 times, and the marks never (the 11th, a time written `13.41`, neither);
    where it put a point or comma anywhere else (`9,1`, `4,920`, `.25`), the marks were right 9
    times of 10."""
    return PRICE.match(lm_text) is not None and lm_text[:-3] + lm_text[-2:] == seg_text


def _apart_only_in(seg_text: str, lm_text: str, pair: set[str]) -> bool:
    """The two readings differ, and only where one has one character of `pair` and the other the
    other."""
    return (
        len(seg_text) == len(lm_text)
        and seg_text != lm_text
        and all(a == b or {a, b} == pair for a, b in zip(seg_text, lm_text))
    )


def colon_back(seg_text: str, lm_text: str) -> str:
    """The line model's text with the marks' one colon put back where the marks have it, counted
    from the line's end (the minutes: the marks may read two joined digits before it as one "?")."""
    k = len(lm_text) - (len(seg_text) - seg_text.index(":") - 1)
    return lm_text[:k] + ":" + lm_text[k:]


def _colon_left_out(seg_text: str, lm_text: str) -> bool:
    """Whether the line model reads no colon where the marks read one (its digits may differ), and
    with that colon put back, the line is a possible time."""
    if seg_text.count(":") != 1 or ":" in lm_text:
        return False
    return fields.a_time_or_date(colon_back(seg_text, lm_text))


def _one_left_out(seg_text: str, lm_text: str, cut=frozenset()) -> bool:
    """Whether `lm_text` is `seg_text` with exactly one character left out, one not at a place in `cut`."""
    return len(seg_text) == len(lm_text) + 1 and any(
        seg_text[:k] + seg_text[k + 1 :] == lm_text for k in range(len(seg_text)) if k not in cut
    )
