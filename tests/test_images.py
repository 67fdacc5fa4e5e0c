"""A user's pictures: every kind of file is either classified or a clear per-file error."""

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistlab.images import ImageError, image_bytes_to_array, pixels_to_array, to_mnist_array

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _png(img: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _drawn_seven(size=(300, 200), ink=0, paper=255, mode="L") -> Image.Image:
    if mode == "RGB":
        ink, paper = (ink,) * 3 if isinstance(ink, int) else ink, (paper,) * 3 if isinstance(paper, int) else paper
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    d.line([(60, 40), (140, 40), (90, 170)], fill=ink, width=14)
    return img


def test_output_is_mnist_style():
    arr = image_bytes_to_array(_png(_drawn_seven()))
    assert arr.shape == (28, 28) and arr.dtype == np.float32
    assert arr.max() > 200 and arr[0].max() == 0 and arr[:, 0].max() == 0  # bright ink, dark margins
    ys, xs = np.nonzero(arr > 0)
    assert ys.max() - ys.min() <= 21 and xs.max() - xs.min() <= 21  # fits the 20x20 box (+ resampling)
    total = arr.sum()
    cy = (arr.sum(1) * np.arange(28)).sum() / total
    cx = (arr.sum(0) * np.arange(28)).sum() / total
    assert abs(cy - 14) < 0.75 and abs(cx - 14) < 0.75


def test_polarity_does_not_matter():
    dark_on_light = image_bytes_to_array(_png(_drawn_seven(ink=0, paper=255)))
    light_on_dark = image_bytes_to_array(_png(_drawn_seven(ink=255, paper=0)))
    assert np.abs(dark_on_light - light_on_dark).max() < 1e-3


@pytest.mark.parametrize(
    "make",
    [
        lambda: _png(_drawn_seven(mode="RGB", ink=(20, 30, 200), paper=(250, 240, 200))),
        lambda: _png(_drawn_seven(mode="RGB"), "JPEG", quality=60),
        lambda: _png(_drawn_seven(), "BMP"),
        lambda: _png(_drawn_seven().convert("P")),
        lambda: _png(_drawn_seven(mode="RGB").convert("CMYK"), "JPEG"),
        lambda: _png(Image.fromarray(np.asarray(_drawn_seven(), np.uint16) * 257).convert("I;16")),
        lambda: _png(_drawn_seven(mode="RGB"), "TIFF"),
        lambda: _png(_drawn_seven(mode="RGB"), "WEBP"),
    ],
)
def test_formats_and_modes_are_read(make):
    arr = image_bytes_to_array(make())
    assert arr.shape == (28, 28) and arr.max() > 100


def test_alpha_drawings_work_both_ways():
    for ink in ((0, 0, 0, 255), (255, 255, 255, 255)):
        img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
        ImageDraw.Draw(img).line([(60, 40), (140, 40), (90, 170)], fill=ink, width=14)
        arr = image_bytes_to_array(_png(img))
        assert arr.max() > 200 and arr[0].max() == 0


def test_animated_gif_uses_first_frame():
    frames = [_drawn_seven(), Image.new("L", (300, 200), 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert image_bytes_to_array(buf.getvalue()).max() > 100


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"definitely not an image", "not an image"),
        (_png(Image.new("L", (50, 50), 255)), "no digit"),
        (_png(Image.new("L", (50, 50), 0)), "no digit"),
        (_png(Image.new("L", (1, 1), 128)), "no digit"),
        (_png(_drawn_seven())[:300], "damaged or truncated"),
        (_png(_drawn_seven(mode="RGB").convert("LAB"), "TIFF"), "colour mode LAB"),
    ],
)
def test_unusable_images_are_clear_errors(data, message):
    with pytest.raises(ImageError, match=message):
        image_bytes_to_array(data)


def test_decompression_bomb_is_refused_from_the_header():
    bomb = _png(Image.new("1", (20000, 20000), 0), optimize=True)
    assert len(bomb) < 2_000_000
    with pytest.raises(ImageError, match="pixels"):
        image_bytes_to_array(bomb)


def test_a_single_dot_is_still_classified():
    img = Image.new("L", (40, 40), 255)
    img.putpixel((20, 20), 0)
    assert image_bytes_to_array(_png(img)).max() > 0


@pytest.mark.parametrize(
    "pixels, message",
    [
        ([[0] * 28] * 27, "28x28"),
        ([[float("nan")] * 28] * 28, "finite"),
        ([[-1] * 28] * 28, "0..255"),
        ([[256] * 28] * 28, "0..255"),
        ("abc", "28x28"),
        ([[None] * 28] * 28, "numbers"),
    ],
)
def test_bad_pixel_arrays(pixels, message):
    with pytest.raises(ImageError, match=message):
        pixels_to_array(pixels)


def test_to_mnist_array_matches_real_mnist_digits(mnist):
    """An MNIST digit run through the preparation again stays (almost) where it was."""
    x = mnist.x_test[:50].astype(np.float64)
    again = np.stack([to_mnist_array(a) for a in x])
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(x, again, strict=True)]
    assert np.median(corr) > 0.9


def test_predict_files_on_a_non_mnist_set(real_run, tmp_path):
    """Printed digits in DejaVu fonts and UCI's 8x8 digits, as files, through the CLI's own code path."""
    import json

    from PIL import Image
    from sklearn.datasets import load_digits

    from conftest import run_cli
    from mnistlab.data.fonts import font_files
    from mnistlab.data.synth import photograph, render_text
    from mnistlab.reading.predictor import predict_files

    rng = np.random.default_rng(0)
    fonts = [f for f in font_files("eval") if f.name.startswith("DejaVu")][:4]
    printed = []
    for k, font in enumerate(fonts):
        for digit in range(10):
            pic = photograph(render_text(str(digit), font, rng, rotate=10), rng).astype(np.uint8)
            path = tmp_path / "fonts" / f"{font.stem}-{digit}.{['png', 'jpg', 'bmp', 'gif'][k % 4]}"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(pic).save(path)
            printed.append((path, digit))
    (tmp_path / "fonts" / "notes.txt").write_text("not an image")
    uci = load_digits()
    (tmp_path / "uci").mkdir()
    for i in range(200):
        Image.fromarray((uci.images[i] * 255 / 16).astype(np.uint8)).resize((32, 32)).save(
            tmp_path / "uci" / f"{i}.png"
        )

    def accuracy(items):
        preds = predict_files(real_run, [str(p) for p, _ in items])
        assert all("error" not in r for r in preds)
        return np.mean([r["digit"] == label for (_, label), r in zip(items, preds, strict=True)])

    # A 2-epoch dense model on 6,000 images: far above chance (10%) proves the preparation works.
    assert accuracy(printed) > 0.6
    assert accuracy([(tmp_path / "uci" / f"{i}.png", uci.target[i]) for i in range(200)]) > 0.5
    cli = run_cli("predict", real_run.path, tmp_path / "fonts", "--json")
    assert cli.returncode == 0  # notes.txt in the folder is no picture by name: skipped
    out = json.loads(cli.stdout)
    assert len(out) == len(printed)
    assert all(set(r) >= {"file", "digit", "confidence", "accepted", "probabilities"} for r in out)
    named = run_cli("predict", real_run.path, tmp_path / "fonts" / "notes.txt", printed[0][0], "--json")
    assert named.returncode == 1  # named outright, it is read, and reported
    bad = [r for r in json.loads(named.stdout) if "error" in r]
    assert len(bad) == 1 and bad[0]["file"].endswith("notes.txt")


def test_percentile_is_numpys_to_the_last_bit():
    """`images.percentile` (one partition) gives numpy's linear percentile exactly: ties, zeros,
    a single pixel, the ends, and the 99.5th of a piece framed in zeros, as ink_map asks."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from mnistlab.images import percentile

    @settings(max_examples=200, deadline=None)
    @given(
        a=arrays(
            np.float64,
            st.tuples(st.integers(1, 30), st.integers(1, 30)),
            elements=st.one_of(st.sampled_from([0.0, 1.0, 127.5, 255.0]), st.floats(-255, 255)),
        ),
        q=st.one_of(st.sampled_from([0.0, 50.0, 99.5, 100.0]), st.floats(0, 100)),
    )
    def check(a, q):
        want, got = float(np.percentile(a, q)), percentile(a, q)
        assert got == want and np.signbit(got) == np.signbit(want)

    check()


def test_a_piece_framed_in_zeros_is_prepared_as_before():
    """ink_map's shortcut for a zero border (no median taken) prepares what the median gave."""
    from mnistlab.images import ink_map

    rng = np.random.default_rng(3)
    piece = np.zeros((40, 30))
    piece[5:35, 8:22] = rng.uniform(0, 255, (30, 14))
    border = np.concatenate([piece[0], piece[-1], piece[:, 0], piece[:, -1]])
    ink = piece - float(np.median(border))
    peak = max(float(np.percentile(ink, 99.5)), float(ink.max()) * 0.5)
    want = np.clip(ink / peak, 0, 1)
    want[want < 0.2] = 0.0
    assert np.array_equal(ink_map(piece), want)


def _nine(pen: int) -> np.ndarray:
    img = Image.new("L", (300, 220), 255)
    d = ImageDraw.Draw(img)
    d.ellipse([100, 20, 200, 110], outline=0, width=pen)
    d.line([(195, 65), (175, 200)], fill=0, width=pen)
    return np.asarray(img, np.float64)


def test_a_blob_thick_pen_is_thinned_towards_mnists_and_a_thinner_one_left_alone(mnist, monkeypatch):
    from mnistlab import images
    from mnistlab.images import half_stroke

    bar = images.STROKE_BAR
    thick, usual = to_mnist_array(_nine(44)), to_mnist_array(_nine(24))
    monkeypatch.setattr(images, "STROKE_BAR", 99.0)  # no thinning
    thick_as_drawn, usual_as_drawn = to_mnist_array(_nine(44)), to_mnist_array(_nine(24))
    assert half_stroke(thick_as_drawn) > 2.2 and half_stroke(thick) < 2.0
    assert np.array_equal(usual, usual_as_drawn)
    # MNIST's own pen is under the bar: hardly any of its digits would be thinned.
    assert np.mean([half_stroke(x) > bar for x in mnist.x_test[:2000]]) < 0.02


def test_a_region_is_decoded_at_the_pictures_own_resolution_upright():
    from tests.scenes import jpeg

    from mnistlab.images import decode_picture, decode_region

    rng = np.random.default_rng(0)
    gray = np.kron(rng.uniform(0, 255, (75, 100)), np.ones((40, 40)))  # 4000 x 3000, blocks of 40
    png = _png(Image.fromarray(gray.astype(np.uint8)))
    part, scale = decode_region(png, (1200, 800, 1600, 1100))
    assert scale == 1.0 and np.array_equal(part, gray[800:1100, 1200:1600].astype(np.uint8))
    _, whole_scale = decode_picture(png)
    assert whole_scale > 2  # the whole picture comes shrunk, the part at full size
    # Shrunk by whole steps to about `shrink_to` pixels, the scale says so.
    part, scale = decode_region(png, (0, 0, 4000, 3000), shrink_to=1_000_000)
    assert part.size <= 1_000_000 and scale == 4000 / part.shape[1]
    # A photo stored sideways (EXIF orientation 6): the box is the upright picture's.
    sideways = jpeg(gray, orientation=6)
    part, scale = decode_region(sideways, (1200, 800, 1600, 1100))
    assert part.shape == (300, 400) and scale == 1.0
    assert np.abs(part[20:-20, 20:-20] - gray[820:1080, 1220:1580]).mean() < 8  # JPEG's loss only
    # A box past the picture's edge is cut to it.
    assert decode_region(png, (3900, 2900, 4100, 3100))[0].shape == (100, 100)
    with pytest.raises(ImageError, match="damaged or truncated"):
        decode_region(png[:300], (0, 0, 10, 10))
