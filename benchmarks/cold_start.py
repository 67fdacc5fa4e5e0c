"""How fast mnistlab answers from a cold start, beside Tesseract, and how big the core install is.

    python benchmarks/cold_start.py [--pairs 5] [--no-install]

- `mnistlab read examples/number-2026.png` (onnxruntime, the default) and the same with
  `--engine keras` (the path every read took before), each paired with `tesseract` on the same file,
  alternating in one run: wall seconds and peak memory (the child's max RSS), medians and spread.
- `mnistlab serve`: seconds from start until `/livez` (else `/api/health`) answers, then the first
  `/api/read` of the example.
- commands that neither train nor evaluate (`presets`, `runs`, `--help`, `read --help`): wall
  seconds and peak memory, alternating, with `read` of the example beside them (target: 0.5 s).
- inference throughput on the batch path: onnxruntime against Keras (XLA), 10,000 MNIST test images,
  alternating pairs.
- the core install: a fresh venv, `pip install` of the built wheel with its dependencies (from pip's
  cache where it has them), its size on disk and whether TensorFlow came with it.

Writes benchmarks/results/cold-start-<date>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "examples" / "number-2026.png"
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env=None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} failed")
    return wall, usage.ru_maxrss / 1024, out


def spread(xs: list[float]) -> dict:
    return {
        "median": round(statistics.median(xs), 3),
        "min": round(min(xs), 3),
        "max": round(max(xs), 3),
        "all": [round(x, 3) for x in xs],
    }


def cold_reads(pairs: int) -> dict:
    commands = {
        "mnistlab read (onnx)": [str(BIN / "mnistlab"), "read", str(EXAMPLE)],
        "mnistlab read --engine keras": [str(BIN / "mnistlab"), "read", str(EXAMPLE), "--engine", "keras"],
        "tesseract": ["tesseract", str(EXAMPLE), "stdout", "--psm", "7", "-c", "tessedit_char_whitelist=0123456789"],
    }
    if not shutil.which("tesseract"):
        del commands["tesseract"]
    got: dict[str, dict[str, list]] = {k: {"seconds": [], "peak_mb": [], "output": []} for k in commands}
    for _ in range(pairs):
        for name, cmd in commands.items():  # alternating: each round runs every command once
            wall, mb, out = timed(cmd)
            got[name]["seconds"].append(wall)
            got[name]["peak_mb"].append(mb)
            got[name]["output"].append(out.strip())
    return {
        k: {"seconds": spread(v["seconds"]), "peak_mb": spread(v["peak_mb"]), "output": v["output"][0]}
        for k, v in got.items()
    }


def instant_commands(pairs: int) -> dict:
    """Commands that must answer without importing TensorFlow, alternating in one run."""
    mnistlab = str(BIN / "mnistlab")
    commands = {
        "mnistlab presets": [mnistlab, "presets"],
        "mnistlab runs": [mnistlab, "runs", str(REPO / "runs")],
        "mnistlab --help": [mnistlab, "--help"],
        "mnistlab read --help": [mnistlab, "read", "--help"],
        "mnistlab read (onnx)": [mnistlab, "read", str(EXAMPLE)],
    }
    got: dict[str, dict[str, list]] = {k: {"seconds": [], "peak_mb": []} for k in commands}
    for _ in range(pairs):
        for name, cmd in commands.items():
            wall, mb, _ = timed(cmd)
            got[name]["seconds"].append(wall)
            got[name]["peak_mb"].append(mb)
    return {k: {"seconds": spread(v["seconds"]), "peak_mb": spread(v["peak_mb"])} for k, v in got.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_ready(repeats: int, engine: str) -> dict:
    ready, first = [], []
    body = EXAMPLE.read_bytes()
    for _ in range(repeats):
        port = _free_port()
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(BIN / "mnistlab"), "serve", "--port", str(port), "--engine", engine],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.perf_counter() - start > 120:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.01)
            ready.append(time.perf_counter() - start)
            boundary = "mnistlabbench"
            data = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="n.png"\r\n'
                    f"Content-Type: image/png\r\n\r\n"
                ).encode()
                + body
                + f"\r\n--{boundary}--\r\n".encode()
            )
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/read",
                data=data,
                method="POST",
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            t = time.perf_counter()
            answer = json.loads(urllib.request.urlopen(req, timeout=30).read())
            first.append(time.perf_counter() - t)
            assert answer["text"] == "2026", answer
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"ready_seconds": spread(ready), "first_answer_ms": spread([1000 * f for f in first])}


def throughput(pairs: int) -> dict:
    import mnistlab as ml
    from mnistlab.inference import engine as inference
    from mnistlab.runs import RunDir

    x = ml.load_dataset("mnist").x_test.astype("float32")
    run = RunDir(ml.bundled_path())
    engines = {"onnx": inference.load(run, "onnx"), "keras": inference.load(run, "keras")}
    for m in engines.values():
        m.predict_proba(x[:2048])  # warm: compiled shapes, thread pools
    rates: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(pairs):
        for name, m in engines.items():
            t = time.perf_counter()
            m.predict_proba(x)
            rates[name].append(len(x) / (time.perf_counter() - t))
    out = {k: spread(v) for k, v in rates.items()}
    out["ratio_onnx_over_keras"] = spread([a / b for a, b in zip(rates["onnx"], rates["keras"])])
    return out


def core_install() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(REPO),
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(tmp / "dist"),
                "-q",
            ],
            check=True,
        )
        (wheel,) = (tmp / "dist").glob("mnistlab-*.whl")
        subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
        py = tmp / "venv" / "bin" / "python"
        before = _du(tmp / "venv")
        t = time.perf_counter()
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], check=True)
        seconds = time.perf_counter() - t
        site = Path(
            subprocess.check_output(
                [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
            ).strip()
        )
        biggest = sorted(((p.name, _du(p)) for p in site.iterdir() if p.is_dir()), key=lambda kv: -kv[1])[:8]
        freeze = subprocess.check_output([py, "-m", "pip", "list", "--format=freeze"], text=True)
        return {
            "venv_mb": round(_du(tmp / "venv"), 1),
            "empty_venv_mb": round(before, 1),
            "pip_install_seconds_cached": round(seconds, 1),
            "tensorflow_installed": "tensorflow==" in freeze.lower(),
            "largest_packages_mb": {k: round(v, 1) for k, v in biggest},
        }


def _du(path: Path) -> float:
    return int(subprocess.check_output(["du", "-sk", str(path)], text=True).split()[0]) / 1024


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return {"cpu": cpu, "cores": os.cpu_count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--no-install", action="store_true", help="skip the fresh-venv install")
    parser.add_argument(
        "--instant-only", action="store_true", help="only the commands that must answer at once (presets, runs, --help)"
    )
    args = parser.parse_args()
    if args.instant_only:
        report = {
            "date": dt.date.today().isoformat(),
            "machine": machine(),
            "instant_commands": instant_commands(args.pairs),
        }
        out = HERE / "results" / f"instant-commands-{report['date']}.json"
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report, indent=2))
        print(f"\nwritten to {out}")
        return 0
    report = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "cold_read": cold_reads(args.pairs),
        # Before anything loads TensorFlow here: a child's peak memory starts at this process's size
        # when it forks (Linux keeps the high-water mark across exec), so these come first.
        "instant_commands": instant_commands(args.pairs),
        "serve": {"onnx": serve_ready(args.pairs, "onnx"), "keras": serve_ready(2, "keras")},
        "throughput_images_per_s": throughput(args.pairs),
    }
    if not args.no_install:
        report["core_install"] = core_install()
    out = HERE / "results" / f"cold-start-{report['date']}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
