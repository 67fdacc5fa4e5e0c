"""The reading guide's pictures: one photo through each stage of `reading/`, drawn as it is.

    python tools/stage_pictures.py [PICTURE] [--out docs/images]

Writes stage-1-photo.png (the picture upright, EXIF applied), stage-1-detector.png (`detect.py`: the
lines the learned detector finds, their cores shaded), stage-2-page.png (the ink `page.py`
keeps: the sheet found, light evened, ruled lines gone), stage-3-marks.png (`marks.py`: lines of
marks, separators told apart) and stage-4-read.png (the reading, boxes and digits).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
WIDTH = 720  # every stage picture is this wide


def _fit(img: Image.Image) -> Image.Image:
    scale = WIDTH / img.width
    return img.resize((WIDTH, max(1, round(img.height * scale))), Image.Resampling.LANCZOS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("picture", nargs="?", default=str(REPO / "examples" / "date-photo.jpg"))
    parser.add_argument("--out", default=str(REPO / "docs" / "images"))
    args = parser.parse_args()

    import mnistlab as ml
    from mnistlab.api import bundled_path
    from mnistlab.images import load_gray_file
    from mnistlab.reading import cuts, detect, marks, page

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gray = load_gray_file(args.picture)
    _fit(Image.fromarray(gray.astype(np.uint8)).convert("RGB")).save(out / "stage-1-photo.png")

    detector = detect.Detector(bundled_path() / "detector")
    prob, _ = detector.core_map(gray)
    photo = Image.fromarray(gray.astype(np.uint8)).convert("RGB")
    core = Image.fromarray((255 * (prob > detector.threshold)).astype(np.uint8)).resize(photo.size)
    shaded = Image.composite(Image.new("RGB", photo.size, (47, 111, 237)), photo, core.point(lambda v: v // 3))
    d = ImageDraw.Draw(shaded)
    for line in detector.find(gray):
        d.polygon([tuple(c) for c in line.corners()], outline=(217, 48, 37), width=4)
    _fit(shaded).save(out / "stage-1-detector.png")

    pg = page.prepare(gray)
    ink = Image.fromarray((255 - 255 * np.clip(pg.ink, 0, 1)).astype(np.uint8)).convert("RGB")
    _fit(ink).save(out / "stage-2-page.png")

    found = marks.find(pg.ink, cuts.stroke_width(pg.ink))
    drawn = ink.copy()
    d = ImageDraw.Draw(drawn)
    colours = [(47, 111, 237), (217, 48, 37), (31, 157, 85), (163, 90, 0)]
    for k, line in enumerate(found.lines):
        colour = colours[k % len(colours)]
        for p in line.pieces:
            d.rectangle([p.x0, p.y0, p.x1 - 1, p.y1 - 1], outline=(138, 147, 166) if p.char else colour, width=2)
        x0 = min(p.x0 for p in line.pieces) - 6
        x1 = max(p.x1 for p in line.pieces) + 6
        d.rectangle([x0, line.y0 - 6, x1, line.y1 + 6], outline=colour, width=1)
    _fit(drawn).save(out / "stage-3-marks.png")

    (reading,) = ml.read([args.picture])
    photo = Image.fromarray(gray.astype(np.uint8)).convert("RGB")
    d = ImageDraw.Draw(photo)
    for digit in reading["digits"]:
        x0, y0, x1, y1 = digit["box"]
        colour = (31, 157, 85) if reading["accepted"] else (224, 138, 0)
        d.rectangle([x0, y0, x1 - 1, y1 - 1], outline=colour, width=3)
        font = ImageFont.load_default(size=max(14, (y1 - y0) // 2))
        d.text((x0 + 2, max(0, y0 - (y1 - y0) // 2 - 6)), str(digit["digit"]), fill=colour, font=font)
    for sep in reading["separators"]:
        x0, y0, x1, y1 = sep["box"]
        d.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(138, 147, 166), width=2)
    _fit(photo).save(out / "stage-4-read.png")
    print(f"{reading['text']!r} ({'read' if reading['accepted'] else 'not sure'}); pictures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
