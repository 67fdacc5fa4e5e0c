"""A picture -> lines of digits and separators, every digit candidate judged in one batch.

The picture's journey (one module each): `page` (size, the sheet, light, ruled lines) -> `marks`
(components, lines, separators) -> `cuts` (touching digits) -> here: one batch through the model,
then the answer assembled line by line, top to bottom.

A picture with exactly one mark, nothing cleaned away and nothing dropped is prepared from the whole
picture, so `read` and `predict` give the same answer for a single digit.
"""

from __future__ import annotations

import numpy as np

from mnistlab.images import ImageError, to_mnist_array
from mnistlab.reading import combine, cuts, detect, fields, marks, page, photoread, reasons, verdict

MAX_DIGITS = marks.MAX_DIGITS  # per line
# A reading of several marks is accepted only when each digit is read at least this confidently
# (chosen on development photos, seeds 777-779: accepted-but-wrong 3.8% -> 1.7% of photos, for 12%
# fewer readings accepted); a single digit keeps the run's own threshold, as `predict` does.
READ_CONFIDENCE = 0.9
HEIGHT_SPREAD = (0.55, 1.35)  # a digit outside this share of its line's median height: not sure
OVERREACH = 0.12  # ... and one this much taller reaching this far below the line
# A found line reaching this many of its heights past what was read on it holds an unread mark
# (chosen on development photos: 0.5 and 0.8 doubt none of their 500 readings more than no check)
END_SLACK = 0.5


MODES = ("combined", "line", "segmenter")


def read_gray(
    gray: np.ndarray, judge, line_model=None, mode: str = "combined", detector=None, photo=None, found=None
) -> dict:
    """Read the lines of digits in a grayscale picture (H, W, 0..255).

    With a `detector` (`detect.Detector`), the writing is found first and the picture normalised to
    it (`detect.normalize`: turned level, cut out with paper around it, its lines one height); the
    reading is then made on that, its boxes mapped back to the picture, and it is sure only when
    every line the detector found holds something read (`missing_line` otherwise). A single mark is
    read from the whole picture, as `predict` prepares a file.

    `judge(arrays)` takes (N, 28, 28) prepared images and returns (calibrated probabilities,
    confidence, accepted) per image, as `prediction.Predictor.judge` does. `found`: the detector's
    lines, where they were already found.
    Returns {"text", "accepted", "digits": [{"digit", "confidence", "accepted", "box"}],
    "separators": [{"char", "box"}], "lines": [{"text", "box", "digits", "separators"}]}
    plus "inputs" (the 28x28 images the model saw) for callers that show them. `text` joins lines
    with a newline; it is accepted only when every digit is and the layout is clear. A reading that
    is not accepted says why: "reason" (a `reasons` key) and "note" (its sentence for people).

    With a `line_model` (`linemodel.LineModel`), every line is also read whole, without cutting, and
    `mode` says what is kept: "segmenter" (the marks only), "line" (the line model only) or
    "combined": `combine.choose` says which reading each line keeps: where both read it alike, that
    reading; where they differ, the line model's, accepted only at `combine.line_bar` (or the marks',
    unsure, where the line model is unsure and they are sure); a mark the line model calls no digit
    leaves the line unsure.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    gray = np.asarray(gray, dtype=np.float64)
    if detector is None:
        return _read_level(gray, judge, line_model, mode)
    found = detector.find(gray) if found is None else found
    result, whole = read_pair(gray, found, judge, line_model, mode, photo)
    return result if whole is None else verdict.choose(result, whole, photo.verdict)


def read_pair(gray: np.ndarray, found: list, judge, line_model, mode: str, photo) -> tuple[dict, dict | None]:
    """The two readings `verdict.choose` picks from: the marks' of the lines `found`, and the photo
    line model's (`photo`, a `linemodel.LineModel` of the photo world), or None where the marks'
    reading stands alone: no photo model, no line found, another `mode`, or one mark that both see
    as one character (the digit classifier reads it, as `predict` does)."""
    marks = _read_found(gray, found, judge, line_model, mode)
    if photo is None or not found or mode != "combined":
        return marks, None  # --mode line|segmenter: that reader's reading alone
    whole = photoread.read_found(gray, found, photo)
    if len(marks["digits"]) + len(marks["separators"]) == 1 and len(whole["text"]) <= 1:
        return marks, None
    return marks, whole


def _read_found(gray: np.ndarray, found: list, judge, line_model, mode: str) -> dict:
    """The marks' reading of the picture normalised to the lines the detector found, checked against them."""
    norm = detect.normalize(gray, found)
    if norm is None:  # no writing found: whatever is read is checked against that
        return _back_to_picture(
            _read_level(gray, judge, line_model, mode), detect.Normalized(gray, IDENTITY, [], 0.0), gray.shape
        )
    result = _read_level(norm.gray, judge, line_model, mode)
    if len(result["digits"]) + len(result["separators"]) == 1:
        whole = _read_level(gray, judge, line_model, mode)
        if len(whole["digits"]) + len(whole["separators"]) == 1:
            # One mark: read from the whole picture, as `predict` reads it, and checked the same.
            return _back_to_picture(whole, detect.Normalized(gray, IDENTITY, found, 0.0), gray.shape)
    return _back_to_picture(result, norm, gray.shape)


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _back_to_picture(result: dict, norm, shape) -> dict:
    """A reading of the normalised picture with its boxes in the picture's pixels, checked against
    the lines the detector found. It is not sure when the two disagree on the lines: a found line
    holds nothing that was read (`missing_line`); two found lines, one above the other, were read as
    one (`lines_merged`); a line was read where the detector sees no writing (`not_writing`: a
    ring, a pen, a stain); or a found line reaches well past what was read on it (`missing_mark`: a
    digit too faint or too broken to be read; `cut_off` where it reaches the picture's border)."""
    inv = np.linalg.inv(np.vstack([norm.to_picture, [0, 0, 1]]))
    read_boxes = [line["box"] for line in result["lines"]]
    h, w = shape
    doubts = []
    holds = [[] for _ in read_boxes]  # the found lines each read line holds
    spans = []  # each found line's box in the normalised picture
    for ln in norm.lines:
        x, y, _ = inv @ np.array([ln.cx, ln.cy, 1.0])
        corners = np.array([inv @ np.array([*c, 1.0]) for c in ln.corners()])
        spans.append((corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()))
        on = [k for k, b in enumerate(read_boxes) if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
        if not on:
            doubts.append("missing_line")
            continue
        for k in on:
            holds[k].append((y, ln.height * np.hypot(*inv[:2, 0])))
        if sum(len(result["lines"][k]["digits"]) + len(result["lines"][k]["separators"]) for k in on) < 2:
            continue  # a lone mark (a digit in a form box: the detector takes in the box) has no ends to miss
        slack = END_SLACK * ln.height * np.hypot(*inv[:2, 0])  # in the normalised picture's pixels
        first, last = min(read_boxes[k][0] for k in on) - slack, max(read_boxes[k][2] for k in on) + slack
        beyond = [end for end in ln.ends() if not first <= (inv @ np.array([*end, 1.0]))[0] <= last]
        if beyond:  # writing past what was read: at the picture's border it runs off the picture
            margin = ln.height / 4
            off = any(not (margin <= ex <= w - margin and margin <= ey <= h - margin) for ex, ey in beyond)
            doubts.append("cut_off" if off else "missing_mark")
    for box, inside in zip(read_boxes, holds):
        ys = sorted(y for y, _ in inside)
        tall = max((height for _, height in inside), default=0.0)
        if len(ys) > 1 and ys[-1] - ys[0] > tall / 2:  # centres further apart than half the tallest
            doubts.append("lines_merged")
        if not any(sx0 < box[2] and box[0] < sx1 and sy0 < box[3] and box[1] < sy1 for sx0, sy0, sx1, sy1 in spans):
            doubts.append("not_writing")
    for line in result["lines"]:
        line["box"] = norm.box_to_picture(line["box"], shape)
        for item in line["digits"] + line["separators"]:  # the same dicts as the top-level lists
            item["box"] = norm.box_to_picture(item["box"], shape)
    marks_read = len(result["digits"]) + len(result["separators"])
    if marks_read > 1 and _at_edge(result["lines"], shape):
        doubts.append("cut_off")  # a digit at the picture's own edge (the enlarged picture has none)
    if "cut_off" in doubts:
        doubts.insert(0, "cut_off")
    if doubts and result["text"]:
        result["accepted"] = False
        if "reason" not in result or doubts[0] == "cut_off":
            key = doubts[0]
            result["reason"], result["note"] = key, reasons.say(key, count=doubts.count("missing_line"))
    return result


def _read_level(gray: np.ndarray, judge, line_model, mode: str) -> dict:
    """`read_gray` on a picture as it is (no detector)."""
    try:
        pg = page.prepare(gray)
    except ImageError:
        return reasons.empty("no_ink")
    found = marks.find(pg.ink, cuts.stroke_width(pg.ink))
    if found.note:
        return reasons.empty(found.note[0], **found.note[1])
    if not found.lines:
        return reasons.empty("too_small")

    # Every digit candidate and every split candidate of wide ones, all in one batch. One mark with
    # nothing cleaned away is prepared from the whole picture, exactly as `predict` prepares a file.
    only = [p for line in found.lines for p in line.pieces]
    whole_picture = len(only) == 1 and only[0].char is None and not found.dropped and not pg.cleaned
    arrays: list[np.ndarray] = []
    plan = []  # per line: [(piece, start row or None, candidates)]
    unsure: list[str] = []  # `reasons` keys, the first one told
    if pg.lost:
        unsure.append("sheet_edge")
    if found.hairlines:
        unsure.append("faint_lines")
    for line in found.lines:
        if line.unexplained:
            unsure.append("stray_mark")
        if line.thin:
            unsure.append("thin_line")
        entries = []
        for p in line.pieces:
            if p.char is not None:
                entries.append((p, None, []))
                continue
            own = to_mnist_array(gray) if whole_picture else cuts.prepare(pg.ink, p)
            cands = cuts.split_candidates(p, pg.ink)
            entries.append((p, len(arrays), cands))
            arrays.append(own)
            arrays.extend(a for _, a in cands)
        plan.append(entries)
    if arrays:
        probs, conf, acc = judge(np.stack(arrays))
    whole = (
        _read_lines(found.lines, pg.ink, line_model)
        if line_model is not None and mode != "segmenter"
        else [None] * len(found.lines)
    )
    lines_out, inputs = [], []
    weak = False  # a digit the segmenter alone vouches for is read under READ_CONFIDENCE
    for entries, lm in zip(plan, whole):
        items = []  # (x0, kind, box, row or char)
        for p, start, cands in entries:
            if start is None:
                items.append((p.x0, "sep", p, p.char))
                continue
            window = slice(start + 1, start + 1 + len(cands))
            chosen = cuts.choose(cands, conf[window], acc[window], whole_conf=conf[start])
            if chosen is None:
                items.append((p.x0, "digit", p, start))
            else:
                for k in chosen:
                    box, _ = cands[k]
                    items.append((box.x0, "digit", box, start + 1 + k))  # a digit cut from a wider mark
        items.sort(key=lambda it: it[0])
        n_digits = sum(kind != "sep" for _, kind, _, _ in items)
        if n_digits > MAX_DIGITS:
            return reasons.empty("line_too_long", count=n_digits, most=MAX_DIGITS)
        digits, seps, text, line_inputs = [], [], [], []
        for _, kind, box, ref in items:
            where = pg.box_to_picture(box.x0, box.y0, box.x1, box.y1)
            if kind == "sep":
                seps.append({"char": ref, "box": where})
                text.append(ref)
                continue
            d = {
                "digit": int(np.argmax(probs[ref])),
                "confidence": round(float(conf[ref]), 4),
                "accepted": bool(acc[ref]),
                "box": where,
            }
            digits.append(d)
            line_inputs.append(np.asarray(arrays[ref], np.float32))
            text.append(str(d["digit"]) if d["accepted"] else "?")
        source = "segmenter"
        if lm is not None:
            seg_least = min((d["confidence"] for d in digits), default=0.0)
            all_read = bool(digits) and "?" not in text and all(d["accepted"] for d in digits)
            seg_joined = "".join(text)
            source = combine.choose(seg_joined, seg_least, lm, mode)
            if source == "not a digit":
                unsure.append("stray_mark")
            elif source == "segmenter over an unsure line model":
                unsure.append("readers_differ")
            elif source == "line":
                if mode != "line" and len(seg_joined) > len(lm.text):
                    unsure.append("missing_mark")
                marks_read = any(ch.isdigit() for ch in text)
                digits, seps, text, line_inputs = _from_line_model(lm, pg)
                bar = combine.line_bar(line_model.threshold, mode, marks_read)
                if lm.confidence < bar:
                    unsure.append("unclear_digit" if bar <= line_model.threshold else "readers_differ")
            elif source == "agree":
                for d in digits:  # both readers read the line alike: that is the surest reading
                    d["accepted"] = True
                if not combine.agreement_sure(lm.confidence, seg_least if all_read else 0.0):
                    unsure.append("unclear_digit")  # both readers agree, but neither is sure enough
        lost = fields.separator_lost("".join(text))
        if lost is not None:
            place, char = lost
            put_back = {"char": char, "box": _gap(text, digits, seps, place)}
            seps = sorted(seps + [put_back], key=lambda sp: sp["box"][0])
            text.insert(place, char)
            unsure.append("separator_added")
        if source != "line" and source != "agree" and digits and min(d["confidence"] for d in digits) < READ_CONFIDENCE:
            weak = True
        inputs.extend(line_inputs)
        if not digits:
            continue  # separators alone are no line of digits
        heights = np.array([d["box"][3] - d["box"][1] for d in digits], np.float64)
        if len(heights) > 1 and (
            (heights > HEIGHT_SPREAD[1] * np.median(heights)).any()
            or (heights < HEIGHT_SPREAD[0] * np.median(heights)).any()
        ):
            unsure.append("sizes_differ")
        # A mark that starts at the line's top and reaches well below its digits is no digit ($, §);
        # a digit written lower than the others (handwriting wanders) starts lower too.
        tops = np.array([d["box"][1] for d in digits], np.float64)
        bottoms = np.array([d["box"][3] for d in digits], np.float64)
        h = float(np.median(heights))
        overreach = (tops <= np.median(tops) + 0.05 * h) & (bottoms >= np.median(bottoms) + OVERREACH * h)
        if len(digits) > 2 and overreach.any():
            unsure.append("below_line")
        boxes = np.array([d["box"] for d in digits] + [s["box"] for s in seps])
        lines_out.append(
            {
                "text": "".join(text),
                "box": [int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())],
                "digits": digits,
                "separators": seps,
            }
        )
    if not lines_out:
        return reasons.empty("too_small")
    all_digits = [d for line in lines_out for d in line["digits"]]
    marks_read = len(all_digits) + sum(len(line["separators"]) for line in lines_out)
    if marks_read > 1 and all(d["accepted"] for d in all_digits) and weak:
        # Every digit must be right for the number to be: a number is accepted only when each of
        # its digits is read surely, not merely accepted as a digit.
        unsure.append("unclear_digit")  # under READ_CONFIDENCE
    if found.ambiguous:
        unsure.insert(0, "lines_overlap")  # which marks belong to which line is not clear
    if not all(d["accepted"] for d in all_digits):
        why = _why_not_a_digit(all_digits, marks_read, gray.shape)
        unsure.insert(0 if marks_read == 1 else len(unsure), why)  # a lone mark: that is the whole story
    if marks_read > 1 and _at_edge(lines_out, gray.shape):
        unsure.insert(0, "cut_off")
    out = {
        "text": "\n".join(line["text"] for line in lines_out),
        "accepted": all(d["accepted"] for d in all_digits) and not unsure,
        "digits": all_digits,
        "separators": [s for line in lines_out for s in line["separators"]],
        "lines": lines_out,
        "inputs": inputs,
    }
    if unsure:
        out["reason"], out["note"] = unsure[0], reasons.say(unsure[0])
    return out


def _why_not_a_digit(digits: list, marks_read: int, shape) -> str:
    """The reason a reading with a digit the model does not trust gives: a lone mark that spans the
    picture is most often a number photographed too close (the sheet itself taken for a mark)."""
    if marks_read > 1:
        return "unclear_digit"
    x0, y0, x1, y1 = digits[0]["box"]
    h, w = shape
    return "too_close" if (x1 - x0) >= 0.9 * w or (y1 - y0) >= 0.9 * h else "not_a_digit"


def _at_edge(lines: list, shape) -> bool:
    """Whether a digit's box touches the picture's border, where part of it may be cut off."""
    h, w = shape
    return any(
        d["box"][0] <= 0 or d["box"][1] <= 0 or d["box"][2] >= w or d["box"][3] >= h
        for line in lines
        for d in line["digits"]
    )


def _gap(text: list, digits: list, seps: list, place: int) -> list:
    """The box between the characters before and after `place` in a line's text (digits and
    separators in reading order): from the one's right edge to the other's left (where their boxes
    overlap, across the overlap; at least one column wide), as high as the two together."""
    boxes, d, s = [], iter(digits), iter(seps)
    for ch in text:
        boxes.append(next(s)["box"] if ch in marks.SEPARATORS else next(d)["box"])
    left, right = boxes[place - 1], boxes[place]
    x0, x1 = sorted((left[2], right[0]))
    return [x0, min(left[1], right[1]), max(x1, x0 + 1), max(left[3], right[3])]


def _read_lines(lines, ink: np.ndarray, line_model) -> list:
    """Each line's pieces (their own pixels only) as one ink crop, read whole by the line model."""
    crops = []
    for line in lines:
        x0 = min(p.x0 for p in line.pieces)
        y0 = min(p.y0 for p in line.pieces)
        x1 = max(p.x1 for p in line.pieces)
        y1 = max(p.y1 for p in line.pieces)
        crop = np.zeros((y1 - y0, x1 - x0), np.float32)
        which = np.zeros((y1 - y0, x1 - x0), np.int32)  # each pixel's mark (1-based), for the boxes
        for k, p in enumerate(line.pieces, 1):
            own = ink[p.y0 : p.y1, p.x0 : p.x1] * (p.labels_mask if p.labels_mask is not None else 1.0)
            view = crop[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0]
            np.maximum(view, own, out=view)
            where = which[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0]
            where[(own > 0.05) & (where == 0)] = k
        crops.append((crop, x0, y0, which))
    return line_model.read(crops)


def _from_line_model(lm, pg) -> tuple[list, list, list, list]:
    """(digits, separators, text characters, prepared digit images) of a line read whole. Whether
    the line is sure is the line's confidence against the model's threshold (the caller's)."""
    digits, seps, text, images = [], [], [], []
    for ch, confidence, (x0, y0, x1, y1) in lm.chars:
        where = pg.box_to_picture(x0, y0, x1, y1)
        text.append(ch)
        if ch in marks.SEPARATORS:
            seps.append({"char": ch, "box": where})
            continue
        digits.append({"digit": int(ch), "confidence": round(float(confidence), 4), "accepted": True, "box": where})
        images.append(cuts.as_digit(pg.ink[y0:y1, x0:x1]))
    return digits, seps, text, images


def scale_boxes(result: dict, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> dict:
    """The reading with its boxes multiplied by `scale` (a picture decoded smaller than the file) and
    moved by `origin` (x, y: where a part of the picture read on its own lies in it)."""
    if scale == 1.0 and origin == (0.0, 0.0):
        return result
    ox, oy = origin

    def up(box):
        return [int(round(v * scale + o)) for v, o in zip(box, (ox, oy, ox, oy))]

    for line in result.get("lines", []):
        line["box"] = up(line["box"])
        for item in line["digits"] + line["separators"]:  # the same dicts as the top-level lists
            item["box"] = up(item["box"])
    return result


def digits_only(result: dict) -> dict:
    """The same reading with the separators left out of `text` (`--digits-only`)."""
    out = dict(result)
    lines = []
    for line in result.get("lines", []):
        lines.append({**line, "text": "".join(ch for ch in line["text"] if ch not in marks.SEPARATORS)})
    if lines:
        out["lines"] = lines
        out["text"] = "\n".join(line["text"] for line in lines)
    return out
