"""`make bench`: the references and our presets, one after another on the same machine, in one run.

Each entry runs in a fresh Python process (no TF state carries over). The tutorial and `seed` run in
alternating pairs (tutorial, seed, tutorial, seed, ...) so that each ratio compares neighbours in
time; the summary gives the median of the per-pair ratios and their spread. Every preset row also
shows its accuracy on digits that are not MNIST (UCI handwriting, printed fonts: the reading
benchmark's sets). Results go to benchmarks/results/<date>.json and the table in benchmarks/README.md.

    python benchmarks/bench.py --quick            # `make bench-quick`: references once, seed/fast repeated
    python benchmarks/bench.py                    # `make bench`: adds best x3 (long on 2 cores)
    python benchmarks/bench.py --only tutorial#1 seed#1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = 3
QUICK = (
    [e for k in range(1, PAIRS + 1) for e in (f"tutorial#{k}", f"seed#{k}")]
    + ["keras_io"]
    + [f"fast-{s}" for s in range(5)]
)
ENTRIES = QUICK + ["best-0", "best-1", "best-2", "ensemble"]


def _throughput(fn, n: int, repeats: int = 3) -> float:
    fn()  # warm-up: tracing / compilation is not inference
    best = min(_timed(fn) for _ in range(repeats))
    return n / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _time_to(curve, target=0.99):
    return next((round(t, 2) for t, acc in curve if acc >= target), None)


def run_one(name: str, sets_path: str | None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(HERE))
    from mnistlab.data.datasets import load_mnist

    ds = load_mnist(fetch=False)
    name = name.split("#")[0]  # tutorial#2 is the tutorial's second run
    if name in ("tutorial", "keras_io"):
        import references

        res = getattr(references, "tutorial" if name == "tutorial" else "keras_io_convnet")(ds)
        model, x_test = res.pop("model"), res.pop("x_test")
        # The reference way to predict: model.predict over the 10k test set.
        res["inference_images_per_s"] = _throughput(lambda: model.predict(x_test, verbose=0), len(x_test))
        res["time_to_99_seconds"] = _time_to(res.pop("curve"))
        res["params"] = int(model.count_params())
        return res
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.evaluate import predict_proba
    from mnistlab.training.train import train

    preset, _, seed = name.partition("-")
    out = Path(tempfile.mkdtemp(prefix=f"mnistlab-bench-{name}-")) / "run"
    run = train(TrainOptions(preset=preset, seed=int(seed or 0), out=str(out), verbose=0))
    m = run.metrics
    model = run.load_model()
    x_test = ds.x_test.astype("float32")
    result = {
        "test_accuracy": m["test_accuracy"],
        "test_loss": m["test_loss"],
        "fit_seconds": m["train_seconds"],
        "time_to_99_seconds": m["time_to_99_seconds"],
        "params": m["params"],
        "epochs": m["epochs"],
        "run": str(run.path),
        "inference_images_per_s": _throughput(lambda: predict_proba(model, x_test), len(x_test)),
    }
    if sets_path:
        import numpy as np

        sets = np.load(sets_path)
        for key in ("uci", "printed", "handwriting_fonts"):
            probs = predict_proba(model, sets[f"{key}_x"].astype("float32"))
            result[f"{key}_accuracy"] = round(float((probs.argmax(1) == sets[f"{key}_y"]).mean()), 4)
    if name in ("seed", "fast-0"):
        from mnistlab.export.formats import export_run, onnx_session

        onnx_path = export_run(run, "onnx")["path"]
        sess = onnx_session(Path(onnx_path))
        feed = {sess.get_inputs()[0].name: x_test}
        result["onnxruntime_images_per_s"] = _throughput(lambda: sess.run(None, feed), len(x_test))
    return result


def run_ensemble(member_paths: list[str], sets_path: str | None) -> dict:
    """The `best` runs of this bench averaged (as `train --ensemble` does), with and without TTA.

    Members, ensemble and TTA gain are reported apart; the number of TTA views is chosen on the
    members' validation split (the last 5,000 training images), never on the test set.
    """
    import numpy as np

    from mnistlab.data.datasets import load_mnist
    from mnistlab.data.views import CHOICES
    from mnistlab.models.presets import Recipe
    from mnistlab.runs import RunDir
    from mnistlab.training.core import TrainOptions, split_train
    from mnistlab.training.ensemble import average_models
    from mnistlab.training.evaluate import predict_proba

    ds = load_mnist(fetch=False)
    runs = [RunDir(Path(p)) for p in member_paths]
    recipe = Recipe.from_dict(runs[0].config["recipe"])
    _, _, x_val, y_val = split_train(ds, recipe, TrainOptions(preset=recipe.preset))
    x_test = ds.x_test.astype("float32")

    def scores(model) -> dict:
        out = {}
        for views in CHOICES:
            out[f"val_accuracy_tta{views}"] = round(
                float((predict_proba(model, x_val, tta=views).argmax(1) == y_val).mean()), 5
            )
            out[f"test_accuracy_tta{views}"] = round(
                float((predict_proba(model, x_test, tta=views).argmax(1) == ds.y_test).mean()), 5
            )
        return out

    members = [{"run": str(r.path), "fit_seconds": r.metrics["train_seconds"], **scores(r.load_model())} for r in runs]
    model = average_models([r.load_model() for r in runs])
    ens = scores(model)
    chosen = max(CHOICES, key=lambda v: (ens[f"val_accuracy_tta{v}"], -v))
    result = {
        "members": members,
        "ensemble": ens,
        "tta_views_chosen_on_validation": chosen,
        "test_accuracy": ens[f"test_accuracy_tta{chosen}"],
        "test_accuracy_without_tta": ens["test_accuracy_tta1"],
        "tta_gain_points": round(100 * (ens[f"test_accuracy_tta{chosen}"] - ens["test_accuracy_tta1"]), 3),
        "members_mean_test_accuracy": round(float(np.mean([m["test_accuracy_tta1"] for m in members])), 5),
        "fit_seconds": round(sum(m["fit_seconds"] for m in members), 2),
        "time_to_99_seconds": None,
        "params": int(model.count_params()),
        "epochs": recipe.epochs,
        "inference_images_per_s": _throughput(lambda: predict_proba(model, x_test, tta=chosen), len(x_test)),
    }
    if sets_path:
        sets = np.load(sets_path)
        for key in ("uci", "printed", "handwriting_fonts"):
            probs = predict_proba(model, sets[f"{key}_x"].astype("float32"), tta=chosen)
            result[f"{key}_accuracy"] = round(float((probs.argmax(1) == sets[f"{key}_y"]).mean()), 4)
    return result


def write_sets(path: Path) -> Path:
    """The reading benchmark's single-digit sets (UCI, printed and handwriting fonts), prepared once."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from reading import build_sets

    singles = build_sets(n_numbers=0, n_nondigits=0)["singles"]
    np.savez(path, **{f"{k}_{part}": arr for k, (x, y) in singles.items() for part, arr in (("x", x), ("y", y))})
    return path


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import tensorflow as tf

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "auto (all cores)",
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "auto",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def summarize(results: dict) -> dict:
    import statistics

    out = {}
    pairs = [
        (results[f"tutorial#{k}"], results[f"seed#{k}"])
        for k in range(1, PAIRS + 1)
        if f"tutorial#{k}" in results and f"seed#{k}" in results
    ]
    if pairs:
        ratios = [t["fit_seconds"] / s["fit_seconds"] for t, s in pairs]
        out["seed_speedup_vs_tutorial_median"] = round(statistics.median(ratios), 2)
        out["seed_speedup_vs_tutorial_pairs"] = [round(r, 2) for r in ratios]
        out["seed_inference_speedup_vs_tutorial_median"] = round(
            statistics.median(s["inference_images_per_s"] / t["inference_images_per_s"] for t, s in pairs), 2
        )
    for preset in ("fast", "best"):
        runs = [r for k, r in results.items() if k.startswith(preset + "-")]
        if runs:
            out[f"{preset}_runs"] = len(runs)
            out[f"{preset}_mean_accuracy"] = round(statistics.mean(r["test_accuracy"] for r in runs), 5)
            out[f"{preset}_median_fit_seconds"] = round(statistics.median(r["fit_seconds"] for r in runs), 2)
            out[f"{preset}_fit_seconds_range"] = [
                round(min(r["fit_seconds"] for r in runs), 2),
                round(max(r["fit_seconds"] for r in runs), 2),
            ]
            if "uci_accuracy" in runs[0]:
                out[f"{preset}_mean_uci_accuracy"] = round(statistics.mean(r["uci_accuracy"] for r in runs), 4)
            if "keras_io" in results:
                out[f"{preset}_speedup_vs_keras_io"] = round(
                    results["keras_io"]["fit_seconds"] / out[f"{preset}_median_fit_seconds"], 2
                )
    if "ensemble" in results:
        e = results["ensemble"]
        out["ensemble_members"] = len(e["members"])
        out["ensemble_test_accuracy_without_tta"] = e["test_accuracy_without_tta"]
        out["ensemble_tta_views"] = e["tta_views_chosen_on_validation"]
        out["ensemble_test_accuracy"] = e["test_accuracy"]
        out["ensemble_tta_gain_points"] = e["tta_gain_points"]
        out["ensemble_fit_seconds"] = e["fit_seconds"]
    return out


def table(results: dict, ref_fit: dict) -> str:
    lines = [
        "| entry | MNIST test accuracy | fit s | UCI handwriting | printed fonts | speed-up vs reference "
        "| time to 99.0% (s) | inference img/s (Keras) | inference img/s (onnxruntime) | params |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ref = ref_fit.get(name)
        speed = f"{ref / r['fit_seconds']:.2f}× vs {ref_name(name)}" if ref else "reference"
        t99 = r.get("time_to_99_seconds")
        ort = r.get("onnxruntime_images_per_s")
        pct = lambda k, r=r: f"{100 * r[k]:.1f}%" if k in r else "—"
        cells = [
            name,
            f"{r['test_accuracy']:.4f}",
            f"{r['fit_seconds']:.1f}",
            pct("uci_accuracy"),
            pct("printed_accuracy"),
            speed,
            "—" if t99 is None else str(t99),
            f"{r['inference_images_per_s']:,.0f}",
            "—" if ort is None else f"{ort:,.0f}",
            f"{r['params']:,}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ref_name(name: str) -> str:
    return "its neighbouring tutorial run" if name.startswith("seed") else "keras-io convnet"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", choices=ENTRIES)
    parser.add_argument("--quick", action="store_true", help="references once, seed and fast repeated (no best)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--sets", help=argparse.SUPPRESS)
    parser.add_argument("--members", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help="suffix for the results file, e.g. the GPU name")
    args = parser.parse_args()
    if args.one == "ensemble":
        print(json.dumps(run_ensemble(args.members, args.sets)))
        return 0
    if args.one:
        print(json.dumps(run_one(args.one, args.sets)))
        return 0
    sets_path = write_sets(Path(tempfile.mkdtemp(prefix="mnistlab-bench-sets-")) / "sets.npz")
    results = {}
    for name in args.only or (QUICK if args.quick else ENTRIES):
        print(f"== {name}", flush=True)
        extra = []
        if name == "ensemble":
            extra = ["--members", *[r["run"] for k, r in results.items() if k.startswith("best-")]]
            if len(extra) < 3:
                print("ensemble: needs the best-N runs of this bench; skipped", file=sys.stderr)
                continue
        proc = subprocess.run(
            [sys.executable, __file__, "--one", name, "--sets", str(sets_path), *extra], capture_output=True, text=True
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(results[name]), flush=True)
    ref_fit = {
        f"seed#{k}": results[f"tutorial#{k}"]["fit_seconds"]
        for k in range(1, PAIRS + 1)
        if f"tutorial#{k}" in results and f"seed#{k}" in results
    }
    if "keras_io" in results:
        for k in results:
            if k.startswith(("fast", "best", "ensemble")):
                ref_fit[k] = results["keras_io"]["fit_seconds"]
    report = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
        "summary": summarize(results),
        "notes": "fit seconds exclude the per-epoch test probe; inference is the best of 3 passes "
        "over the 10k test set after a warm-up (references: model.predict; mnistlab: "
        "XLA-compiled batches of 2048)",
    }
    stamp = dt.date.today().isoformat() + ("-quick" if args.quick else "") + (f"-{args.label}" if args.label else "")
    out = HERE / "results" / f"{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    md = table(results, ref_fit)
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else ""
    kind = "bench-quick" if args.quick else "bench"  # each keeps its own table in the README
    start, end = f"<!-- {kind}:start -->", f"<!-- {kind}:end -->"
    block = (
        f"{start}\nResults of `{out.relative_to(HERE.parent)}` — {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, TF {report['machine']['tensorflow']}, "
        f"threads intra={report['machine']['tf_intra_op_threads']}:\n\n{md}\n\n"
        f"Summary: `{json.dumps(report['summary'])}`\n{end}"
    )
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text += "\n" + block + "\n"
    readme.write_text(text)
    print(md)
    print(json.dumps(report["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
