"""Two readings of the lines the detector found -> the one `read` answers with, and whether it is sure.

The marks' reading (`read._read_found`: the picture normalised to the found lines, its marks cut
and judged by the digit classifier and the ink line model) and the photo line model's
(`photoread.read_found`: each found line cut out of the photo and read whole) are made apart, by
different means. What they show together (`features`: whether they agree, whether each is sure, how
sure the least sure character of each is, whether each holds a non-digit, whether they find as
many lines, and where they agree, how sure the less and the more sure of them is) goes into two
logistic models, one for each reading: the probability that it is right.
The likelier reading is kept, and it is sure only when that probability reaches the accept level.

The weights are learned (`tools/fit_verdict.py`) on development photos drawn with a seed of their
own (never the field photos, never the photos a bench reports), synthetic pages and composed numbers
of held-out digits; the accept level is the lowest at which those development photos were accepted
but wrong at most 0.25% of the time. Both are kept in `verdict.json` beside the photo line model.
Without a `verdict.json` the photo model's reading is kept only where the two agree or it is sure
and the marks' is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.reading import reasons

FEATURES = (
    "bias",
    "agree",
    "marks_sure",
    "photo_sure",
    "marks_conf",
    "photo_conf",
    "marks_nondigit",
    "photo_nondigit",
    "same_lines",
    "length_gap",
    "agree_low",
    "agree_high",
)
CLIP = 7.0  # confidences enter as logits, clipped to +-CLIP


def _logit(p: float) -> float:
    p = float(np.clip(p, 1e-6, 1 - 1e-6))
    return float(np.clip(np.log(p / (1 - p)), -CLIP, CLIP))


def features(marks: dict, photo: dict) -> np.ndarray:
    """What the two readings show together, in the order of FEATURES."""
    mc = min((d["confidence"] for d in marks["digits"]), default=0.0)
    pc = min((line.get("confidence", 0.0) for line in photo["lines"]), default=0.0)
    mt, pt = marks["text"], photo["text"]
    agree = float(bool(mt) and mt == pt)
    return np.array(
        [
            1.0,
            agree,
            float(bool(marks["accepted"])),
            float(bool(photo["accepted"])),
            _logit(mc),
            _logit(pc),
            float("?" in mt or not mt),
            float("?" in pt or not pt),
            float(len(marks["lines"]) == len(photo["lines"])),
            float(min(abs(len(mt) - len(pt)), 5)),
            agree * min(_logit(mc), _logit(pc)),  # where both read alike: the less sure of the two
            agree * max(_logit(mc), _logit(pc)),  # ... and the surer
        ]
    )


class Verdict:
    """The learned weights (one row for the marks' reading, one for the photo's) and accept level."""

    def __init__(self, marks_w, photo_w, accept: float):
        self.marks_w, self.photo_w, self.accept = np.asarray(marks_w, float), np.asarray(photo_w, float), accept

    @classmethod
    def load(cls, path: Path) -> Verdict | None:
        """`verdict.json` in a photo line run's folder; None where there is none."""
        f = Path(path) / "verdict.json"
        if not f.is_file():
            return None
        try:
            info = json.loads(f.read_text())
            marks_w, photo_w, accept = info["marks"], info["photo"], float(info["accept"])
            if (
                list(info["features"]) != list(FEATURES)
                or len(marks_w) != len(FEATURES)
                or len(photo_w) != len(FEATURES)
            ):
                raise ValueError("features")
            if not 0.0 <= accept <= 1.0:
                raise ValueError("accept")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MnistlabError(
                f"{f} is damaged or from another mnistlab ({exc}): re-fit it with tools/fit_verdict.py"
            ) from None
        return cls(marks_w, photo_w, accept)

    def probabilities(self, marks: dict, photo: dict) -> tuple[float, float]:
        """(P(the marks' reading is right), P(the photo's is right))."""
        x = features(marks, photo)
        return float(1 / (1 + np.exp(-x @ self.marks_w))), float(1 / (1 + np.exp(-x @ self.photo_w)))


def choose(marks: dict, photo: dict, verdict: Verdict | None = None) -> dict:
    """The reading `read` answers with: the marks' (`read._read_found`) or the photo line model's
    (`photoread.read_found`), with "accepted" and, where it is not, "reason" and "note" set."""
    if not photo["lines"]:
        return marks
    if verdict is None:
        agree = bool(marks["text"]) and marks["text"] == photo["text"] and "?" not in marks["text"]
        if agree:
            return marks if _vetoed(marks) else _sure(photo, not _vetoed(photo))
        return photo if photo["accepted"] and not marks["accepted"] else marks
    p_marks, p_photo = verdict.probabilities(marks, photo)
    kept, p = (photo, p_photo) if p_photo > p_marks else (marks, p_marks)
    kept = dict(kept)
    lone = len(marks["digits"]) + len(marks["separators"]) == 1
    if marks.get("reason") == "cut_off" or (lone and marks.get("reason") in ("not_a_digit", "too_close")):
        # Writing that runs off the picture, or one mark that is no digit: whichever reading is kept.
        kept["reason"], kept["note"] = marks["reason"], marks["note"]
    kept["confidence"] = round(p, 4)  # the probability that the whole reading is right
    return _sure(kept, p >= verdict.accept and bool(kept["text"]) and "?" not in kept["text"] and not _vetoed(kept))


# Doubts no probability outweighs: a found line or mark left unread, writing cut off, two lines read as one.
VETO = ("missing_line", "missing_mark", "cut_off", "lines_merged", "not_a_digit", "too_close")


def _vetoed(result: dict) -> bool:
    return result.get("reason") in VETO


# Two neighbouring digits whose middles stand further apart than GAP line heights and STEP times the
# line's closest pair leave room for a digit that was not read (a faint one): such a reading is never
# sure. Chosen on the calibration photos (`tools/fit_verdict.py`'s): no right reading sure there
# comes near.
GAP = 1.2
STEP = 1.6


def widest_gap(result: dict) -> float:
    """The widest step between neighbouring digits' middles on any line, in line heights, counted only
    where it is also STEP times the line's narrowest step (0 where no line has three digits in a row)."""
    worst = 0.0
    for line in result["lines"]:
        items = sorted(line["digits"] + line["separators"], key=lambda d: d["box"][0])
        middles = [(d["box"][0] + d["box"][2]) / 2 if "digit" in d else None for d in items]
        steps = np.array([b - a for a, b in zip(middles, middles[1:]) if a is not None and b is not None])
        if len(steps) < 2:
            continue
        height = max(d["box"][3] - d["box"][1] for d in line["digits"])
        if steps.max() >= STEP * max(steps.min(), 1e-9):
            worst = max(worst, float(steps.max()) / max(height, 1))
    return worst


def _sure(result: dict, sure: bool) -> dict:
    out = dict(result)
    if sure and widest_gap(out) > GAP:
        sure = False
        out["reason"], out["note"] = "missing_mark", reasons.say("missing_mark")
    out["accepted"] = sure
    if sure:
        out.pop("reason", None)
        out.pop("note", None)
        for d in out["digits"]:
            d["accepted"] = True
    elif "reason" not in out:
        out["reason"], out["note"] = "readers_differ", reasons.say("readers_differ")
    return out
