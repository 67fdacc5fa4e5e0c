"""The line model at reading time: a line's pieces -> one strip -> characters with boxes.

A line run (`mnistlab train --preset line`) holds `model.onnx` (checked against its Keras model when it
was written) and `line.json` (the alphabet, the strip geometry and the accept threshold chosen on
validation lines). This module needs onnxruntime and numpy only.

A line run may name partners in its `line.json` (`"partners": ["partner1"]`, folders inside it, each
a line run of the same world, added by `tools/pair_line_runs.py`): a strip the run's own model reads
unsure is read by each partner too, and the reading whose least sure character is the surest is
kept. Line models trained apart place their characters at different steps, so their probabilities
are not averaged (measured: averaging dropped characters); the surer whole reading is chosen
instead. A strip the run's own model reads sure keeps its reading and its confidence, so the verdict
learned on the run's own readings keeps its meaning there (measured: asking every strip's surest
reading raised the verdict's accept level and cost a sixth of the sure answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.data import strip as strip_mod
from mnistlab.errors import MnistlabError
from mnistlab.reading import fields
from mnistlab.reading.verdict import Verdict


@dataclass
class LineReading:
    text: str  # "?" for a mark that is neither a digit nor a separator
    confidence: float  # the least sure character's
    chars: list  # (char, confidence, (x0, y0, x1, y1) in page pixels)


class LineModel:
    """A line run's ONNX model and its accept threshold."""

    partners: tuple | list = ()  # the line models that read the lines this one is unsure of

    def __init__(self, path: Path):
        from mnistlab.inference.engine import open_checked

        path = Path(path)
        info, self.session = open_checked(path, "line.json", "line")
        if (
            info.get("vocab") != strip_mod.VOCAB
            or info.get("height") != strip_mod.HEIGHT
            or info.get("stride") != strip_mod.STRIDE
        ):
            raise MnistlabError(f"{path}/line.json does not describe a line model this mnistlab reads")
        threshold = info.get("threshold")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise MnistlabError(f"{path}/line.json: threshold must be a number from 0 to 1, not {threshold!r}")
        world = info.get("input", "ink")
        if world not in ("ink", "photo"):
            raise MnistlabError(f"{path}/line.json: input must be 'ink' or 'photo', not {world!r}")
        self.world = world  # "ink": reads the reader's ink map of a line; "photo": a photo's crop
        # A photo line model's learned verdict between its reading and the marks' (`reading.verdict`).
        self.verdict = Verdict.load(path) if world == "photo" else None
        self.input = self.session.get_inputs()[0].name
        self.threshold = float(threshold)
        self.path = path
        self.partners = [self._partner(path, name, world) for name in _names(info.get("partners", []), path)]

    @staticmethod
    def _partner(path: Path, name: str, world: str) -> LineModel:
        partner = LineModel(path / name)
        if partner.world != world or partner.partners:
            raise MnistlabError(f"{path / name}: a partner must read the same world and name no partners itself")
        return partner

    def probabilities(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        """Per-step probabilities of each strip (one call for all, padded to the widest). With
        partners, a strip this model reads unsure (its least sure character under the threshold) is
        read by each partner too, and the probabilities of the reading whose least sure character is
        the surest are kept; a strip this model reads sure keeps its own."""
        own = self._own_probabilities(strips)
        if not self.partners or not own:
            return own
        least = [strip_mod.decode(p)[1] for p in own]
        unsure = [k for k, sure in enumerate(least) if sure < self.threshold]
        if not unsure:
            return own
        others = [p._own_probabilities([strips[k] for k in unsure]) for p in self.partners]
        out = list(own)
        for j, k in enumerate(unsure):
            choices = [own[k]] + [o[j] for o in others]
            sure = [least[k]] + [strip_mod.decode(o[j])[1] for o in others]
            out[k] = choices[int(np.argmax(sure))]  # this model's own on a tie
        return out

    def _own_probabilities(self, strips: list[np.ndarray]) -> list[np.ndarray]:
        if not strips:
            return []
        width = max(s.shape[1] for s in strips)
        batch = np.zeros((len(strips), strip_mod.HEIGHT, width), np.float32)
        for k, s in enumerate(strips):
            batch[k, :, : s.shape[1]] = s
        logits = self.session.run(None, {self.input: batch})[0]
        return [strip_mod.softmax(logits[k, : s.shape[1] // strip_mod.STRIDE]) for k, s in enumerate(strips)]

    def read(self, line_inks: list[tuple]) -> list[LineReading | None]:
        """Each (ink crop, its x0, its y0 on the page[, marks]) -> its reading, boxes in page pixels.

        `marks` (optional, the crop's shape) numbers the separate marks of the line (0: none); with
        it a character's box is the marks it holds, so a leaning slash and the digit beside it,
        whose columns overlap, each keep their own box."""
        prepared = [strip_mod.to_strip(item[0]) for item in line_inks]
        probs = self.probabilities([p[0] for p in prepared if p is not None])
        out: list[LineReading | None] = []
        k = 0
        for item, prep in zip(line_inks, prepared):
            if prep is None:
                out.append(None)
                continue
            ink, x0, y0 = item[:3]
            marks = item[3] if len(item) > 3 else None
            _, scale, offset = prep
            chars, _ = strip_mod.decode(probs[k])
            k += 1
            fields.make_possible(chars)
            least = min((c.confidence for c in chars), default=0.0)
            # A character owns the columns from halfway after the one before it to halfway to the
            # next (CTC marks a character at one or two steps, not across its whole width).
            edges = (
                [strip_mod.MARGIN]
                + [(a.x1 + b.x0) / 2 for a, b in zip(chars, chars[1:])]
                + [strip_mod.MARGIN + ink.shape[1] * scale]
            )
            spans = []
            for left, right in zip(edges, edges[1:]):
                a = int(np.clip(np.floor((left - strip_mod.MARGIN) / scale) + offset, 0, ink.shape[1] - 1))
                b = int(np.clip(np.ceil((right - strip_mod.MARGIN) / scale) + offset, a + 1, ink.shape[1]))
                spans.append((a, b))
            boxes = _boxes(ink, marks, spans)
            boxed = [
                (c.char, c.confidence, (x0 + bx0, y0 + by0, x0 + bx1, y0 + by1))
                for c, (bx0, by0, bx1, by1) in zip(chars, boxes)
            ]
            out.append(LineReading("".join(c.char for c in chars), least, boxed))
        return out


def _names(names, path: Path) -> list[str]:
    """A line.json's partner folders: plain names of folders inside the run."""
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n and "/" not in n and "\\" not in n and n not in (".", "..") for n in names
    ):
        raise MnistlabError(f"{path}/line.json: partners must be a list of folder names inside the run")
    return names


OWN_MARK = 0.6  # a mark belongs to a character when this share of its columns lies in the character's


def _boxes(ink: np.ndarray, marks: np.ndarray | None, spans: list[tuple[int, int]]) -> list[tuple]:
    """A box (x0, y0, x1, y1) in the crop for each character's column span: the marks it holds
    whole, else its own columns' ink that no other character's mark claims."""
    claimed: dict[int, int] = {}
    if marks is not None:
        for m in range(1, int(marks.max()) + 1):
            cols = np.flatnonzero((marks == m).any(axis=0))
            if cols.size == 0:
                continue
            share = [((cols >= a) & (cols < b)).mean() for a, b in spans]
            best = int(np.argmax(share))
            if share[best] >= OWN_MARK:
                claimed[m] = best
    out = []
    for i, (a, b) in enumerate(spans):
        mine = [m for m, owner in claimed.items() if owner == i]
        if mine:
            part = np.isin(marks, mine)
        else:
            part = np.zeros(ink.shape, bool)
            part[:, a:b] = ink[:, a:b] > 0.05
            if claimed:
                part &= ~np.isin(marks, list(claimed))
        rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if rows.size:
            out.append((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
        else:
            out.append((a, 0, b, ink.shape[0]))
    return out
