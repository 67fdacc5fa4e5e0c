"""Commands that train or judge models: `presets`, `train`, `evaluate`, `plot`, `runs`, `compare`,
`report`, `export`."""

from __future__ import annotations

import os

from mnistlab.cli.common import print_json


def cmd_presets(args) -> None:
    from mnistlab.models.presets import PRESETS

    rows = [
        {
            "name": p.name,
            "params": p.params,
            "expected_accuracy": p.expected_accuracy,
            "expected_time_2_cpu_cores": p.expected_seconds,
            "summary": p.summary,
        }
        for p in PRESETS.values()
    ]
    if args.json:
        print_json(rows, args)
        return
    print(f"{'preset':10} {'params':>9}  {'accuracy':>10}  {'time':>8}  recipe")
    for r in rows:
        print(
            f"{r['name']:10} {r['params']:>9,}  {r['expected_accuracy']:>10}  "
            f"{r['expected_time_2_cpu_cores']:>8}  {r['summary']}"
        )


def cmd_train(args) -> None:
    from mnistlab.errors import MnistlabError
    from mnistlab.models.presets import Recipe
    from mnistlab.runs import open_run
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.ensemble import train_ensemble
    from mnistlab.training.train import train

    opts = TrainOptions(
        preset=args.preset,
        dataset=args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        limit=args.limit,
        seed=0 if args.seed is None else args.seed,
        out=args.out,
        deterministic=not args.no_determinism,
        strategy=args.strategy,
        verbose=os.environ.get("MNISTLAB_VERBOSE", "auto"),
        start_from=args.start_from,
    )
    if args.start_from and (args.resume or args.ensemble > 1):
        raise MnistlabError("--start-from trains one new run: it cannot go with --resume or --ensemble")
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
        run = train(
            opts, recipe=recipe, link_latest=not args.no_latest, recorded_fonts=src.config if args.from_run else None
        )
    _print_run_summary(run)


def _print_run_summary(run) -> None:
    if not run.metrics_path.exists():
        print(f"worker finished; only the chief writes the run (this worker's model: {run.model_path})")
        return
    m = run.metrics
    print()
    if run.is_detector:
        print(
            f"test pages with every line found {m['test_pages_exact']:.4f}   lines found {m['test_line_recall']:.4f}   "
            f"fit {m['train_seconds']:.1f} s   {m['params']:,} params"
        )
    elif run.is_line:
        print(
            f"test lines read right {m['test_exact']:.4f}   character error rate {m['test_cer']:.4f}   "
            f"fit {m['train_seconds']:.1f} s   {m['params']:,} params"
        )
    else:
        print(
            f"test accuracy {m['test_accuracy']:.4f}   test loss {m['test_loss']:.4f}   "
            f"fit {m['train_seconds']:.1f} s   {m['params']:,} params"
        )
    print(f"run           {run.path}")
    print(f"  model       {run.model_path} (answers come from model.onnx beside it)")
    print(f"  metrics     {run.metrics_path}")
    special = run.is_line or run.is_detector
    print(f"  plots       {run.plots_dir}/{'' if special else 'samples.png, '}curves.png")
    if run.is_line:
        photo = run.config["recipe"].get("world", "ink") == "photo"
        print(f"  read with   mnistlab read --{'photo-lines' if photo else 'lines'} {run.path} PICTURE")
    if run.is_detector:
        print(f"  read with   mnistlab read --detector {run.path} PICTURE")
    print(f"  tensorboard tensorboard --logdir {run.path}")


def cmd_evaluate(args) -> None:
    from mnistlab.data.datasets import load_dataset
    from mnistlab.runs import open_run
    from mnistlab.training.evaluate import evaluate_run

    run = open_run(args.run)
    if run.is_detector:
        m = run.metrics
        keys = ("val_pages_exact", "val_line_recall", "test_pages", "test_iou", "test_line_recall")
        keys += ("test_line_precision", "test_pages_exact", "threshold")
        if args.json:
            print_json({k: m.get(k) for k in keys}, args)
            return
        print(f"a text detector; measured when it was trained, on {m.get('test_pages')} synthetic test pages:")
        print(
            f"Pages with every line found once: {m.get('test_pages_exact', 0):.4f}; lines found "
            f"{m.get('test_line_recall', 0):.4f}, of the found, real lines {m.get('test_line_precision', 0):.4f}"
        )
        print("On photos: python benchmarks/reading.py --photos 500 --field 150")
        return
    if run.is_line:
        m = run.metrics
        if args.json:
            print_json(
                {
                    k: m.get(k)
                    for k in (
                        "val_exact",
                        "val_cer",
                        "test_lines",
                        "test_exact",
                        "test_cer",
                        "test_accepted",
                        "test_accepted_but_wrong",
                        "threshold",
                    )
                },
                args,
            )
            return
        print(
            f"a line model; measured when it was trained, on {m.get('test_lines')} test lines "
            f"(MNIST test digits and training fonts):"
        )
        print(f"Lines read exactly: {m.get('test_exact', 0):.4f}; character error rate {m.get('test_cer', 0):.4f}")
        print(
            f"Accepted: {m.get('test_accepted', 0):.4f}, accepted but wrong: {m.get('test_accepted_but_wrong', 0):.4f} "
            f"(threshold {m.get('threshold')}, chosen on validation lines)"
        )
        print("On pictures: python benchmarks/reading.py --line-readers")
        return
    report = evaluate_run(run, load_dataset(args.dataset) if args.dataset else None, tta=args.tta)
    if args.json:
        print_json(report, args)
        return
    if not report["recorded_in_run"]:
        print(f"(on {report['dataset']}; not recorded in the run, which was trained on other data)")
    # The tutorial prints exactly these two numbers.
    print(f"Test accuracy: {report['test_accuracy']:.4f}")
    print(f"Test loss: {report['test_loss']:.4f}")
    print(f"Errors: {report['test_errors']} of {sum(r['support'] for r in report['per_class'])}")
    if report["tta"] > 1:
        print(
            f"(test-time augmentation: {report['tta']} views averaged; recorded under metrics.json "
            f'"tta" beside the plain numbers)'
            if report["recorded_in_run"]
            else f"(test-time augmentation: {report['tta']} views averaged)"
        )
    print()
    print(f"{'class':>12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>7}")
    for r in report["per_class"]:
        print(f"{r['class']:>12} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['support']:>7}")
    if report["recorded_in_run"]:
        print()
        print(f"plots: {run.plots_dir}/confusion.png, misclassified.png")


def cmd_plot(args) -> None:
    from mnistlab.data.datasets import load_dataset
    from mnistlab.runs import open_run
    from mnistlab.training.plots import plot_run

    run = open_run(args.run)
    for path in plot_run(run, load_dataset(run.config["dataset"]["spec"])):
        print(path)


def cmd_runs(args) -> None:
    from pathlib import Path

    from mnistlab.runs import list_runs

    rows = []
    for run in list_runs(Path(args.root)):
        try:
            cfg = run.config
            m = run.metrics if run.is_complete else {}
            rows.append(
                {
                    "name": run.name,
                    "preset": cfg["recipe"]["preset"],
                    "dataset": cfg["dataset"]["spec"],
                    "epochs": cfg["recipe"]["epochs"],
                    "test_accuracy": m.get("test_accuracy"),
                    "train_seconds": m.get("train_seconds"),
                    "status": run.status(),
                }
            )
        except Exception as exc:  # one damaged run must not hide the others
            rows.append({"name": run.name, "status": f"unreadable ({exc})"})
    if args.json:
        print_json(rows, args)
        return
    if not rows:
        print(f"no runs under {args.root}")
        return
    print(f"{'run':34} {'preset':7} {'dataset':8} {'epochs':>6} {'test acc':>8} {'fit s':>7}  status")
    for r in rows:
        acc = f"{r['test_accuracy']:.4f}" if r.get("test_accuracy") is not None else "-"
        sec = f"{r['train_seconds']:.1f}" if r.get("train_seconds") is not None else "-"
        print(
            f"{r['name']:34} {r.get('preset', '?'):7} {r.get('dataset', '?')[:8]:8} "
            f"{r.get('epochs', ''):>6} {acc:>8} {sec:>7}  {r['status']}"
        )


def cmd_compare(args) -> None:
    from pathlib import Path

    from mnistlab.runs import open_run
    from mnistlab.training.plots import plot_compare

    runs = [open_run(r) for r in args.runs]
    out_path = Path(args.out) if args.out else runs[0].path.resolve().parent / "compare.png"
    keys = [
        "preset",
        "dataset",
        "epochs",
        "params",
        "test_accuracy",
        "test_loss",
        "train_seconds",
        "time_to_99_seconds",
    ]
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
    from mnistlab.runs import open_run
    from mnistlab.training.report import write_report

    print(write_report(open_run(args.run)))


def cmd_export(args) -> None:
    from mnistlab.export.formats import export_run
    from mnistlab.extras import quiet_native_stderr
    from mnistlab.runs import open_run

    run = open_run(args.run)
    with quiet_native_stderr():  # the TFLite converter and LiteRT's runtime print to fd 2 directly
        result = export_run(run, args.format, args.out, quantize=args.quantize)
    print(
        f"{args.format}{' ' + args.quantize if args.quantize else ''} written to {result['path']} "
        f"(metadata: {result['metadata']})"
    )
    if args.quantize:
        r = result
        print(
            f"test accuracy {r['test_accuracy']:.4f} (float {r['float_test_accuracy']:.4f}: "
            f"{-r['accuracy_drop_points']:+.2f} points)"
        )
        print(
            f"size {r['bytes'] / 1024:.0f} KiB (float {r['float_bytes'] / 1024:.0f} KiB, {r['size_ratio']:.2f}x smaller)"
        )
        print(f"single-image latency {r['latency_ms']:.3f} ms (float {r['float_latency_ms']:.3f} ms, LiteRT, 1 thread)")
    else:
        print(
            f"parity on {result['checked']} test images: argmax agreement {result['argmax_agreement']:.4f}, "
            f"max |Δp| {result['max_abs_diff']:.2e}"
        )
