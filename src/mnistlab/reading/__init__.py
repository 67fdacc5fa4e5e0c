"""A picture -> text: the number (or numbers, line by line) written in it.

In the order a photo goes through:

    drawing.py    a drawing (a pad's canvas, a screenshot), not a photo: read without the detector
    detect.py     the learned text detector: each line's place, direction and height; the picture
                  levelled and sized to the writing (`normalize`)
    closer.py     writing in a small part of a large picture: that part, at the file's resolution
    page.py       size, orientation-corrected pixels -> the sheet, even light, no ruled lines
    marks.py      ink -> components -> lines -> digit candidates and separators
    cuts.py       touching digits: candidate cuts scored by the classifier
    linemodel.py  a line model at reading time (ink or photo), with its partners for unsure lines
    combine.py    per line: the digit-by-digit reading or the line model's, and how sure
    photoread.py  each found line cut from the photo itself, read by the photo line model
    verdict.py    the marks' reading or the photo's, learned, and how sure
    fields.py     times and dates must be possible ones
    read.py       one batch through the model; the answer assembled top to bottom
    reasons.py    why a reading is not sure, in words a user can act on
    predictor.py  a run's model and calibration, loaded once: single digits and pictures
    annotate.py   the picture with the boxes drawn

`read_gray(gray, judge)` is the one public entry point (`Predictor.read` calls it).
"""

from mnistlab.reading.read import digits_only, read_gray, scale_boxes

__all__ = ["digits_only", "read_gray", "scale_boxes"]
