"""Train recipe variants side by side and score each on MNIST and on the reading benchmark's sets.

    python benchmarks/variants.py --seeds 0 1 2 --out results/variants-DATE.json \\
        'fast' 'fast:negatives=0,rendered_digits=0' 'fast:augment={"lowres": 0.3}'

A variant is PRESET[:field=value,...] (values are JSON), applied to the preset's recipe. Each row:
MNIST test accuracy, fit seconds, UCI / printed / handwriting-font accuracy, synthetic non-digits
rejected and real non-MNIST digits accepted at the run's own threshold. This is how the presets'
defaults were chosen (on these sets and the validation split, never on the MNIST test set alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def parse_variant(text: str):
    from mnistlab.models.presets import Recipe, get_preset

    preset, _, changes = text.partition(":")
    recipe = Recipe.from_dict(get_preset(preset).recipe.to_dict())
    for part in filter(None, _split(changes)):
        key, _, value = part.partition("=")
        setattr(recipe, key.strip(), json.loads(value))
    return preset, recipe


def _split(text: str):
    """Split on commas that are not inside braces (augment={"a": 1, "b": 2})."""
    depth, start = 0, 0
    for i, ch in enumerate(text):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from mnistlab.models.calibration import auroc
    from mnistlab.reading.predictor import Predictor
    from mnistlab.training.core import TrainOptions
    from mnistlab.training.train import train
    from reading import build_sets

    sets = build_sets(n_numbers=0, n_nondigits=1000)
    rows = []
    for text in args.variants:
        preset, _recipe = parse_variant(text)
        for seed in args.seeds:
            out = Path(tempfile.mkdtemp(prefix="mnistlab-variant-")) / "run"
            run = train(
                TrainOptions(preset=preset, seed=seed, out=str(out), verbose=0),
                recipe=parse_variant(text)[1],
                link_latest=False,
            )
            m, pred = run.metrics, Predictor(run)
            row = {
                "variant": text,
                "seed": seed,
                "test_accuracy": m["test_accuracy"],
                "fit_seconds": m["train_seconds"],
            }
            real_conf = []
            for name, (x, y) in sets["singles"].items():
                probs, conf, _ = pred.judge(x)
                row[f"{name}_accuracy"] = round(float((probs.argmax(1) == y).mean()), 4)
                real_conf.append(conf)
            real = np.concatenate(real_conf)
            _, neg_conf, neg_acc = pred.judge(sets["nondigits"])
            row["nondigits_rejected"] = round(float(1 - neg_acc.mean()), 4)
            row["nonmnist_digits_accepted"] = round(float((real >= pred.calibration.threshold).mean()), 4)
            row["auroc_nonmnist"] = round(auroc(real, neg_conf), 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary = {}
    for text in args.variants:
        mine = [r for r in rows if r["variant"] == text]
        summary[text] = {
            k: round(statistics.mean(r[k] for r in mine), 4) for k in mine[0] if k not in ("variant", "seed")
        }
        summary[text]["seeds"] = len(mine)
    print(json.dumps(summary, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "mean": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
