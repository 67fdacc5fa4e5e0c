"""Copy a line run (`mnistlab train --preset line`) into the package as the bundled line model.

    python tools/bundle_line_model.py RUN [--dest src/mnistlab/bundled/line]

Copies what reading needs (the ONNX model and its check record, line.json) and what describes the
run (config, metrics, history, the Keras model without optimizer state), checks that the copy loads
and reads a strip exactly as the run's ONNX model does, writes a short MODEL_CARD.md and swaps the
folder in whole.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--dest", help="default: bundled/line, or bundled/photoline for a photo line model")
    args = parser.parse_args()

    from mnistlab.reading.linemodel import LineModel
    from mnistlab.runs import open_run

    run = open_run(args.run)
    if not run.is_line:
        raise SystemExit(f"{run.path} is not a line run")

    def same(staging: Path) -> bool:
        rng = np.random.default_rng(0)
        strip = (rng.random((32, 96)) * 255).astype(np.float32)
        a, b = LineModel(run.path).probabilities([strip]), LineModel(staging).probabilities([strip])
        return np.array_equal(a[0], b[0])

    photo = run.config["recipe"].get("world", "ink") == "photo"
    if photo and not (run.path / "verdict.json").is_file():
        raise SystemExit(f"{run.path} has no verdict.json: learn it first with tools/fit_verdict.py {run.path}")
    dest = Path(args.dest or REPO / "src" / "mnistlab" / "bundled" / ("photoline" if photo else "line"))
    install(run, dest, "line.json", same, photo_card(run) if photo else card(run))
    print(f"bundled line model {run.path} into {dest}")
    return 0


def install(run, dest: Path, info: str, same, model_card: str) -> None:
    """Copy a run's reading files and description into `dest` (staged beside it, checked with
    `same(staging)`, swapped in whole); the Keras model is saved without its optimizer state."""
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name in ("config.json", "metrics.json", "history.json", info, "model.onnx", "model.onnx.json"):
            shutil.copy2(run.path / name, staging / name)
        if (run.path / "verdict.json").is_file():  # a photo line model's learned verdict (tools/fit_verdict.py)
            shutil.copy2(run.path / "verdict.json", staging / "verdict.json")
        for name in json.loads((run.path / info).read_text()).get("partners", []):  # tools/pair_line_runs.py
            shutil.copytree(run.path / name, staging / name)
        run.load_model().save(staging / "model.keras")  # loaded with compile=False: no optimizer state
        if not same(staging):
            raise SystemExit(f"the copy in {staging} does not answer like {run.path}")
        (staging / "MODEL_CARD.md").write_text(model_card)
        for f in staging.rglob("*"):
            f.chmod(0o755 if f.is_dir() else 0o644)
        staging.chmod(0o755)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def card(run) -> str:
    m, cfg = run.metrics, run.config
    r = cfg["recipe"]
    info = json.loads((run.path / "line.json").read_text())
    return f"""# mnistlab bundled line model

`mnistlab read`, `/api/read` and `ml.read` read every line they find twice: digit by digit (the bundled
classifier, `../MODEL_CARD.md`) and whole, with this model, then combine the two (`--mode`).

## What it is
- **Architecture**: `{r["architecture"]}`: four 3x3 convolutions (16-32-64-64) over a 32-pixel strip,
  a dense layer and a bidirectional GRU (64 units each way); per column of 4 pixels, one of
  {len(info["vocab"]) + 1} classes: CTC's blank, the digits, `. , / - :` and `?` (a mark that is no digit).
  {m["params"]:,} parameters.
- **Data**: {m["train_lines"]:,} synthetic lines (`data/lines.py`): MNIST training digits (not the 5,000
  of the validation split) and the `train` fonts, 1-20 characters, gaps from wide to overlapping,
  baseline jitter, slant, pen width, blur, low resolution, coarse scans (a fifth of the handwritten
  lines: each digit's bitmap size-normalised into a box, counted in 8x8 cells and enlarged again),
  separators drawn with a pen, letters and scribbles as non-digits. Never the evaluation fonts, UCI
  digits or the benchmark's seeds.
- **Training**: {r["epochs"]} epochs, batch {r["batch_size"]}, one-cycle Adam (peak {r["learning_rate"]}),
  seed {cfg["seed"]}; {m["train_seconds"]:.0f} s of fit time on {cfg["machine"]["cpus"]} CPU cores
  ({cfg["machine"]["processor"]}). Re-train: `make bundled-line-model`.

## How well it reads (synthetic lines it never saw)
{measures(m)}
A line is accepted when its least sure character is read at {info["threshold"]:.3f} or more: the
lowest threshold at which validation lines were accepted-but-wrong at most
{100 * 0.005:.1f}% of the time. In `read`, where the digit-by-digit reading of a line differs, the line
model's reading is accepted only at 0.999 (`reading/combine.py`). Pictures: see the README's
line-reader table.
"""


def measures(m: dict) -> str:
    """The model card's table of what a line run measured on lines it never saw."""
    return f"""| measure | value |
|---|---|
| validation lines read exactly (MNIST validation digits, {m["test_lines"]:,}) | {100 * m["val_exact"]:.1f}% |
| test lines read exactly (MNIST test digits, {m["test_lines"]:,}) | {100 * m["test_exact"]:.1f}% |
| test character error rate | {100 * m["test_cer"]:.2f}% |
| test lines accepted / accepted but wrong | {100 * m["test_accepted"]:.1f}% / {100 * m["test_accepted_but_wrong"]:.2f}% |
"""


def start(recipe: dict) -> str:
    """Where a fine-tuned run's weights started, for its model card ("" for a run from random weights)."""
    if not recipe.get("start_from"):
        return ""
    return (
        f", on fresh lines (seed 1 draws other lines than seed 0), starting from the weights of "
        f"`{recipe['start_from']}` (model.keras SHA-256 `{recipe['start_sha256'][:16]}...`), the same recipe "
        "trained from random weights at seed 0"
    )


def photo_card(run) -> str:
    m, cfg = run.metrics, run.config
    r = cfg["recipe"]
    info = json.loads((run.path / "line.json").read_text())
    return f"""# mnistlab bundled photo line model

`mnistlab read`, `/api/read` and `ml.read` find the lines of writing with the bundled detector
(`../detector/`), cut each found line out of the photo, level, and read it with this model; the marks'
reading of the same lines stands beside it, and `reading/verdict.py` says which is kept and whether
it is sure (`--photo-lines`).

## What it is
- **Architecture**: `{r["architecture"]}` (`models/architectures.py`; the ink line model, `../line/`, is
  `crnn_small`): four 3x3 convolutions over a 32-pixel strip, a dense layer and a bidirectional GRU;
  per column of 4 pixels, one of
  {len(info["vocab"]) + 1} classes: CTC's blank, the digits, `. , / - :` and `?` (a mark that is no digit).
  {m["params"]:,} parameters.
- **Input**: the photo's own grey pixels around the line, its mean and spread taken out
  (`data/photolines.photo_strip`): no ink map, no rule about paper or light.
- **Data**: {m["train_lines"]:,} photographed lines (`data/photolines.py`): MNIST training digits (not the
  5,000 of the validation split), half re-drawn by a simulated pen from their skeletons (width,
  pressure, wobble), {100 * r.get("hands", 0.0):.0f}% of the handwritten lines written instead by a simulated hand from
  stroke templates (`data/hands.py`: digit forms MNIST's writers seldom use, upright slashes, commas
  written as ticks), and the `train` fonts; white, tinted, yellow, ruled, squared and receipt paper;
  ballpoint, black, red and green pen, grainy pencil, marker, carbon copies; a line above or below cut
  by the crop; uneven and low light, noise, glare, blur, motion, lines 8 to 64 pixels tall, JPEG.
  Never the evaluation fonts, UCI digits, the field fonts or the benchmarks' seeds.
- **Training**: {r["epochs"]} epochs, batch {r["batch_size"]}, one-cycle Adam (peak {r["learning_rate"]}),
  seed {cfg["seed"]}{start(r)}; {m["train_seconds"]:.0f} s of fit time on {cfg["machine"]["cpus"]} CPU cores
  ({cfg["machine"]["processor"]}). Re-train: `make bundled-photo-line-model`.

## How well it reads (photographed lines it never saw)
{measures(m)}
A line is sure when its least sure character is read at {info["threshold"]:.3f} or more: the lowest
threshold at which validation lines were accepted-but-wrong at most {100 * 0.005:.1f}% of the time.
Photos: see the README's reading tables.
{partners(run, info)}"""


def partners(run, info: dict) -> str:
    """The model card's section on a paired run's partners (`tools/pair_line_runs.py`), "" for none."""
    names = info.get("partners", [])
    if not names:
        return ""
    rows = []
    for name in names:
        cfg = json.loads((run.path / name / "config.json").read_text())
        m = json.loads((run.path / name / "metrics.json").read_text())
        r = cfg["recipe"]
        rows.append(
            f"| `{name}/` | `{r['architecture']}`, {r['epochs']} epochs at seed {cfg['seed']}{start(r)}; "
            f"{100 * r.get('hands', 0.0):.0f}% of handwritten lines by the simulated hand | "
            f"{100 * m['test_exact']:.1f}% |"
        )
    return f"""
## Partners
A line this model reads unsure is also read by the partners below, trained apart, and the reading
whose least sure character is the surest is kept; a line it reads sure keeps its own
(`reading/linemodel.py`). The verdict (`verdict.json`) is the one `tools/fit_verdict.py` learned
for this run.

| partner | what it is | test lines read exactly |
|---|---|---|
{chr(10).join(rows)}
"""


if __name__ == "__main__":
    raise SystemExit(main())
