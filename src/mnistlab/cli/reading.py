"""Commands that answer with a model: `predict` (single digits) and `read` (numbers in pictures)."""

from __future__ import annotations

import os
import sys

from mnistlab.cli.common import exit_for_errors, noun, print_json, run_and_files, write_csv
from mnistlab.cli.parser import PREDICT_CSV_COLUMNS, READ_CSV_COLUMNS


def cmd_predict(args) -> None:
    from mnistlab.errors import MnistlabError
    from mnistlab.reading.predictor import predict_files, predict_test

    run, files = run_and_files(args)
    if bool(files) == bool(args.test_index):
        raise MnistlabError("give either --test-index RANGE or image files, not both or neither")
    if args.test_index:
        results = predict_test(run, args.test_index, args.dataset, tta=args.tta, engine=args.engine)
    else:
        results = predict_files(run, files, tta=args.tta, engine=args.engine)
    if args.csv == "-" and args.json:
        raise MnistlabError("only one of --json and --csv - can write to standard output")
    if args.csv:
        write_csv(args.csv, PREDICT_CSV_COLUMNS, results)
    if args.json:
        print_json(results, args)
    elif args.csv != "-":
        for r in results:
            where = f"test[{r['index']}]" if "index" in r else r["file"]
            if "error" in r:
                print(f"{where}: error: {r['error']}", file=sys.stderr)
                continue
            top = sorted(range(len(r["probabilities"])), key=lambda k: -r["probabilities"][k])[:3]
            tops = "  ".join(f"{run.class_names[k]}:{r['probabilities'][k]:.3f}" for k in top)
            truth = f"  (true {run.class_names[r['true']]})" if "true" in r else ""
            if r["accepted"]:
                print(f"{where}: {r['label']}{truth}   confidence {r['confidence']:.3f}   top: {tops}")
            else:
                print(
                    f"{where}: ?{truth}  (not sure: best guess {r['label']}, confidence {r['confidence']:.2f}; "
                    f"it may not be a {noun(run)})"
                )
    exit_for_errors(results)


def cmd_read(args) -> None:
    from mnistlab.batch.many import ReadOptions
    from mnistlab.batch.rowfiles import RowFile
    from mnistlab.batch.stream import Tally, read_stream
    from mnistlab.errors import MnistlabError
    from mnistlab.files import pictures

    run, patterns = run_and_files(args)
    if not patterns:
        raise MnistlabError("name at least one picture, folder or glob to read")
    if args.jobs is not None and args.jobs < 1:
        raise MnistlabError("--jobs must be at least 1")
    if args.resume and not (args.jsonl or args.csv):
        raise MnistlabError("--resume goes on with an output file: add --jsonl FILE or --csv FILE")
    if "-" in (args.jsonl, args.csv) and (args.json or args.jsonl == args.csv):
        raise MnistlabError("only one of --json, --jsonl - and --csv - can write to standard output")
    listing = pictures(patterns)
    if args.annotate:
        os.makedirs(args.annotate, exist_ok=True)
    options = ReadOptions(
        run=str(run.path),
        tta=args.tta,
        engine=args.engine,
        lines=args.lines,
        mode=args.mode,
        detector=args.detector,
        photo=args.photo_lines,
        digits_only=args.digits_only,
        annotate=args.annotate,
    )
    if args.ray:
        from mnistlab.batch.cluster import connect

        connect(args.ray, cpus=args.jobs)  # an unreachable cluster is one sentence, before any file is touched
    outputs = []
    try:
        if args.jsonl:
            outputs.append(RowFile(args.jsonl, "jsonl", resume=args.resume))
        if args.csv:
            outputs.append(RowFile(args.csv, "csv", READ_CSV_COLUMNS, resume=args.resume, cells=_read_csv_cells))
        human = not args.json and "-" not in (args.jsonl, args.csv)
        tally = Tally(skipped=listing.skipped)
        collected = []
        bar = _progress_bar(len(listing.files)) if len(listing.files) > 1 else None
        try:
            for row in read_stream(listing.files, options, outputs, jobs=args.jobs, ray=args.ray, tally=tally):
                if args.json:
                    collected.append(row)
                elif human:
                    _say_reading(row, bar)
                if bar is not None:
                    bar.update()
        finally:
            if bar is not None:
                bar.close()
        for out in outputs:
            out.finish()
    finally:
        for out in outputs:
            out.close()
    if args.json:
        print_json(collected, args)
    if len(listing.files) > 1 or tally.resumed or tally.skipped:
        print(tally.summary(), file=sys.stderr)
    if tally.exit_status:
        sys.exit(tally.exit_status)


def _read_csv_cells(row: dict) -> dict:
    """A `read` CSV row: the lowest digit confidence stands for the reading's."""
    return {**row, "confidence": min((d["confidence"] for d in row.get("digits", [])), default=None)}


def _say_reading(row: dict, bar=None) -> None:
    """One reading for a person: the text on stdout (lines under each other) and either "read" or
    "not sure: <why, and what to do>"; an error on stderr."""
    if "error" in row:
        _emit(f"{row['file']}: error: {row['error']}", sys.stderr, bar)
        return
    if row["accepted"]:
        lowest = min(d["confidence"] for d in row["digits"])
        status = f"read, lowest confidence {lowest:.2f}"
    else:
        status = f"not sure: {row.get('note') or 'check the reading'}"
    lines = (row["text"] or "-").split("\n")
    text = "\n".join(
        [f"{row['file']}: {lines[0]}  ({status})"] + [f"{' ' * (len(row['file']) + 2)}{line}" for line in lines[1:]]
    )
    if row.get("annotated"):
        text += f"\n  annotated: {row['annotated']}"
    _emit(text, sys.stdout, bar)


def _emit(text: str, stream, bar) -> None:
    if bar is None:
        print(text, file=stream, flush=True)
    else:
        bar.write(text, file=stream)


def _progress_bar(total: int):
    """A progress bar with rate and ETA on a terminal's stderr; None where stderr is no terminal."""
    if not sys.stderr.isatty():
        return None
    import shutil

    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: reading workers are forked from this process
    # A terminal that reports no size (a bare pty) counts as 80x24: tqdm would draw an empty bar.
    size = shutil.get_terminal_size()
    return tqdm(total=total, unit=" pictures", file=sys.stderr, ncols=size.columns, nrows=size.lines, leave=False)
