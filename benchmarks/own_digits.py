"""A digit test set that does not come from MNIST, written as ordinary image files, and its scores.

- fonts: digits rendered from the DejaVu fonts at varied sizes, rotations, positions, colours and
  polarities, on canvases of varied shapes, saved as PNG / JPEG / BMP / GIF;
- uci: the UCI handwritten digits scikit-learn ships (8x8, other writers), upscaled to PNG.

    python benchmarks/own_digits.py RUN [RUN ...]     # accuracy per source for each run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def font_files() -> list[Path]:
    fonts = sorted(FONT_DIR.glob("DejaVu*.ttf"))
    if not fonts:
        raise SystemExit(f"no DejaVu fonts in {FONT_DIR}: apt-get install fonts-dejavu-core")
    return fonts


def render_fonts(dest: Path, per_digit_per_font: int = 4, seed: int = 0) -> list[tuple[Path, int]]:
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    formats = [("png", "PNG"), ("jpg", "JPEG"), ("bmp", "BMP"), ("gif", "GIF")]
    for font_path in font_files():
        for digit in range(10):
            for k in range(per_digit_per_font):
                size = int(rng.integers(28, 140))
                font = ImageFont.truetype(str(font_path), size)
                w, h = int(rng.integers(size, size * 3)), int(rng.integers(size + 10, size * 3))
                dark_on_light = rng.random() < 0.6
                paper = int(rng.integers(200, 256)) if dark_on_light else int(rng.integers(0, 50))
                ink = int(rng.integers(0, 60)) if dark_on_light else int(rng.integers(190, 256))
                colour = rng.random() < 0.3
                glyph = Image.new("L", (size * 2, size * 2), 0)
                ImageDraw.Draw(glyph).text((size // 2, size // 3), str(digit), fill=255, font=font)
                glyph = glyph.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR, expand=True)
                glyph = glyph.crop(glyph.getbbox())
                if glyph.width > w or glyph.height > h:
                    w, h = max(w, glyph.width + 4), max(h, glyph.height + 4)
                x0 = int(rng.integers(0, w - glyph.width + 1))
                y0 = int(rng.integers(0, h - glyph.height + 1))
                if colour:
                    canvas = Image.new("RGB", (w, h), tuple(int(paper) for _ in range(3)))
                    ink_rgb = tuple(int(v) for v in rng.integers(0, 90, 3)) if dark_on_light else \
                        tuple(int(v) for v in rng.integers(170, 256, 3))
                    canvas.paste(Image.new("RGB", glyph.size, ink_rgb), (x0, y0), glyph)
                else:
                    canvas = Image.new("L", (w, h), paper)
                    canvas.paste(Image.new("L", glyph.size, ink), (x0, y0), glyph)
                arr = np.asarray(canvas).astype(np.int16)
                arr = np.clip(arr + rng.normal(0, 6, arr.shape), 0, 255).astype(np.uint8)
                canvas = Image.fromarray(arr)
                ext, fmt = formats[int(rng.integers(0, len(formats)))]
                path = dest / f"{font_path.stem}-{digit}-{k}.{ext}"
                canvas.save(path, fmt)
                out.append((path, digit))
    return out


def uci_digits(dest: Path, limit: int | None = None) -> list[tuple[Path, int]]:
    from PIL import Image
    from sklearn.datasets import load_digits

    dest.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    out = []
    n = len(digits.target) if limit is None else min(limit, len(digits.target))
    for i in range(n):
        img = Image.fromarray((digits.images[i] * (255 / 16)).astype(np.uint8)).resize((32, 32), Image.Resampling.BILINEAR)
        path = dest / f"uci-{i:04d}-{digits.target[i]}.png"
        img.save(path)
        out.append((path, int(digits.target[i])))
    return out


def score(run_path: str, sets: dict[str, list[tuple[Path, int]]]) -> dict:
    from mnistlab.prediction import predict_files
    from mnistlab.runs import open_run

    run = open_run(run_path)
    result = {}
    for name, items in sets.items():
        preds = predict_files(run, [str(p) for p, _ in items])
        correct = sum(1 for (p, label), r in zip(items, preds, strict=True) if r.get("digit") == label)
        errors = sum(1 for r in preds if "error" in r)
        result[name] = {"images": len(items), "accuracy": round(correct / len(items), 4), "unreadable": errors}
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--dir", default="/tmp/mnistlab-own-digits")
    parser.add_argument("--out", help="also write the JSON result here")
    args = parser.parse_args()
    base = Path(args.dir)
    sets = {"fonts": render_fonts(base / "fonts"), "uci": uci_digits(base / "uci")}
    report = {}
    for run in args.runs:
        from mnistlab.runs import open_run

        m = open_run(run).metrics
        report[run] = {"preset": m["preset"], "mnist_test_accuracy": m["test_accuracy"], **score(run, sets)}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
