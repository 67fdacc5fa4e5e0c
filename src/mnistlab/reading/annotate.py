"""`read --annotate DIR`: the picture with each digit's box and reading drawn on it."""

from __future__ import annotations

from pathlib import Path

from mnistlab import atomic

MAX_SIDE = 2000  # annotated copies of huge pictures are shrunk to this
MIN_SIDE = 640  # ... and small ones enlarged, so the labels stay legible


def annotate_file(source: str | Path, result: dict, out_dir: str | Path) -> Path:
    """Write `out_dir/<name>.read.png`: green boxes for accepted digits, red for rejected ones."""
    from PIL import Image, ImageDraw

    from mnistlab.data.fonts import load_font

    source = Path(source)
    with Image.open(source) as img:
        img.seek(0)
        img = img.convert("RGB")
    scale = min(MAX_SIDE / max(img.size), max(1.0, MIN_SIDE / max(img.size)))
    if scale != 1.0:
        img = img.resize(
            (max(1, int(img.width * scale)), max(1, int(img.height * scale))),
            Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BILINEAR,
        )
    # Bands above and below the picture hold the digits and confidences, so they never cover ink.
    widths = [d["box"][2] - d["box"][0] for d in result["digits"]] or [img.width / scale]
    size = int(max(12, min(48, 0.6 * min(widths) * scale)))
    small = max(10, int(size * 0.45))
    font, small_font = load_font(None, size), load_font(None, small)
    band = size + 8
    canvas = Image.new("RGB", (img.width, img.height + band + small + 8), (255, 255, 255))
    canvas.paste(img, (0, band))
    draw = ImageDraw.Draw(canvas)
    for d in result["digits"]:
        x0, y0, x1, y1 = (int(v * scale) for v in d["box"])
        colour = (0, 160, 60) if d["accepted"] else (220, 30, 30)
        draw.rectangle([x0, y0 + band, max(x0, x1 - 1), max(y0, y1 - 1) + band], outline=colour, width=2)
        draw.text((x0, 2), str(d["digit"]) if d["accepted"] else "?", fill=colour, font=font)
        draw.text((x0, band + img.height + 3), f"{d['confidence']:.2f}", fill=colour, font=small_font)
    if not result["digits"]:
        draw.text((4, 2), "no digits", fill=(220, 30, 30), font=font)
    out = Path(out_dir) / f"{source.stem}.read.png"
    with atomic.atomic_path(out, suffix=".png") as tmp:
        canvas.save(tmp, "PNG")
    return out
