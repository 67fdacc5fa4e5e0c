"""Predict classes for test images by index or for the user's own image files."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from .data import load_dataset
from .errors import MnistlabError
from .evaluate import predict_proba
from .runs import RunDir


def parse_index_range(text: str, n: int) -> list[int]:
    """'0:5', '7', '3,9,12' or '10:20:2' -> indices into a set of `n` images."""
    indices: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if ":" in part:
                bits = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bits) > 3:
                    raise ValueError
                sl = slice(*bits)
                if (sl.start or 0) < 0 or (sl.stop is not None and sl.stop > n) or (sl.step or 1) <= 0:
                    raise IndexError
                indices.extend(range(*sl.indices(n)))
            else:
                i = int(part)
                if not 0 <= i < n:
                    raise IndexError
                indices.append(i)
    except ValueError:
        raise MnistlabError(f"--test-index {text!r} is not an index or range like 0:5 or 3,7,9") from None
    except IndexError:
        raise MnistlabError(f"--test-index {text!r} is outside the test set (0..{n - 1})") from None
    if not indices:
        raise MnistlabError(f"--test-index {text!r} selects no images")
    return indices


def _entry(probs: np.ndarray, class_names) -> dict:
    k = int(probs.argmax())
    return {"digit": k, "label": class_names[k],
            "probabilities": [round(float(p), 6) for p in probs]}


def predict_test(run: RunDir, index_text: str, dataset: str | None = None) -> list[dict]:
    """Predictions for test images by index, from the run's own dataset unless another is named."""
    ds = load_dataset(dataset or run.config["dataset"]["spec"])
    indices = parse_index_range(index_text, len(ds.y_test))
    probs = predict_proba(run.load_model(), ds.x_test[indices])
    return [{"index": i, "true": int(ds.y_test[i]), **_entry(p, run.class_names)}
            for i, p in zip(indices, probs, strict=True)]


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files named directly, every file in a named directory, and glob matches, in order."""
    files: list[Path] = []
    for pat in patterns:
        p = Path(pat)
        if p.is_dir():
            files.extend(sorted(q for q in p.iterdir() if q.is_file()))
        elif p.exists() or p.is_symlink():
            files.append(p)
        else:
            matches = sorted(glob.glob(os.path.expanduser(pat), recursive=True))
            if not matches:
                raise MnistlabError(f"{pat} matches no file")
            files.extend(Path(m) for m in matches if Path(m).is_file())
    return files


def predict_files(run: RunDir, patterns: list[str]) -> list[dict]:
    """One entry per file: the prediction, or an `error` sentence for a file that is not a usable image."""
    from .images import ImageError, load_image_file

    files = expand_paths(patterns)
    arrays, results = [], []
    for f in files:
        try:
            arrays.append(load_image_file(f))
            results.append({"file": str(f)})
        except ImageError as exc:
            results.append({"file": str(f), "error": str(exc)})
    if arrays:
        probs = predict_proba(run.load_model(), np.stack(arrays))
        good = iter(probs)
        for r in results:
            if "error" not in r:
                r.update(_entry(next(good), run.class_names))
    return results
