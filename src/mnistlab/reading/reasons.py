"""Why a reading is not sure, in words a user can act on.

A reading is either read (`accepted`) or not sure. Every stage that doubts a reading names its doubt
by a key below; the reading carries the first doubt as `reason` (the key, stable for programs) and
`note` (a sentence for people: what was seen, then what to do about it). The CLI, the page, the
JSON rows and the Python API all show these same sentences.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # Nothing read at all.
    "no_ink": "nothing written was found (the picture is blank or has almost no contrast): "
    "take the picture in better light, closer to the number",
    "texture": "this looks like texture or noise, not writing: photograph the number on plain paper",
    "too_many_marks": "{count:,} separate marks, too many for a number: crop the picture to the number",
    "too_many_lines": "{count} lines of marks; mnistlab reads at most {most}: crop the picture to the lines you want",
    "line_too_long": "{count} marks on a line; mnistlab reads at most {most}: crop the picture to the number",
    "too_small": "no marks big enough to be digits: move closer, or crop the picture to the number",
    "too_close": "the writing fills the picture: step back so that there is paper all around the number",
    "not_a_digit": "this does not look like a digit: write it again, larger and clearer",
    # Something read, but not sure.
    "cut_off": "a digit at the picture's edge may be cut off: include the whole number, with paper around it",
    "sheet_edge": "a mark at the sheet's edge was left out: check that the whole number is on the sheet",
    "faint_lines": "faint lines near the writing were left out (ruled or squared paper?): "
    "check that no digit is missing",
    "unclear_digit": "a digit is hard to make out: check the reading, or write or photograph it more clearly",
    "stray_mark": "a mark on the line is not a digit (a letter, a symbol, a smudge?): "
    "crop it out, or check the reading",
    "missing_line": "writing was found that the reading leaves out ({count} of its lines): "
    "check that every line is there, or crop the picture to the number",
    "lines_merged": "two lines of writing, one above the other, were read as one: "
    "leave more space between them, or read one line at a time",
    "not_writing": "something read as a line does not look like writing (a ring, a pen, a stain?): "
    "crop the picture to the number",
    "missing_mark": "a mark may have been left out of the reading: check that every digit is there",
    "readers_differ": "the writing can be read two ways: check the reading, or take a sharper, closer picture",
    "separator_added": "a separator was filled in where the digits leave the only place for it: check it",
    "thin_line": "one line is written much thinner than the others (a grid or a frame?): "
    "crop the picture to the number",
    "sizes_differ": "the digits differ a lot in size: check that everything on the line belongs to the number",
    "below_line": "a mark taller than the digits reaches below the line (a $ or a letter?): "
    "crop the picture to the number",
    "lines_overlap": "the lines overlap: leave more space between them, or read one line at a time",
}


def say(key: str, **values) -> str:
    """The sentence for a reason key, its numbers filled in."""
    return REASONS[key].format(**values)


def empty(reason: str, **values) -> dict:
    """A reading of nothing, saying why."""
    return {
        "text": "",
        "accepted": False,
        "digits": [],
        "separators": [],
        "lines": [],
        "inputs": [],
        "reason": reason,
        "note": say(reason, **values),
    }
