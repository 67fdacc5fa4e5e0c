"""The OCR engines people use instead of mnistlab, as benchmark references (never runtime dependencies).

- Tesseract 5 (Debian `tesseract-ocr`), restricted to digits and separators, in the page mode chosen
  on a development set of photos (`--psm`);
- RapidOCR's current release (PyPI `rapidocr` 3.x, PP-OCR detection + recognition with its default
  models, which ship in the wheel; one onnxruntime thread), its lines ordered top to bottom and its
  text restricted the same way; and its recognizer alone on the whole picture, for pictures that
  are a single line. (`rapidocr-onnxruntime` 1.4.4, benched here before, is two generations older.)

Every engine is given the picture upright, its EXIF orientation applied, as a user's photo viewer
shows it.

Each reads the picture file as a user would hand it over and returns (text, accepted): text with
lines joined by "\\n"; accepted is True whenever the engine gave an answer (neither says "not sure").
"""

from __future__ import annotations

import re
import shutil
import subprocess

KEEP = re.compile(r"[^0-9./:,\-\n]")
WHITELIST = "0123456789./:,-"


def normalize(text: str) -> str:
    lines = [KEEP.sub("", line) for line in text.replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line)


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def tesseract_version() -> str:
    out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "?"


def tesseract(path: str, psm: int = 6, timeout: float = 30.0) -> tuple[str, bool]:
    """Tesseract's reading; a picture it has not read in `timeout` seconds counts as not read."""
    try:
        res = subprocess.run(
            ["tesseract", path, "stdout", "--psm", str(psm), "-c", f"tessedit_char_whitelist={WHITELIST}"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "", False
    text = normalize(res.stdout)
    return text, bool(text)


def upright(path: str):
    """The picture as a user sees it: its EXIF orientation applied (a phone stores photos sideways
    and says so in a tag), in RGB. Every engine is handed this, never the stored pixels."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


def _upright_file(path: str):
    """A path to the upright picture: the file itself where it needs no turning, else a temporary PNG."""
    import contextlib
    import os
    import tempfile

    from PIL import Image

    @contextlib.contextmanager
    def handle():
        with Image.open(path) as img:
            turned = img.getexif().get(0x0112, 1) not in (0, 1)
        if not turned:
            yield path
            return
        fd, tmp = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            upright(path).save(tmp)
            yield tmp
        finally:
            os.unlink(tmp)

    return handle()


def tesseract_on_upright(path: str, psm: int = 6) -> tuple[str, bool]:
    with _upright_file(path) as p:
        return tesseract(p, psm)


def one_thread_engine():
    """RapidOCR with its default models, onnxruntime on one thread, quiet."""
    from rapidocr import RapidOCR as Engine

    return Engine(
        params={
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Global.log_level": "error",
        }
    )


class RapidOCR:
    """RapidOCR's current release (PyPI `rapidocr` 3.x): PP-OCR detection, orientation and
    recognition with its default models (they ship in the wheel), onnxruntime on one thread."""

    def __init__(self):
        self.engine = one_thread_engine()

    def __call__(self, path: str) -> tuple[str, bool]:
        result = self.engine(upright(path))
        if result.boxes is None or not result.txts:
            return "", False
        # Boxes -> lines: a box joins the line whose vertical middle it shares, then left to right.
        items = []
        for box, text in zip(result.boxes, result.txts):
            ys = [p[1] for p in box]
            xs = [p[0] for p in box]
            items.append((min(ys), max(ys), min(xs), normalize(text)))
        items.sort(key=lambda it: (it[0] + it[1]) / 2)
        lines: list[list] = []
        for y0, y1, x0, text in items:
            if not text:
                continue
            mid = (y0 + y1) / 2
            for line in lines:
                if line[0] <= mid <= line[1]:
                    line[2].append((x0, text))
                    break
            else:
                lines.append([y0, y1, [(x0, text)]])
        text = "\n".join("".join(t for _, t in sorted(line[2])) for line in lines)
        return text, bool(text)


class RapidOCRRecognizer(RapidOCR):
    """RapidOCR's recognizer alone (its CTC line model) on the whole picture: for a picture that is
    one line already (the composed numbers), where detection only loses small text."""

    def __call__(self, path: str) -> tuple[str, bool]:
        result = self.engine(upright(path), use_det=False, use_cls=False, use_rec=True)
        if not result.txts:
            return "", False
        text = normalize("".join(str(t) for t in result.txts))
        return text, bool(text)


def rapidocr_available() -> bool:
    try:
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


def rapidocr_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("rapidocr")


class PPOCRDetector:
    """PP-OCR's text detection model (RapidOCR 3.x's default, onnxruntime on one thread) in the place
    of mnistlab's own detector: `find(gray)` gives each box it finds as a `detect.Line` (its centre,
    the direction of its longer side, its length and height), for the photo reader to read."""

    def __init__(self):
        self.engine = one_thread_engine()

    def find(self, gray):
        import numpy as np

        from mnistlab.reading.detect import Line

        img = np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        result = self.engine(img, use_det=True, use_cls=False, use_rec=False)
        lines = []
        for box in [] if result.boxes is None else result.boxes:
            p = np.asarray(box, np.float64).reshape(4, 2)  # clockwise from the top left
            along = ((p[1] - p[0]) + (p[2] - p[3])) / 2
            across = ((p[3] - p[0]) + (p[2] - p[1])) / 2
            length, height = float(np.hypot(*along)), float(np.hypot(*across))
            if height > length:  # a box taller than long: a digit or two, written upright
                along, length, height = across, height, length
            if along[0] < 0:
                along = -along
            c = p.mean(0)
            lines.append(
                Line(
                    cx=float(c[0]),
                    cy=float(c[1]),
                    angle=float(np.arctan2(along[1], along[0])),
                    length=length,
                    height=height,
                )
            )
        return lines
