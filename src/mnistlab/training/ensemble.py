"""`train --ensemble N`: N members trained with seeds seed..seed+N-1, saved as one averaging model.

The ensemble is an ordinary run directory whose `model.keras` averages the members' probabilities,
so evaluate / predict / serve / export treat it like any other model. Members live in `members/`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mnistlab import runs as runs_mod
from mnistlab.data.datasets import load_dataset
from mnistlab.errors import MnistlabError
from mnistlab.runs import RunDir
from mnistlab.training.evaluate import evaluate_model


def average_models(models: list):
    import keras

    inputs = keras.Input(shape=(28, 28), name="pixels")
    outputs = []
    for k, member in enumerate(models):
        # Each member becomes a uniquely named sub-model so the saved ensemble loads cleanly.
        clone = keras.models.clone_model(member)
        clone.set_weights(member.get_weights())
        clone.name = f"member_{k}"
        outputs.append(clone(inputs))
    return keras.Model(inputs, keras.layers.Average(name="average")(outputs), name=f"ensemble_{len(models)}")


def train_ensemble(opts, n: int, link_latest: bool = False) -> RunDir:
    from mnistlab.models.presets import get_preset, is_detector_recipe, is_line_recipe
    from mnistlab.training.train import train

    recipe = get_preset(opts.preset).recipe
    if is_line_recipe(recipe) or is_detector_recipe(recipe):
        raise MnistlabError(f"--ensemble averages digit classifiers; preset {opts.preset} is not one")

    root = RunDir(Path(opts.out) if opts.out else runs_mod.new_run_path(f"{opts.preset}-x{n}"))
    members = []
    for k in range(n):
        member_opts = dataclasses.replace(
            opts, seed=opts.seed + k, out=str(root.path / "members" / f"seed{opts.seed + k}")
        )
        members.append(train(member_opts, link_latest=False))
    model = average_models([m.load_model() for m in members])
    cfg = members[0].config
    cfg["ensemble"] = {
        "members": [str(m.path.relative_to(root.path)) for m in members],
        "seeds": [opts.seed + k for k in range(n)],
    }
    root.write_config(cfg)
    histories = [m.history for m in members]
    root.write_history(
        [
            {
                key: float(np.mean([h[i][key] for h in histories])) if key != "epoch" else i + 1
                for key in histories[0][i]
            }
            for i in range(len(histories[0]))
        ]
    )
    root.save_model(model)
    ds = load_dataset(cfg["dataset"]["spec"])
    test = evaluate_model(model, ds.x_test, ds.y_test)
    member_metrics = [m.metrics for m in members]
    # The average is calibrated afresh on the same validation split: averaging softens confidences.
    from mnistlab.models.presets import Recipe
    from mnistlab.training.core import split_train
    from mnistlab.training.digits import calibrate_run

    recipe = Recipe.from_dict(cfg["recipe"])
    x_train, y_train, x_val, y_val = split_train(ds, recipe, opts)
    calibration = calibrate_run(root, model, ds, recipe, x_train, y_train, x_val, y_val, test["probabilities"])
    root.write_metrics(
        {
            **{k: member_metrics[0][k] for k in ("preset", "dataset", "epochs")},
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "train_seconds": round(sum(m["train_seconds"] for m in member_metrics), 3),
            "time_to_99_seconds": None,
            "params": int(model.count_params()),
            "ensemble_size": n,
            "member_test_accuracy": [m["test_accuracy"] for m in member_metrics],
            "calibration": calibration,
        }
    )
    from mnistlab.training.onnx import ensure_onnx

    ensure_onnx(root, model)
    if link_latest:
        runs_mod.point_latest(root)
    from mnistlab.training.plots import plot_run

    plot_run(root, ds)
    return root
