"""Dates and times must be possible ones: a line the line model reads as a time or a date with a
field out of range (hour 47, month 40, day 85, year 4954) gets, for that field, its likeliest digits that make
it possible, from each character's own runner-up classes.

A handwritten 1 read as a 4 in "47:28" is the commonest case. The digits changed keep the
probability the model gave them, far under any accept threshold: the line stays "not sure" unless
the digit-by-digit reading agrees with it.

A date whose point or dash was joined to a digit (both readers read `1306.2023`) gets it back where
one place alone makes a possible date with a four-digit year (`separator_lost`).
"""

from __future__ import annotations

import itertools
import re

import numpy as np

from mnistlab.data.strip import Char

CHOICES = 3  # runner-up digits tried per character,
RUNNER_UP = 0.001  # ... each at least this likely (a digit the model all but ruled out is no reading)

# (pattern over the text, the fields that must be in range: (group, lowest, highest))
# A year written with four digits lies in YEARS (a 1 read as a 4 makes 1954 "4954").
YEARS = (1000, 2999)
LAYOUTS = [
    (re.compile(r"^(\d{1,2}):(\d{2})$"), ((1, 0, 23), (2, 0, 59))),
    (re.compile(r"^(\d{1,2})([/.])(\d{1,2})\2(\d{4})$"), ((1, 1, 31), (3, 1, 12), (4, *YEARS))),
    (re.compile(r"^(\d{1,2})([/.])(\d{1,2})\2(\d{2})$"), ((1, 1, 31), (3, 1, 12))),
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), ((1, *YEARS), (2, 1, 12), (3, 1, 31))),
]


def make_possible(chars: list[Char]) -> bool:
    """Correct, in place, the fields of a time or a date that are out of range; whether any was."""
    found, fields = _layout("".join(c.char for c in chars))
    changed = False
    for group, lo, hi in fields:
        if lo <= int(found.group(group)) <= hi:
            continue
        span = [chars[i] for i in range(*found.span(group))]
        if any(c.digits is None for c in span):
            return changed
        best = _likeliest(span, lo, hi)
        if best is None:
            continue
        for c, d in zip(span, best, strict=True):
            if c.char != str(d):
                c.char, c.confidence = str(d), float(c.digits[d])
        changed = True
    return changed


def laid_out(text: str) -> bool:
    """Whether a line's text is laid out as one of LAYOUTS (a time or a date), in range or not."""
    return _layout(text)[0] is not None


def a_time_or_date(text: str) -> bool:
    """Whether a line's text is a possible time or date: laid out as one, every field in range."""
    return laid_out(text) and possible(text)


def possible(text: str) -> bool:
    """Whether a line's text, if it is laid out as a time or a date, has every field in range."""
    found, fields = _layout(text)
    return all(lo <= int(found.group(group)) <= hi for group, lo, hi in fields)


def separator_lost(text: str) -> tuple[int, str] | None:
    """Where a date's separator was lost (a dot joined to the digit beside it: `1306.2023` for
    `13.06.2023`): the text holds one separator of a date with a four-digit year and digits only
    otherwise, and putting the same separator back between two digits makes a possible date at
    exactly one place. (place in `text`, separator), or None. Two-digit years are left alone: a
    price (`145.80`) would become one (`14.5.80`)."""
    seps = [ch for ch in text if not ch.isdigit()]
    if len(seps) != 1 or seps[0] not in "./-":
        return None
    sep = seps[0]
    places = [
        k
        for k in range(1, len(text))
        if text[k - 1].isdigit() and text[k].isdigit() and _a_long_date(text[:k] + sep + text[k:], sep)
    ]
    return (places[0], sep) if len(places) == 1 else None


def _a_long_date(text: str, sep: str) -> bool:
    """A possible date with two `sep`s and a four-digit year."""
    return a_time_or_date(text) and text.count(sep) == 2 and any(len(p) == 4 for p in text.split(sep))


def _layout(text: str) -> tuple[re.Match | None, tuple]:
    """The first of LAYOUTS that `text` matches: (the match, its fields), or (None, ()) for none."""
    for pattern, fields in LAYOUTS:
        found = pattern.match(text)
        if found:
            return found, fields
    return None, ()


def _likeliest(span: list[Char], lo: int, hi: int) -> tuple[int, ...] | None:
    """The digits for `span` with the highest joint probability whose value lies in [lo, hi]."""
    options = [
        [d for d in np.argsort(c.digits)[::-1][:CHOICES] if c.digits[d] >= RUNNER_UP or str(d) == c.char] for c in span
    ]
    best, best_p = None, 0.0
    for combo in itertools.product(*options):
        value = int("".join(str(int(d)) for d in combo))
        if not lo <= value <= hi:
            continue
        p = float(np.prod([c.digits[d] for c, d in zip(span, combo, strict=True)]))
        if p > best_p:
            best, best_p = tuple(int(d) for d in combo), p
    return best
