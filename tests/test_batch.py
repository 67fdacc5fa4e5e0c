"""Reading many pictures: streamed rows, every core in input order, resume after SIGKILL, bad files
among good ones, progress only on a terminal, and the same answers on a local Ray instance."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import mnistlab as ml
from conftest import REPO, compose_number, run_cli


def write_numbers(folder, mnist, n, seed=0):
    """`n` composed numbers of 2-6 MNIST test digits as PNGs; their texts, in file order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        idx = rng.integers(0, len(mnist.y_test), int(rng.integers(2, 7)))
        picture = compose_number(
            [mnist.x_test[j].astype(np.float64) for j in idx], [int(g) for g in rng.integers(3, 10, len(idx) - 1)], rng
        )
        Image.fromarray(picture.astype(np.uint8)).save(folder / f"{i:05d}.png")
        texts.append("".join(str(int(mnist.y_test[j])) for j in idx))
    return texts


@pytest.fixture(scope="module")
def numbers(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("numbers") / "in"
    write_numbers(folder, mnist, 120)
    return folder


@pytest.fixture(scope="module")
def reference(numbers):
    """Every picture read in this process, one at a time: what every other way must give."""
    from mnistlab.batch.many import ReadOptions, read_many

    files = sorted(numbers.iterdir())
    return list(read_many(files, ReadOptions(run=str(ml.bundled_path())), jobs=1))


def rows_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_workers_give_the_same_rows_in_input_order(numbers, reference, tmp_path):
    out = tmp_path / "out.jsonl"
    res = run_cli("read", numbers, "--jobs", "2", "--jsonl", out)
    assert res.returncode == 0, res.stderr
    assert rows_of(out) == reference
    assert [r["file"] for r in reference] == [str(p) for p in sorted(numbers.iterdir())]
    # Human lines come in the same order, one a picture (a reading of several lines continues on
    # indented lines); the summary goes to stderr.
    files = [line.split(":", 1)[0] for line in res.stdout.splitlines() if not line.startswith(" ")]
    assert files == [r["file"] for r in reference]
    assert "120 pictures" in res.stderr and "failed" in res.stderr


def test_rows_are_written_as_each_picture_is_read(numbers, reference, tmp_path):
    out = tmp_path / "stream.jsonl"
    rows = ml.read_many(numbers, jobs=2, jsonl=out)
    first = next(rows)
    assert first == reference[0]
    assert rows_of(out) == [first]  # on disk before the second picture is asked for
    rest = list(rows)
    assert [first, *rest] == reference and rows_of(out) == reference


def test_one_job_reads_in_this_process_with_the_same_answers(numbers, reference):
    assert list(ml.read_many(sorted(numbers.iterdir())[:10], jobs=1)) == reference[:10]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("wait_rows", [1, 45])
def test_killed_at_any_moment_and_resumed_every_picture_once(numbers, reference, tmp_path, wait_rows):
    out, out_csv = tmp_path / "out.jsonl", tmp_path / "out.csv"
    cmd = [
        sys.executable,
        "-m",
        "mnistlab.cli",
        "read",
        str(numbers),
        "--jobs",
        "2",
        "--jsonl",
        str(out),
        "--csv",
        str(out_csv),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= wait_rows:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = out.read_bytes().count(b"\n")
    assert 0 < written < len(reference), "the kill came before the first row or after the last"
    # A picture counts as done only where every output holds it: the kill may fall between its
    # JSONL row and its CSV row, and then it is read again to finish the CSV.
    in_csv = max(out_csv.read_bytes().count(b"\n") - 1, 0) if out_csv.exists() else 0
    in_both = min(written, in_csv)
    with out.open("ab") as f:  # a row cut in half, as a kill inside a write would leave it
        f.write(b'{"file": "half')
    res = run_cli("read", numbers, "--jobs", "2", "--jsonl", out, "--csv", out_csv, "--resume")
    assert res.returncode == 0, res.stderr
    assert rows_of(out) == reference  # each exactly once, in order, none damaged
    table = list(csv.DictReader(out_csv.open()))
    assert [r["file"] for r in table] == [r["file"] for r in reference]
    assert [r["text"] for r in table] == [r["text"] for r in reference]
    if in_both:
        assert f"{in_both} already in the output" in res.stderr
    else:
        assert "already in the output" not in res.stderr


def test_resume_reads_a_picture_again_only_if_it_changed(numbers, reference, tmp_path):
    folder = tmp_path / "few"
    folder.mkdir()
    for p in sorted(numbers.iterdir())[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "few.jsonl"
    assert run_cli("read", folder, "--jsonl", out).returncode == 0
    again = run_cli("read", folder, "--jsonl", out, "--resume")
    assert again.returncode == 0 and len(rows_of(out)) == 3 and "3 already in the output" in again.stderr
    changed = sorted(folder.iterdir())[1]
    changed.write_bytes(sorted(numbers.iterdir())[5].read_bytes())
    third = run_cli("read", folder, "--jsonl", out, "--resume")
    rows = rows_of(out)
    assert third.returncode == 0 and len(rows) == 4 and rows[-1]["file"] == str(changed)
    assert rows[-1]["text"] == reference[5]["text"]


def test_bad_files_get_one_error_row_each_and_other_files_are_skipped(numbers, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(numbers.iterdir())[:2]
    for p in good:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"not a picture at all")
    (folder / "labels.json").write_text('{"00000.png": "7"}')
    (folder / "tutorial.ipynb").write_text("{}")
    out = tmp_path / "mixed.jsonl"
    res = run_cli("read", folder, "--jsonl", out, "--jobs", "2")
    assert res.returncode == 1  # some failed, some read
    rows = {r["file"].rsplit("/", 1)[-1]: r for r in rows_of(out)}
    assert set(rows) == {"00000.png", "00001.png", "broken.png"}
    assert rows["broken.png"]["error"] == "not an image in a format mnistlab can read"
    assert "sha256" in rows["broken.png"] and "text" in rows["00000.png"]
    errors = [line for line in res.stderr.splitlines() if "error" in line]
    assert errors == [f"{folder / 'broken.png'}: error: not an image in a format mnistlab can read"]
    assert "broken.png" not in res.stdout
    assert "3 pictures" in res.stderr and "1 failed" in res.stderr and "2 files not a picture" in res.stderr
    # Named outright, a file that is no picture by name is read (and reported), not skipped.
    res = run_cli("read", folder / "labels.json", *good)
    assert res.returncode == 1 and "labels.json: error: not an image" in res.stderr
    assert run_cli("read", folder / "broken.png").returncode == 2  # every one failed
    assert run_cli("read", REPO / "examples").returncode == 0  # the notebook there is left alone


def test_outputs_to_stdout_and_their_columns(numbers, reference, tmp_path):
    first = sorted(numbers.iterdir())[:2]
    res = run_cli("read", *first, "--csv", "-")
    table = list(csv.DictReader(res.stdout.splitlines()))
    assert res.returncode == 0 and not (REPO / "-").exists() and not (tmp_path / "-").exists()
    assert list(table[0]) == ["file", "text", "confidence", "accepted", "reason", "note", "error", "sha256"]
    assert [r["text"] for r in table] == [r["text"] for r in reference[:2]]
    res = run_cli("read", *first, "--jsonl", "-")
    assert [json.loads(line) for line in res.stdout.splitlines()] == reference[:2]
    assert run_cli("read", *first, "--resume").returncode == 2  # nothing to resume


def test_a_failed_start_leaves_the_output_file_as_it_was(numbers, tmp_path):
    out = tmp_path / "keep.jsonl"
    out.write_text('{"file": "kept"}\n')
    # No cluster runs here: joining "this machine's cluster" fails at once.
    res = run_cli("read", numbers, "--jsonl", out, "--ray", "auto", env={"RAY_ADDRESS": ""}, timeout=120)
    assert res.returncode == 2 and "Ray cluster" in res.stderr and "Traceback" not in res.stderr
    assert out.read_text() == '{"file": "kept"}\n'


def test_a_progress_bar_on_a_terminal_and_none_when_piped(numbers):
    import pty

    files = [str(p) for p in sorted(numbers.iterdir())[:6]]
    piped = run_cli("read", *files, "--jobs", "1")
    assert "\r" not in piped.stderr and "pictures/s" not in piped.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnistlab.cli", "read", *files, "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=REPO,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    assert b"pictures/s" in seen or b"s/ pictures" in seen, seen[-400:]
    assert len(proc.stdout.read().decode().splitlines()) == 6  # the readings themselves, unbroken


def test_read_takes_folders_and_globs_and_reports_bad_files_in_python(numbers, reference, tmp_path):
    rows = ml.read([numbers / "00000.png", tmp_path / "nope.png", str(numbers / "0000[12].png")])
    assert [r.get("text") for r in rows] == [reference[0]["text"], None, reference[1]["text"], reference[2]["text"]]
    assert rows[1] == {"file": str(tmp_path / "nope.png"), "error": "does not exist"}
    assert len(ml.read(numbers)) == len(reference)
    one = ml.read(numbers / "00000.png", mode="line", lines="auto", digits_only=True)[0]
    assert one["text"].isdigit()


@pytest.mark.timeout(600)
def test_a_local_ray_instance_reads_the_same_answers_each_picture_once(mnist, tmp_path):
    pytest.importorskip("ray.data")
    folder = tmp_path / "many"
    write_numbers(folder, mnist, 2000, seed=7)
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert run_cli("read", folder, "--jobs", "2", "--jsonl", local, timeout=600).returncode == 0
    res = run_cli("read", folder, "--ray", "local", "--jobs", "2", "--jsonl", on_ray, timeout=600)
    assert res.returncode == 0, res.stderr
    assert rows_of(on_ray) == rows_of(local)
    assert len({r["file"] for r in rows_of(on_ray)}) == 2000


@pytest.mark.timeout(300)
def test_read_ray_from_python_takes_paths_and_a_dataset_of_bytes(numbers, reference, tmp_path):
    ray = pytest.importorskip("ray")
    import ray.data  # noqa: F811  (the submodule, on the same name)

    files = sorted(numbers.iterdir())[:40]
    try:
        out = tmp_path / "ray.jsonl"
        rows = list(ml.read_ray(files, address="local", actors=2, jsonl=out))
        assert rows == reference[:40] and rows_of(out) == rows
        dataset = ray.data.read_binary_files([str(f) for f in files], include_paths=True)
        by_bytes = list(ml.read_ray(dataset, address="local", actors=2))
        key = {r["sha256"]: r["text"] for r in reference[:40]}
        assert sorted(r["text"] for r in by_bytes) == sorted(key.values())
        assert all(key[r["sha256"]] == r["text"] for r in by_bytes)
    finally:
        ray.shutdown()
