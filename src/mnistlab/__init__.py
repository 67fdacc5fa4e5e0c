"""mnistlab: train, judge, use and ship handwritten-digit readers with TensorFlow/Keras.

    import mnistlab as ml
    ml.read("meter.jpg")                      # the bundled reader: [{"text": "2026", ...}]
    for r in ml.read_many("scans/"): ...      # a folder on every core, each reading as it comes
    run = ml.train(preset="fast")             # your own model, in runs/
    run.predict("photo.png")

See `help(ml.Run)` and the README's "From Python" section.
"""

from mnistlab.api import Run, bundled_path, load_dataset, open_run, predict, presets, read, read_many, read_ray, train
from mnistlab.errors import MnistlabError
from mnistlab.version import __version__

__all__ = [
    "MnistlabError",
    "Run",
    "__version__",
    "bundled_path",
    "load_dataset",
    "open_run",
    "predict",
    "presets",
    "read",
    "read_many",
    "read_ray",
    "train",
]
