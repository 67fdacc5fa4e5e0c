"""Helpers the commands share: JSON and CSV output, which run a command uses, exit codes."""

from __future__ import annotations

import json
import sys


def print_json(obj, args) -> None:
    print(json.dumps(obj, indent=2 if args.pretty else None))


def run_and_files(args):
    """Which run a predict/read/serve command uses, and the image arguments left over."""
    from pathlib import Path

    from mnistlab.api import bundled_path
    from mnistlab.runs import open_run

    inputs = list(getattr(args, "inputs", []) or [])
    if args.run:
        return open_run(args.run), inputs
    if inputs:
        first = Path(inputs[0])
        looks_like_run = first.name == "latest" or (first.is_dir() and (first / "config.json").exists())
        if looks_like_run:
            return open_run(first), inputs[1:]
    return open_run(bundled_path()), inputs


def write_csv(path: str, columns: list[str], rows: list[dict]) -> None:
    import csv
    import io

    from mnistlab import atomic
    from mnistlab.batch.rowfiles import csv_cell

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    if path == "-":
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
    else:
        atomic.write_text(path, buf.getvalue())


def noun(run) -> str:
    return "digit" if list(run.class_names) == [str(d) for d in range(10)] else "known class"


def exit_for_errors(results) -> None:
    if any("error" in r for r in results):
        sys.exit(2 if all("error" in r for r in results) else 1)
