"""`make bench`: the references and our presets, one after another on the same machine, in one run.

Each entry runs in a fresh Python process (no TF state carries over). Results go to
benchmarks/results/<date>.json and the table in benchmarks/README.md.

    python benchmarks/bench.py                    # everything (best takes ~20 min on 2 cores)
    python benchmarks/bench.py --only tutorial seed fast
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
ENTRIES = ["tutorial", "keras_io", "seed", "fast-0", "fast-1", "fast-2", "best"]


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


def run_one(name: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(HERE))
    from mnistlab.data import load_mnist

    ds = load_mnist(fetch=False)
    if name in ("tutorial", "keras_io"):
        import references

        res = getattr(references, "tutorial" if name == "tutorial" else "keras_io_convnet")(ds)
        model, x_test = res.pop("model"), res.pop("x_test")
        # The reference way to predict: model.predict over the 10k test set.
        res["inference_images_per_s"] = _throughput(lambda: model.predict(x_test, verbose=0), len(x_test))
        res["time_to_99_seconds"] = _time_to(res.pop("curve"))
        res["params"] = int(model.count_params())
        return res
    from mnistlab.evaluate import predict_proba
    from mnistlab.training import TrainOptions, train

    preset, _, seed = name.partition("-")
    out = Path(tempfile.mkdtemp(prefix=f"mnistlab-bench-{name}-")) / "run"
    run = train(TrainOptions(preset=preset, seed=int(seed or 0), out=str(out), verbose=0))
    m = run.metrics
    model = run.load_model()
    x_test = ds.x_test.astype("float32")
    result = {"test_accuracy": m["test_accuracy"], "test_loss": m["test_loss"],
              "fit_seconds": m["train_seconds"], "time_to_99_seconds": m["time_to_99_seconds"],
              "params": m["params"], "epochs": m["epochs"], "run": str(run.path),
              "inference_images_per_s": _throughput(lambda: predict_proba(model, x_test), len(x_test))}
    if name in ("seed", "fast-0"):
        from mnistlab.export import export_run, onnx_session

        onnx_path = export_run(run, "onnx")["path"]
        sess = onnx_session(Path(onnx_path))
        feed = {sess.get_inputs()[0].name: x_test}
        result["onnxruntime_images_per_s"] = _throughput(lambda: sess.run(None, feed), len(x_test))
    return result


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import tensorflow as tf

    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "tensorflow": tf.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
            "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or "auto (all cores)",
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads() or "auto",
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def summarize(results: dict) -> dict:
    out = {}
    tut, kio = results.get("tutorial"), results.get("keras_io")
    if tut and "seed" in results:
        out["seed_speedup_vs_tutorial"] = round(tut["fit_seconds"] / results["seed"]["fit_seconds"], 2)
        out["seed_inference_speedup_vs_tutorial"] = round(
            results["seed"]["inference_images_per_s"] / tut["inference_images_per_s"], 2)
    fast = [results[k] for k in ("fast-0", "fast-1", "fast-2") if k in results]
    if fast:
        out["fast_mean_accuracy"] = round(sum(r["test_accuracy"] for r in fast) / len(fast), 5)
        out["fast_mean_fit_seconds"] = round(sum(r["fit_seconds"] for r in fast) / len(fast), 2)
        if kio:
            out["fast_speedup_vs_keras_io"] = round(kio["fit_seconds"] / out["fast_mean_fit_seconds"], 2)
    return out


def table(results: dict, ref_fit: dict) -> str:
    lines = ["| entry | test accuracy | fit s | speed-up vs reference | time to 99.0% (s) | inference img/s (Keras) "
             "| inference img/s (onnxruntime) | params |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        ref = ref_fit.get(name)
        speed = f"{ref / r['fit_seconds']:.2f}× vs {ref_name(name)}" if ref else "reference"
        t99 = r.get("time_to_99_seconds")
        ort = r.get("onnxruntime_images_per_s")
        cells = [name, f"{r['test_accuracy']:.4f}", f"{r['fit_seconds']:.1f}", speed,
                 "—" if t99 is None else str(t99), f"{r['inference_images_per_s']:,.0f}",
                 "—" if ort is None else f"{ort:,.0f}", f"{r['params']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ref_name(name: str) -> str:
    return "tutorial" if name == "seed" else "keras-io convnet"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", choices=ENTRIES)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--label", default="", help="suffix for the results file, e.g. the GPU name")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0
    results = {}
    for name in args.only or ENTRIES:
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(results[name]), flush=True)
    ref_fit = {}
    if "tutorial" in results:
        ref_fit["seed"] = results["tutorial"]["fit_seconds"]
    if "keras_io" in results:
        for k in results:
            if k.startswith(("fast", "best")):
                ref_fit[k] = results["keras_io"]["fit_seconds"]
    report = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "results": results, "summary": summarize(results),
              "notes": "fit seconds exclude the per-epoch test probe; inference is the best of 3 passes "
                       "over the 10k test set after a warm-up (references: model.predict; mnistlab: "
                       "XLA-compiled batches of 2048)"}
    stamp = dt.date.today().isoformat() + (f"-{args.label}" if args.label else "")
    out = HERE / "results" / f"{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    md = table(results, ref_fit)
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else ""
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    block = (f"{start}\nResults of `{out.relative_to(HERE.parent)}` — {report['machine']['cpu']}, "
             f"{report['machine']['cores']} cores, TF {report['machine']['tensorflow']}, "
             f"threads intra={report['machine']['tf_intra_op_threads']}:\n\n{md}\n\n"
             f"Summary: `{json.dumps(report['summary'])}`\n{end}")
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    readme.write_text(text)
    print(md)
    print(json.dumps(report["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
