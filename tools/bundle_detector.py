"""Copy a detector run (`mnistlab train --preset detector`) into the package as the bundled detector.

    python tools/bundle_detector.py RUN [--dest src/mnistlab/bundled/detector]

Copies what reading needs (the ONNX model and its check record, detector.json) and what describes the
run (config, metrics, history, the Keras model without optimizer state), checks that the copy maps a
picture exactly as the run's ONNX model does, writes a short MODEL_CARD.md and swaps the folder in whole.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))


def main() -> int:
    from bundle_line_model import install

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--dest", default=str(REPO / "src" / "mnistlab" / "bundled" / "detector"))
    args = parser.parse_args()

    from mnistlab.reading.detect import Detector
    from mnistlab.runs import open_run

    run = open_run(args.run)
    if not run.is_detector:
        raise SystemExit(f"{run.path} is not a detector run")

    def same(staging: Path) -> bool:
        picture = np.random.default_rng(0).uniform(0, 255, (240, 320))
        return np.array_equal(Detector(run.path).core_map(picture)[0], Detector(staging).core_map(picture)[0])

    install(run, Path(args.dest), "detector.json", same, card(run))
    print(f"bundled detector {run.path} into {args.dest}")
    return 0


def card(run) -> str:
    m, cfg = run.metrics, run.config
    r = cfg["recipe"]
    info = json.loads((run.path / "detector.json").read_text())
    return f"""# mnistlab bundled text detector

`mnistlab read`, `/api/read`, the page and `ml.read` find the writing in a picture with this model
first: the picture is turned so the lines run level and scaled so they are one height
(`reading/detect.py`), and a reading that leaves out a line it found is never sure. `--detector off`
reads the picture as it is.

## What it is
- **Architecture**: `{r["architecture"]}`: a small U-Net over the grey picture (shrunk to at most 768
  pixels on its longer side, standardized): strided 3x3 convolutions down to a sixteenth (16-24-32-48
  filters, the deepest dilated), back up to a quarter; per 4x4 cell, whether it is a line's core (the
  middle half of its height). {m["params"]:,} parameters.
- **Data**: {m["train_pages"]:,} synthetic photos of pages (`data/pages.py`): one to three lines of MNIST
  training digits (not the 5,000 of the validation split) or `train` fonts, separators, a line of
  letters now and then, two numbers side by side; white, tinted, ruled and squared paper and receipts
  on wood, dark, light or cloth tables, turned up to 30 degrees, in perspective; ballpoint, pen,
  pencil, marker; a pen, a coffee ring or scribbles beside it; uneven and low light with noise,
  glare, motion blur, defocus, JPEG. Never the evaluation fonts, UCI digits or the benchmarks' photos.
- **Training**: {r["epochs"]} epochs, batch {r["batch_size"]} of 256-pixel windows, one-cycle Adam (peak
  {r["learning_rate"]}), cross-entropy plus Dice loss, seed {cfg["seed"]}; {m["train_seconds"]:.0f} s of fit
  time on {cfg["machine"]["cpus"]} CPU cores ({cfg["machine"]["processor"]}). Re-train: `make bundled-detector`.

## How well it finds lines (synthetic pages it never saw)
| measure | value |
|---|---|
| validation pages with every line found once ({m["test_pages"]:,}) | {100 * m["val_pages_exact"]:.1f}% |
| test pages with every line found once (MNIST test digits, {m["test_pages"]:,}) | {100 * m["test_pages_exact"]:.1f}% |
| test lines found | {100 * m["test_line_recall"]:.1f}% |
| test found lines that are lines | {100 * m["test_line_precision"]:.1f}% |
| test cell intersection over union | {100 * m["test_iou"]:.1f}% |

A cell is a line's core at probability {info["threshold"]:.2f} or more: the threshold with the most
validation pages whose lines were each found once. Photos: see the README's reading tables.
"""


if __name__ == "__main__":
    raise SystemExit(main())
