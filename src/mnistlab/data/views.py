"""Test-time augmentation: read each 28x28 image in a few shifted copies and average the answers.

`--tta 5` reads the image as given and moved one pixel up, down, left and right; `--tta 9` adds
two-pixel moves along both axes. The views' probabilities are averaged (as an ensemble averages its
members) before the run's temperature and threshold apply. `--tta 1` is the plain single reading.
"""

from __future__ import annotations

import numpy as np

from mnistlab.errors import MnistlabError

# (rows, columns) each view moves the image by; the first view is always the image itself.
VIEWS: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((0, 0),),
    5: ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)),
    9: ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1), (-2, 0), (2, 0), (0, -2), (0, 2)),
}
CHOICES = tuple(VIEWS)


def check(views: int) -> int:
    """`views` as an int, or a clear error naming the choices."""
    try:
        n = int(views)
    except (TypeError, ValueError):
        n = None
    if n not in VIEWS:
        raise MnistlabError(f"tta must be one of {', '.join(map(str, CHOICES))} views, not {views!r}")
    return n


def shift(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move (N, H, W) images by dy rows and dx columns; what moves in is background (0)."""
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[:, dst_y, dst_x] = images[:, src_y, src_x]
    return out


def stack_views(images: np.ndarray, views: int) -> np.ndarray:
    """(N, 28, 28) -> (V * N, 28, 28): every image in each of the V views, view by view."""
    return np.concatenate([shift(images, dy, dx) for dy, dx in VIEWS[check(views)]])


def average_views(probs: np.ndarray, views: int) -> np.ndarray:
    """(V * N, C) probabilities laid out by `stack_views` -> (N, C), the mean over the views."""
    v = check(views)
    return probs.reshape(v, -1, probs.shape[-1]).mean(axis=0)
