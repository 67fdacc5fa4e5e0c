"""reading.morph against plain per-pixel definitions: the fast forms (windows built by doubling, shears
by sliding windows, openings for runs) must give exactly what the definitions give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mnistlab import morph


def _window(a, ky, kx, op):
    """op over the ky x kx window around each pixel ((k-1)//2 before, k//2 after), clamped to the picture."""
    h, w = a.shape
    out = np.empty_like(a)
    for y in range(h):
        for x in range(w):
            ys = slice(max(0, y - (ky - 1) // 2), min(h, y + ky // 2 + 1))
            xs = slice(max(0, x - (kx - 1) // 2), min(w, x + kx // 2 + 1))
            out[y, x] = op(a[ys, xs])
    return out


def _runs(mask, length):
    """Each row's runs of True at least `length` long, found by walking the row."""
    out = np.zeros_like(mask, dtype=bool)
    for y, row in enumerate(mask):
        x = 0
        while x < len(row):
            if row[x]:
                end = x
                while end < len(row) and row[end]:
                    end += 1
                if end - x >= length:
                    out[y, x:end] = True
                x = end
            else:
                x += 1
    return out


def _slanted(mask, length, slopes):
    h, w = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    for s in slopes:
        shift = [round(s * x) for x in range(w)]
        sheared = np.zeros_like(mask, dtype=bool)
        for x in range(w):
            for y in range(h):
                if 0 <= y + shift[x] < h:
                    sheared[y, x] = mask[y + shift[x], x]
        runs = _runs(sheared, length)
        for x in range(w):
            for y in range(h):
                if runs[y, x] and 0 <= y + shift[x] < h:
                    out[y + shift[x], x] = True
    return out


shapes = st.tuples(st.integers(1, 24), st.integers(1, 24))
sizes = st.integers(1, 19)


@settings(max_examples=60, deadline=None)
@given(a=arrays(np.float32, shapes, elements=st.floats(0, 255, width=32)), ky=sizes, kx=sizes)
def test_grey_max_and_min_filters_are_the_window_max_and_min(a, ky, kx):
    assert np.array_equal(morph.max_filter(a, ky, kx), _window(a, ky, kx, np.max))
    assert np.array_equal(morph.min_filter(a, ky, kx), _window(a, ky, kx, np.min))


@settings(max_examples=60, deadline=None)
@given(a=arrays(bool, shapes), ky=sizes, kx=sizes)
def test_binary_closing_and_opening_follow_the_definitions(a, ky, kx):
    dil, ero = _window(a, ky, kx, np.max), _window(a, ky, kx, np.min)
    assert np.array_equal(morph.closing(a, ky, kx), _window(dil, ky, kx, np.min))
    assert np.array_equal(morph.opening(a, ky, kx), _window(ero, ky, kx, np.max))
    assert morph.max_filter(a, ky, kx).dtype == bool


@settings(max_examples=80, deadline=None)
@given(a=arrays(bool, shapes), length=st.integers(1, 30))
def test_long_runs_keeps_exactly_the_runs_that_long(a, length):
    assert np.array_equal(morph.long_runs(a, length), _runs(a, length))


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(bool, shapes),
    length=st.integers(1, 12),
    slopes=st.lists(st.floats(-0.6, 0.6, allow_nan=False), min_size=1, max_size=4),
)
def test_slanted_runs_are_the_runs_of_each_shear_sheared_back(a, length, slopes):
    assert np.array_equal(morph.slanted_runs(a, length, slopes), _slanted(a, length, slopes))


@settings(max_examples=60, deadline=None)
@given(a=arrays(np.float64, shapes, elements=st.integers(0, 255).map(float)), k=st.integers(1, 7))
def test_box_mean_and_its_samples(a, k):
    mean = _window(np.pad(a, [((k - 1) // 2 + 30, k // 2 + 30)] * 2, mode="edge"), k, k, np.mean)
    mean = mean[30 + (k - 1) // 2 : -(30 + k // 2), 30 + (k - 1) // 2 : -(30 + k // 2)]
    assert np.allclose(morph.box_mean(a, k), mean)
    assert np.array_equal(morph.box_mean(a, k, every=k), morph.box_mean(a, k)[k // 2 :: k, k // 2 :: k])


@settings(max_examples=80, deadline=None)
@given(
    a=arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.integers(1, 200)),
        elements=st.sampled_from([0.0, 0.0, 0.0, 1.5, 7.0, 200.0, 255.0]),
    ),
    k=st.integers(1, 600),
)
def test_the_kth_largest_pixel_is_found_exactly(a, k):
    from mnistlab.reading.page import _kth_largest

    kk = min(k, a.size)
    assert _kth_largest(a, k) == float(np.partition(a.ravel(), -kk)[-kk])


@settings(max_examples=60, deadline=None)
@given(a=arrays(bool, shapes))
def test_median_run_is_the_median_of_each_rows_runs(a):
    lengths = []
    for row in a:
        padded = [False, *row.tolist(), False]
        starts = [i for i in range(1, len(padded)) if padded[i] and not padded[i - 1]]
        ends = [i for i in range(1, len(padded)) if not padded[i] and padded[i - 1]]
        lengths += [e - s for s, e in zip(starts, ends, strict=True)]
    assert sorted(morph.run_lengths(a).tolist()) == sorted(lengths)
    assert morph.median_run(a) == (float(np.median(lengths)) if lengths else 0.0)


@settings(max_examples=60, deadline=None)
@given(
    a=arrays(np.float64, shapes, elements=st.floats(0, 255)),
    width=st.integers(0, 5),
    sides=st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)),
)
def test_zero_padding_is_numpys_constant_padding(a, width, sides):
    assert np.array_equal(morph.pad(a, width), np.pad(a, width))
    pairs = ((sides[0], sides[1]), (sides[2], sides[3]))
    framed = morph.pad(a > 100, pairs)
    assert framed.dtype == bool and np.array_equal(framed, np.pad(a > 100, pairs))


@settings(max_examples=30, deadline=None)
@given(a=arrays(bool, st.tuples(st.integers(1, 3), st.integers(1, 12), st.integers(1, 24))), length=st.integers(1, 12))
def test_long_runs_of_a_stack_are_each_layers_runs(a, length):
    stacked = morph.long_runs(a, length)
    assert all(np.array_equal(stacked[i], _runs(a[i], length)) for i in range(len(a)))


@settings(max_examples=60, deadline=None)
@given(a=arrays(bool, shapes))
def test_labels_come_with_each_components_box_and_size(a):
    labels, n, boxes, areas = morph.label(a)
    assert labels.max(initial=0) == n == len(boxes) == len(areas)
    for k, (rows, cols) in enumerate(boxes, 1):
        ys, xs = np.nonzero(labels == k)
        assert (rows, cols) == (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        assert areas[k - 1] == len(ys)
