"""The simulated hand (data/hands.py): every written form of every digit is a digit a reader reads,
one writer's line is reproducible from its seed, and lines use it only where asked."""

from __future__ import annotations

import numpy as np

from mnistlab.data.hands import FORMS, Writer


def test_every_form_of_every_digit_is_drawn_about_the_lines_height_and_reproducibly():
    for d, forms in FORMS.items():
        for f in range(len(forms)):
            a, b = (Writer(np.random.default_rng(7), 40) for _ in range(2))
            a.forms[d] = b.forms[d] = f
            ga, gb = a.digit(d, np.random.default_rng(1)), b.digit(d, np.random.default_rng(1))
            assert np.array_equal(ga, gb)
            assert 0.85 * 40 <= ga.shape[0] <= 1.3 * 40 and ga.max() > 200
            assert ga[0].max() > 20 and ga[-1].max() > 20  # trimmed to its ink
    w = Writer(np.random.default_rng(3), 40)
    w.forms.update({"0": 0, "1": 0})
    rng = np.random.default_rng(0)
    assert w.digit("0", rng).shape[1] > 2 * w.digit("1", rng).shape[1]  # a plain 1 is a single stroke


def test_the_bundled_classifier_reads_the_written_digits_as_the_digits_they_are():
    """The forms are digits, not scribbles: the shipped digit classifier, which never saw them,
    reads 60 writers' 0-9 (each form in use) at least 97% right (99.8% when measured)."""
    from mnistlab.api import bundled_path
    from mnistlab.images import to_mnist_array
    from mnistlab.reading.predictor import Predictor
    from mnistlab.runs import open_run

    rng = np.random.default_rng(0)
    arrays, labels, used = [], [], set()
    for _ in range(60):
        writer = Writer(rng, 40)
        for d in "0123456789":
            used.add((d, writer.forms[d]))
            arrays.append(to_mnist_array(255 - np.pad(writer.digit(d, rng), 10)))
            labels.append(int(d))
    assert used == {(d, f) for d, forms in FORMS.items() for f in range(len(forms))}
    probs, _, _ = Predictor(open_run(bundled_path())).judge(np.stack(arrays))
    assert (probs.argmax(1) == np.array(labels)).mean() >= 0.97


def test_lines_are_written_by_the_hand_only_where_asked_and_as_their_text_says():
    from mnistlab.data.lines import Sources, handwritten_line

    x = np.zeros((10, 28, 28), np.uint8)  # blank MNIST digits: any ink in a line is the hand's
    src = Sources(x, np.arange(10), [])
    assert handwritten_line("4711", np.random.default_rng(0), src) is None  # no hand asked: blank digits
    canvas = handwritten_line("4711", np.random.default_rng(0), src, hands=1.0)
    assert canvas is not None
    cols = np.flatnonzero((canvas > 110).any(axis=0))
    gaps = np.flatnonzero(np.diff(cols) > 1)
    assert 1 <= len(gaps) + 1 <= 4  # four digits side by side (two may touch), no more


def test_a_hands_separators_are_one_mark_each_and_its_slashes_run_from_upright_to_leaning():
    from scipy import ndimage

    leans = []
    for seed in range(30):
        w = Writer(np.random.default_rng(seed), 40)
        rng = np.random.default_rng(seed)
        for ch, parts in ((".", 1), (",", 1), ("-", 1), ("/", 1), (":", 2)):
            ink, top = w.mark(ch, rng)
            assert ndimage.label(ink > 110)[1] == parts, (ch, seed)
        comma, top = w.mark(",", rng)
        assert top + comma.shape[0] > 40  # a comma's tail reaches under the baseline
        slash, top = w.mark("/", rng)
        assert -8 <= top <= 8 and slash.shape[0] >= 36  # from the digits' top to their baseline
        leans.append((slash.shape[1] - w.pen) / slash.shape[0])
    assert min(leans) < 0.15 and max(leans) > 0.5  # some as steep as a 1, some leaning far
