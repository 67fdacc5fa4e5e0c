"""The few image operations reading needs, on numpy arrays: labelling and rectangle morphology.

Connected components come from `cc3d` (connected-components-3d: a 5 MB wheel that needs only numpy);
the morphology is separable max/min over sliding windows. Together they replace SciPy's ndimage,
which was 142 of the core install's 367 MB (OpenCV-headless would be 160 MB): the reader installs in
well under 300 MB and labels a 2-Mpixel page faster than ndimage did.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def label(mask: np.ndarray) -> tuple[np.ndarray, int, list[tuple[slice, slice]], np.ndarray]:
    """8-connected components of a boolean mask: (labels 1..n, n, bounding slices, pixel counts)."""
    import cc3d

    # uint8, not bool: cc3d 4.1.1 mislabels some boolean masks (a background pixel labelled, gaps in
    # the numbering; tests/data/cc3d-gaps.png is one).
    labels, n = cc3d.connected_components(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8,
                                          return_N=True)
    if n == 0:
        return labels, 0, [], np.zeros(0, np.int64)
    stats = cc3d.statistics(labels)
    boxes = [tuple(b) for b in stats["bounding_boxes"][1:n + 1]]
    return labels, int(n), boxes, np.asarray(stats["voxel_counts"][1:n + 1], np.int64)


def _filter1d(a: np.ndarray, k: int, axis: int, op) -> np.ndarray:
    if k <= 1:
        return a
    before, after = (k - 1) // 2, k // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (before, after)
    win = sliding_window_view(np.pad(a, pad, mode="edge"), k, axis=axis)
    return op(win, axis=-1)


def max_filter(a: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """Maximum over a ky x kx rectangle around each pixel (grey or binary dilation)."""
    return _filter1d(_filter1d(a, kx, 1, np.max), ky, 0, np.max)


def min_filter(a: np.ndarray, ky: int, kx: int) -> np.ndarray:
    """Minimum over a ky x kx rectangle around each pixel (grey or binary erosion)."""
    return _filter1d(_filter1d(a, kx, 1, np.min), ky, 0, np.min)


def closing(a: np.ndarray, ky: int, kx: int) -> np.ndarray:
    return min_filter(max_filter(a, ky, kx), ky, kx)


def opening(a: np.ndarray, ky: int, kx: int) -> np.ndarray:
    return max_filter(min_filter(a, ky, kx), ky, kx)


def box_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over a k x k square around each pixel (edges repeated)."""
    def along(x, axis):
        before, after = (k - 1) // 2, k // 2
        pad = [(0, 0), (0, 0)]
        pad[axis] = (before + 1, after)
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis)
        hi = np.take(c, np.arange(k, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - k), axis=axis)
        return (hi - lo) / k
    return along(along(np.asarray(a, np.float64), 1), 0)


def long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """The horizontal runs of a boolean mask at least `length` long (an opening by a 1 x length line)."""
    on = np.pad(mask, ((0, 0), (1, 1)))
    edges = np.diff(on.astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    keep = ends - starts >= length
    marks = np.zeros((mask.shape[0], mask.shape[1] + 1), np.int32)
    np.add.at(marks, (rows[keep], starts[keep]), 1)
    np.add.at(marks, (rows[keep], ends[keep]), -1)
    return np.cumsum(marks, axis=1)[:, :-1] > 0


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every background region that does not reach the border filled."""
    import cc3d

    background = cc3d.connected_components(np.ascontiguousarray(~mask, dtype=np.uint8), connectivity=4)
    border = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
    outside = np.isin(background, border[border > 0])
    return ~outside


def slanted_runs(mask: np.ndarray, length: int, slopes) -> np.ndarray:
    """Runs at least `length` long along lines of every slope in `slopes` (rows down per column
    across): each slope shears the mask so its lines lie flat, takes `long_runs`, and shears back."""
    h, w = mask.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = np.zeros_like(mask, dtype=bool)
    for s in slopes:
        shift = np.round(s * np.arange(w)).astype(int)
        src = ys + shift[None, :]
        valid = (src >= 0) & (src < h)
        sheared = np.zeros_like(mask, dtype=bool)
        sheared[valid] = mask[src[valid], xs[valid]]
        runs = long_runs(sheared, length)
        back = np.zeros_like(out)
        back[src[valid], xs[valid]] = runs[valid]
        out |= back
    return out
