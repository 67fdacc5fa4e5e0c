"""Which files are pictures: files named outright, and the pictures (by name) in folders and globs.

Used by every command that takes many files: `read`, `predict`, the Python API.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mnistlab.errors import MnistlabError

# What a folder or a glob contributes: pictures by name. A file named outright is always read (and
# reported if it is no picture); `labels.json` or a notebook beside the pictures is simply left out.
PICTURE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".webp",
        ".gif",
        ".bmp",
        ".dib",
        ".tif",
        ".tiff",
        ".pnm",
        ".pbm",
        ".pgm",
        ".ppm",
    }
)


def is_picture_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in PICTURE_SUFFIXES


@dataclass
class Listing:
    files: list[Path]
    skipped: int  # files in the folders and globs that are not pictures by name


def pictures(patterns: Iterable[str | os.PathLike]) -> Listing:
    """The files to read, in order: a file named outright; a folder's pictures (sorted by name); a
    glob's matching pictures (sorted). Raises MnistlabError for a folder or glob with no picture."""
    files: list[Path] = []
    skipped = 0
    for pattern in patterns:
        text = os.fspath(pattern)
        path = Path(text)
        if path.is_dir():
            with os.scandir(path) as entries:
                names = sorted(e.name for e in entries if e.is_file())
            found = [path / n for n in names if is_picture_name(n)]
            if not names:
                raise MnistlabError(f"{path} is a directory with no files in it")
            if not found:
                raise MnistlabError(f"{path} holds no pictures ({', '.join(sorted(PICTURE_SUFFIXES))})")
        elif path.exists() or path.is_symlink() or not glob.has_magic(text):
            # A plain name is the user's file: missing, it is reported in its own row.
            files.append(path)
            continue
        else:
            names = sorted(m for m in glob.glob(os.path.expanduser(text), recursive=True) if os.path.isfile(m))
            if not names:
                raise MnistlabError(f"{text} matches no file")
            found = [Path(n) for n in names if is_picture_name(n)]
            if not found:
                raise MnistlabError(f"{text} matches no pictures ({', '.join(sorted(PICTURE_SUFFIXES))})")
        skipped += len(names) - len(found)
        files.extend(found)
    return Listing(files, skipped)
