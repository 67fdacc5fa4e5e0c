"""Presets are data; ensembles are ordinary runs whose model averages their members."""

import json

import numpy as np

from conftest import run_cli
from mnistlab.models.architectures import build_model
from mnistlab.models.presets import PRESETS, Recipe


def test_presets_command_lists_each_with_params():
    res = run_cli("presets", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"seed", "fast", "best", "line", "photo-line", "detector"}
    assert rows["seed"]["params"] == 109386  # the tutorial's 784-128-64-10 network
    assert rows["line"]["params"] == 170337  # the bundled line model's
    assert rows["photo-line"]["params"] == 380297 and PRESETS["photo-line"].recipe.world == "photo"
    assert all(r["expected_accuracy"] and r["expected_time_2_cpu_cores"] for r in rows.values())


def test_seed_preset_is_the_tutorial_recipe():
    r = PRESETS["seed"].recipe
    assert (r.epochs, r.batch_size, r.learning_rate, r.schedule, r.augment) == (5, 32, 1e-3, "constant", {})
    layers = [type(layer).__name__ for layer in build_model(r.architecture).layers]
    assert layers == ["Rescaling", "Flatten", "Dense", "Dense", "Dense"]


def test_recipes_round_trip_and_reject_unknown_fields():
    for p in PRESETS.values():
        assert Recipe.from_dict(p.recipe.to_dict()) == p.recipe
    import pytest

    from mnistlab.errors import MnistlabError

    with pytest.raises(MnistlabError, match="unknown fields"):
        Recipe.from_dict({**PRESETS["seed"].recipe.to_dict(), "dropout": 0.5})


def test_ensemble_is_a_normal_run(tmp_path, synthetic_npz):
    out = tmp_path / "ens"
    res = run_cli(
        "train",
        "--preset",
        "fast",
        "--dataset",
        f"npz:{synthetic_npz}",
        "--epochs",
        "1",
        "--ensemble",
        "2",
        "--out",
        out,
    )
    assert res.returncode == 0, res.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["ensemble_size"] == 2 and len(m["member_test_accuracy"]) == 2
    assert (out / "calibration.json").exists() and m["calibration"]["temperature"] > 0
    assert sorted(p.name for p in (out / "members").iterdir()) == ["seed0", "seed1"]
    from mnistlab.runs import RunDir

    model = RunDir(out).load_model()  # safe mode: no Lambda layers in an ensemble
    members = [RunDir(out / "members" / s).load_model() for s in ("seed0", "seed1")]
    x = np.load(synthetic_npz)["x_test"][:8].astype("float32")
    expected = np.mean([mm.predict(x, verbose=0) for mm in members], axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)
    res = run_cli("predict", out, "--test-index", "0:3", "--json")
    assert res.returncode == 0 and len(json.loads(res.stdout)) == 3


def test_each_presets_recorded_params_are_its_built_models():
    """`mnistlab presets` prints the recorded counts without building anything: they must stay true."""
    from mnistlab.data.strip import VOCAB
    from mnistlab.models.presets import is_detector_recipe, is_line_recipe

    for p in PRESETS.values():
        classes = len(VOCAB) + 1 if is_line_recipe(p.recipe) else 10  # CTC's blank + the line alphabet
        classes = 1 if is_detector_recipe(p.recipe) else classes  # a detector's one map
        assert build_model(p.recipe.architecture, classes).count_params() == p.params, p.name


def test_line_architectures_read_any_width_at_a_quarter_and_grow_in_size():
    """small / medium / large: the capacity a photo line model can be given; all take any strip width."""
    from mnistlab.data.strip import STRIDE, VOCAB
    from mnistlab.models.presets import LINE_ARCHITECTURES

    sizes = []
    for name in LINE_ARCHITECTURES:
        model = build_model(name, len(VOCAB) + 1)
        for width in (64, 200):
            out = model(np.zeros((2, 32, width), np.float32), training=False)
            assert tuple(out.shape) == (2, width // STRIDE, len(VOCAB) + 1), name
        sizes.append(model.count_params())
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
