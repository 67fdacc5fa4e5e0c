"""Nothing lost: a SIGKILLed run resumes to completion; the same seed gives identical results."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import run_cli


def _start_training(out, *extra):
    env = {**os.environ, "MNISTLAB_VERBOSE": "0"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnistlab.cli",
            "train",
            "--preset",
            "seed",
            "--limit",
            "30000",
            "--epochs",
            "5",
            "--out",
            str(out),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_training_then_resume(tmp_path, mnist):
    out = tmp_path / "killed"
    proc = _start_training(out)
    history = out / "history.json"
    deadline = time.time() + 240
    while time.time() < deadline:
        if history.exists() and len(json.loads(history.read_text())) >= 2:
            break
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(json.loads(history.read_text()))
    assert 2 <= done_before < 5, "the kill landed after training finished; make epochs longer"
    assert not (out / "metrics.json").exists()

    # An incomplete run is reported as such, never crashes a command.
    listing = run_cli("runs", tmp_path, "--json")
    assert listing.returncode == 0
    (row,) = json.loads(listing.stdout)
    assert row["status"].startswith("incomplete")
    res = run_cli("evaluate", out)
    assert res.returncode == 2 and "unfinished" in res.stderr and "--resume" in res.stderr
    for name in ("config.json", "history.json"):
        json.loads((out / name).read_text())  # never half-written

    res = run_cli("train", "--resume", out, env={"MNISTLAB_VERBOSE": "0"})
    assert res.returncode == 0, res.stderr
    hist = json.loads(history.read_text())
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4, 5]
    assert all(hist[i]["fit_seconds"] < hist[i + 1]["fit_seconds"] for i in range(4))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 5 and metrics["test_accuracy"] > 0.95
    assert not (out / "backup").exists()
    res = run_cli("predict", out, "--test-index", "0:5", "--json")
    assert [p["digit"] for p in json.loads(res.stdout)] == [7, 2, 1, 0, 4]
    res = run_cli("train", "--resume", out)
    assert res.returncode == 0 and "already complete" in res.stdout

    # Resumed is the same as never interrupted: every epoch's numbers and the final weights.
    whole = tmp_path / "whole"
    proc = _start_training(whole)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    unbroken = json.loads((whole / "history.json").read_text())
    assert [{k: v for k, v in h.items() if k != "fit_seconds"} for h in hist] == [
        {k: v for k, v in h.items() if k != "fit_seconds"} for h in unbroken
    ]
    assert json.loads((whole / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
    assert same_weights(out / "model.keras", whole / "model.keras")


def same_weights(path_a, path_b) -> bool:
    import keras

    wa, wb = (keras.saving.load_model(p, compile=False).get_weights() for p in (path_a, path_b))
    return len(wa) == len(wb) and all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))


def test_same_seed_same_numbers_and_weights(tmp_path, mnist):
    outs = []
    for name in ("a", "b"):
        res = run_cli(
            "train", "--preset", "seed", "--limit", "5000", "--epochs", "2", "--seed", "7", "--out", tmp_path / name
        )
        assert res.returncode == 0, res.stderr
        outs.append(tmp_path / name)
    ma, mb = (json.loads((o / "metrics.json").read_text()) for o in outs)
    timing = {"train_seconds", "time_to_99_seconds"}
    assert {k: v for k, v in ma.items() if k not in timing} == {k: v for k, v in mb.items() if k not in timing}
    ha, hb = (json.loads((o / "history.json").read_text()) for o in outs)
    assert [{k: v for k, v in h.items() if k != "fit_seconds"} for h in ha] == [
        {k: v for k, v in h.items() if k != "fit_seconds"} for h in hb
    ]
    assert same_weights(outs[0] / "model.keras", outs[1] / "model.keras")
    # A different seed really is different.
    res = run_cli(
        "train", "--preset", "seed", "--limit", "5000", "--epochs", "2", "--seed", "8", "--out", tmp_path / "c"
    )
    assert res.returncode == 0
    assert not same_weights(outs[0] / "model.keras", tmp_path / "c" / "model.keras")


def test_train_from_replays_the_recipe(tmp_path, synthetic_npz):
    res = run_cli(
        "train",
        "--dataset",
        f"npz:{synthetic_npz}",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--seed",
        "3",
        "--out",
        tmp_path / "orig",
    )
    assert res.returncode == 0, res.stderr
    res = run_cli("train", "--from", tmp_path / "orig", "--out", tmp_path / "again")
    assert res.returncode == 0, res.stderr
    a, b = (json.loads((tmp_path / n / "config.json").read_text()) for n in ("orig", "again"))
    for key in ("recipe", "seed", "limit", "deterministic"):
        assert a[key] == b[key]
    assert a["dataset"]["sha256"] == b["dataset"]["sha256"]
    assert a["recipe"]["batch_size"] == 50 and a["recipe"]["epochs"] == 2
    assert same_weights(tmp_path / "orig" / "model.keras", tmp_path / "again" / "model.keras")


def test_augmented_training_is_reproducible_too(tmp_path, synthetic_npz):
    for name in ("a", "b"):
        res = run_cli(
            "train", "--preset", "best", "--dataset", f"npz:{synthetic_npz}", "--epochs", "1", "--out", tmp_path / name
        )
        assert res.returncode == 0, res.stderr
    assert same_weights(tmp_path / "a" / "model.keras", tmp_path / "b" / "model.keras")


def test_start_from_fine_tunes_records_the_start_and_replays(tmp_path, synthetic_npz):
    data = ("--dataset", f"npz:{synthetic_npz}", "--batch-size", "50", "--epochs", "1")
    assert run_cli("train", *data, "--out", tmp_path / "base").returncode == 0
    res = run_cli("train", *data, "--start-from", tmp_path / "base", "--out", tmp_path / "tuned")
    assert res.returncode == 0, res.stderr
    recipe = json.loads((tmp_path / "tuned" / "config.json").read_text())["recipe"]
    assert recipe["start_from"] == str(tmp_path / "base") and len(recipe["start_sha256"]) == 64
    # the same seed and epoch from random weights is the base itself: the tuned run started elsewhere
    assert not same_weights(tmp_path / "tuned" / "model.keras", tmp_path / "base" / "model.keras")
    # --from replays the very start
    assert run_cli("train", "--from", tmp_path / "tuned", "--out", tmp_path / "again").returncode == 0
    assert same_weights(tmp_path / "tuned" / "model.keras", tmp_path / "again" / "model.keras")
    # refusals, each with one clear message and nothing left behind
    res = run_cli("train", *data, "--preset", "fast", "--start-from", tmp_path / "base", "--out", tmp_path / "x")
    assert res.returncode != 0 and "same architecture" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("train", "--resume", tmp_path / "base", "--start-from", tmp_path / "base")
    assert res.returncode != 0 and "--start-from" in res.stderr
    (tmp_path / "base" / "model.keras").write_bytes((tmp_path / "tuned" / "model.keras").read_bytes())
    res = run_cli("train", "--from", tmp_path / "tuned", "--out", tmp_path / "third")
    assert res.returncode != 0 and "changed since" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "third").exists()
