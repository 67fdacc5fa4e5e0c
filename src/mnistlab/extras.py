"""Optional parts of mnistlab and the one sentence that says how to get a missing one.

`pip install mnistlab` is the reader (numpy, Pillow, onnxruntime, cc3d and the server);
`mnistlab[train]` adds TensorFlow/Keras, TensorBoard, tf2onnx, LiteRT and matplotlib; `mnistlab[ray]`
adds Ray (reading on a cluster).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from mnistlab.errors import MnistlabError

WHAT = {
    "core": "mnistlab's reader",
    "train": "training, evaluation, plots and exports",
    "ray": "reading on a Ray cluster",
}


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
        raise MissingExtra(
            f"{WHAT.get(extra, extra)} needs {module}, which is not installed ({exc.name or module}): {hint}"
        ) from None


def import_tensorflow(debug: bool | None = None):
    """Import TensorFlow with its C++ start-up chatter (oneDNN notes, missing CUDA, absl warnings)
    hidden, as quietly from Python as from the CLI; `debug` (default: $MNISTLAB_DEBUG) keeps it all.

    Those lines are printed before TF's own log-level setting applies and say nothing a user can act
    on. Settings a user made in the environment are kept. Raises MissingExtra (one sentence: what to
    install) where TensorFlow is not installed.
    """
    if debug is None:
        debug = bool(os.environ.get("MNISTLAB_DEBUG"))
    if debug or "tensorflow" in sys.modules:
        return require("tensorflow", "train")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        tf = require("tensorflow", "train")
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
    return tf


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence what native libraries write straight to file descriptor 2 (not Python's sys.stderr),
    unless `--debug` asked for it (MNISTLAB_DEBUG)."""
    if os.environ.get("MNISTLAB_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
