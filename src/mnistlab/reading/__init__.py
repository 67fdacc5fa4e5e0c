"""A picture -> text: the number (or numbers, line by line) written in it.

    page.py    size, orientation-corrected pixels -> the sheet, even light, no ruled lines
    marks.py   ink -> components -> lines -> digit candidates and separators
    cuts.py    touching digits: candidate cuts scored by the classifier
    read.py    one batch through the model; the answer assembled top to bottom

`read_gray(gray, judge)` is the one public entry point (`Predictor.read` calls it).
"""

from mnistlab.reading.read import digits_only, read_gray, scale_boxes

__all__ = ["digits_only", "read_gray", "scale_boxes"]
