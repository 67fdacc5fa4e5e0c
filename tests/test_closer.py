"""The closer look's rule (reading/closer.py) on pictures held in memory, with a stand-in detector:
which part is taken, where it lies in the file, and when the whole picture is read instead."""

from __future__ import annotations

import numpy as np

from mnistlab.reading import closer
from mnistlab.reading.detect import Line


class Finds:
    """A detector that finds the same lines in whatever it is shown, and counts its looks."""

    def __init__(self, lines):
        self.lines, self.looks = lines, 0

    def find(self, gray):
        self.looks += 1
        return self.lines


def test_the_part_is_the_lines_box_with_a_tenth_of_the_longer_side_all_round_inside_the_picture():
    assert closer.around([], (3000, 4000)) is None
    box = closer.around([Line(2000, 1500, 0.0, 100, 20)], (3000, 4000))
    assert box == (1550, 1090, 2450, 1910)  # 400 pixels (a tenth of 4000) beyond the line's corners
    assert closer.around([Line(30, 20, 0.0, 40, 10)], (3000, 4000)) == (0, 0, 450, 425)  # clipped at the edge


def test_small_writing_on_a_large_picture_is_read_from_its_part_where_it_lies_in_the_file():
    gray = np.full((3000, 4000), 200.0)
    found = [Line(2000, 1500, 0.0, 100, 20)]
    detector = Finds([Line(450, 410, 0.0, 100, 20)])  # the same line, in the part's pixels
    part = closer.look(detector, gray, found)
    assert part is not None and detector.looks == 1
    assert part.origin == (1550, 1090) and part.gray.shape == (820, 900) and part.scale == 1.0
    assert part.lines == detector.lines


def test_writing_tall_enough_from_the_whole_picture_and_small_pictures_are_read_whole():
    gray = np.full((3000, 4000), 200.0)
    found = [Line(2000, 1500, 0.0, 100, 20)]
    # 150 pixels tall: 61 from the whole picture shrunk to 2 Mpixels, over the 48 the reader wants.
    assert closer.look(Finds([Line(450, 410, 0.0, 600, 150)]), gray, found) is None
    assert closer.look(Finds([]), gray, found) is None  # nothing found closer: the first look stands
    small = Finds(found)
    assert closer.look(small, np.full((960, 1280), 200.0), [Line(640, 480, 0.0, 100, 20)]) is None
    assert small.looks == 0  # a picture within 2 Mpixels has no pixels to gain: no second look


def test_a_part_larger_than_its_writing_needs_is_shrunk_by_whole_steps_keeping_the_lines_48_tall():
    gray = np.full((6000, 8000), 200, np.uint8)  # 48 Mpixels: the reader sees it 0.204 times as large
    found = [Line(4000, 3000, 0.0, 60, 130)]
    # 130 pixels tall: 27 from the whole picture. The part (1660 x 1730) is seen 0.834 times as
    # large, the line 108 pixels tall: halved, it stays over 48 and is still twice as large as before.
    part = closer.look(Finds([Line(830, 865, 0.0, 60, 130)]), gray, found)
    assert part is not None and part.scale == 2.0 and part.origin == (3170, 2135)
    assert part.lines[0].height == 65 and part.lines[0].cx == 415 and part.gray.shape == (865, 830)
