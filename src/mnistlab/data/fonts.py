"""Fonts on this machine, split into two groups that never mix.

- `train` fonts render the synthetic non-digits a model is trained to reject (outlier exposure);
- `eval` fonts render the printed and handwriting-style digits, numbers and non-digits that the
  reading benchmark measures on.

Keeping the groups apart is what makes the benchmark honest: a model is never scored on glyph shapes
it was trained on. Both groups come from Debian packages (`FONT_PACKAGES`); when none of a group's
files exist, Pillow's built-in font stands in so that training still works anywhere.
"""

from __future__ import annotations

import glob
from pathlib import Path

FONT_ROOT = Path("/usr/share/fonts")

FONT_GLOBS = {
    "train": [
        "opentype/urw-base35/*.otf",  # fonts-urw-base35: Nimbus, C059, P052, Bookman, Gothic, Z003
        "truetype/liberation/*.ttf",  # fonts-liberation
        "truetype/breip/*.ttf",  # fonts-breip (handwriting)
        "truetype/femkeklaver/*.ttf",  # fonts-femkeklaver (handwriting)
        "truetype/fifthhorseman/*.ttf",  # fonts-dkg-handwriting
        "truetype/rufscript/*.ttf",  # fonts-rufscript (handwriting)
        "truetype/kristi/*.ttf",  # fonts-kristi (felt-tip script)
    ],
    "eval": [
        "truetype/dejavu/DejaVuSans*.ttf",  # fonts-dejavu-core / -extra (printed)
        "truetype/dejavu/DejaVuSerif*.ttf",
        "opentype/comic-neue/*.otf",  # fonts-comic-neue
        "truetype/humor-sans/*.ttf",  # fonts-humor-sans (handwriting-like)
        "opentype/bwht/*.otf",  # fonts-bwht (six handwritten fonts)
        "truetype/sjfonts/*.ttf",  # fonts-sjfonts (handwriting)
        "opentype/dancingscript/*.otf",  # fonts-dancingscript
        "truetype/ecolier-court/*.ttf",  # fonts-ecolier-court (school cursive)
        "truetype/tomsontalks/*.ttf",  # fonts-tomsontalks (comic lettering)
    ],
}

FONT_PACKAGES = {
    "train": [
        "fonts-urw-base35",
        "fonts-liberation",
        "fonts-breip",
        "fonts-femkeklaver",
        "fonts-dkg-handwriting",
        "fonts-rufscript",
        "fonts-kristi",
    ],
    "eval": [
        "fonts-dejavu-core",
        "fonts-dejavu-extra",
        "fonts-comic-neue",
        "fonts-humor-sans",
        "fonts-bwht",
        "fonts-sjfonts",
        "fonts-dancingscript",
        "fonts-ecolier-court",
        "fonts-tomsontalks",
    ],
}

# Handwriting-style members of the eval group: the benchmark reports them apart from printed fonts.
HANDWRITING_EVAL = ("comic-neue", "humor-sans", "bwht", "sjfonts", "dancingscript", "ecolier-court", "tomsontalks")


# Symbol and dingbat faces draw pictures where digits should be: never a source of digits or letters.
NOT_TEXT = ("StandardSymbolsPS", "D050000L")


def font_files(role: str, root: Path = FONT_ROOT) -> list[Path]:
    """The font files of one group (`train` or `eval`) found on this machine, sorted."""
    if role not in FONT_GLOBS:
        raise ValueError(f"font role must be one of {', '.join(FONT_GLOBS)}")
    files: set[Path] = set()
    for pattern in FONT_GLOBS[role]:
        files.update(Path(p) for p in glob.glob(str(root / pattern)))
    return sorted(f for f in files if not f.name.startswith(NOT_TEXT))


def is_handwriting(path: Path) -> bool:
    return any(part in str(path) for part in HANDWRITING_EVAL)


def load_font(path: Path | None, size: int):
    """A FreeType font at `size` px; Pillow's built-in font when `path` is None."""
    from PIL import ImageFont

    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


def glyph_supported(font, ch: str) -> bool:
    """False when the font draws `ch` as an empty box or nothing (a missing glyph)."""
    box = font.getbbox(ch)
    if box[2] - box[0] <= 1 or box[3] - box[1] <= 1:
        return False
    try:
        return bytes(font.getmask(ch)) != bytes(font.getmask("\uffff"))
    except Exception:
        return True


def fingerprint(role: str, root: Path = FONT_ROOT) -> list[dict]:
    """The font files of a group as [{"file", "sha256"}]: what synthetic data drawn from it depends on."""
    import hashlib

    return [{"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()} for f in font_files(role, root)]


def fingerprint_changes(recorded: list[dict], current: list[dict]) -> str | None:
    """None when the two fingerprints match, else one sentence naming what differs."""
    old = {f["file"]: f["sha256"] for f in recorded}
    new = {f["file"]: f["sha256"] for f in current}
    gone = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    if not (gone or added or changed):
        return None
    parts = [
        f"{len(x)} {what} ({', '.join(x[:3])}{', ...' if len(x) > 3 else ''})"
        for x, what in ((gone, "missing"), (added, "new"), (changed, "changed"))
        if x
    ]
    return "the training fonts differ from the run's: " + "; ".join(parts)
