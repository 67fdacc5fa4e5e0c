"""Command-line interface: argument parsing only; every command calls one library function.

parser.py    the parser: every command and option (`mnistlab --help`)
datasets.py  data fetch | info
training.py  presets, train, evaluate, plot, runs, compare, report, export
reading.py   predict, read
serving.py   serve
"""

from __future__ import annotations

import os
import sys

from mnistlab.cli.datasets import cmd_data
from mnistlab.cli.parser import build_parser
from mnistlab.cli.reading import cmd_predict, cmd_read
from mnistlab.cli.serving import cmd_serve
from mnistlab.cli.training import (
    cmd_compare,
    cmd_evaluate,
    cmd_export,
    cmd_plot,
    cmd_presets,
    cmd_report,
    cmd_runs,
    cmd_train,
)

__all__ = ["build_parser", "main"]

NEEDS_TENSORFLOW = {"train", "evaluate", "export", "plot", "compare", "report"}


COMMANDS = {
    "data": cmd_data,
    "presets": cmd_presets,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "read": cmd_read,
    "plot": cmd_plot,
    "runs": cmd_runs,
    "compare": cmd_compare,
    "report": cmd_report,
    "export": cmd_export,
    "serve": cmd_serve,
}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.debug:
        os.environ["MNISTLAB_DEBUG"] = "1"  # native libraries may speak too
    from mnistlab.errors import MnistlabError

    try:
        if args.command in NEEDS_TENSORFLOW or getattr(args, "engine", "onnx") == "keras":
            from mnistlab.extras import import_tensorflow

            import_tensorflow(debug=args.debug)
        COMMANDS[args.command](args)
    except MnistlabError as exc:
        if args.debug:
            raise
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnistlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`mnistlab evaluate RUN | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"mnistlab: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
        )
        return 1
    return 0
