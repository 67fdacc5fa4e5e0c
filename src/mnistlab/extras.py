"""Optional parts of mnistlab and the one sentence that says how to get a missing one.

`pip install mnistlab` is the reader (numpy, Pillow, onnxruntime, cc3d and the server);
`mnistlab[train]` adds TensorFlow/Keras, TensorBoard, tf2onnx, LiteRT and matplotlib; `mnistlab[ray]`
adds Ray (reading on a cluster).
"""

from __future__ import annotations

import importlib

from .errors import MnistlabError

WHAT = {"core": "mnistlab's reader", "train": "training, evaluation, plots and exports",
        "ray": "reading on a Ray cluster"}


class MissingExtra(MnistlabError):
    """A command needs a package of an extra that is not installed."""


def require(module: str, extra: str):
    """Import `module`, or raise MissingExtra naming exactly what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if extra == "core":
            hint = "pip install --force-reinstall mnistlab"
        else:
            hint = f"pip install 'mnistlab[{extra}]'"
        raise MissingExtra(f"{WHAT.get(extra, extra)} needs {module}, which is not installed "
                           f"({exc.name or module}): {hint}") from None
