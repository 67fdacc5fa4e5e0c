"""The CLI as a user meets it: commands that answer at once, help that matches what they do, JSON and
CSV where they are asked for, one sentence for a busy port, and "read" or "not sure" on every reading."""

import csv
import io
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from mnistlab.cli.parser import PREDICT_CSV_COLUMNS, READ_CSV_COLUMNS
from mnistlab.models.presets import PRESETS


@pytest.mark.parametrize(
    "argv",
    [
        ["presets"],
        ["presets", "--json"],
        ["runs", "nowhere"],
        ["--help"],
        ["train", "--help"],
        ["read", "--help"],
        ["serve", "--help"],
    ],
)
def test_commands_that_neither_train_nor_evaluate_never_import_tensorflow(argv):
    code = (
        f"import sys\nfrom mnistlab.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('TF' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'no TF', file=sys.stderr)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stderr.strip().splitlines()[-1] == "no TF", res.stderr


def test_presets_lists_every_preset_from_recorded_numbers():
    res = run_cli("presets")
    assert res.returncode == 0, res.stderr
    names = [line.split()[0] for line in res.stdout.splitlines()[1:]]
    assert names == list(PRESETS)
    assert f"{PRESETS['seed'].params:,}" in res.stdout


def test_help_names_every_preset_and_every_column_written():
    train = run_cli("train", "--help").stdout
    assert all(name in train for name in PRESETS), train
    read = " ".join(run_cli("read", "--help").stdout.split())
    assert ",".join(READ_CSV_COLUMNS) in read.replace(", ", ","), read
    predict = " ".join(run_cli("predict", "--help").stdout.split())
    assert ",".join(PREDICT_CSV_COLUMNS) in predict.replace(", ", ","), predict


def test_json_is_compact_unless_pretty_is_asked_for():
    compact = run_cli("presets", "--json").stdout
    pretty = run_cli("presets", "--json", "--pretty").stdout
    assert compact.count("\n") == 1 and json.loads(compact) == json.loads(pretty)
    assert pretty.count("\n") > 10 and pretty.startswith("[\n  {")


def _seven(path):
    img = np.zeros((28, 28), np.uint8)
    img[6:9, 8:21] = 255
    for r in range(9, 23):
        c = 20 - (r - 9) // 2
        img[r, c - 1 : c + 2] = 255
    Image.fromarray(img).save(path)
    return path


def test_predict_csv_dash_writes_rows_to_stdout_and_no_file(tmp_path):
    seven = _seven(tmp_path / "seven.png")
    res = run_cli("predict", seven, "--csv", "-", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert list(rows[0]) == PREDICT_CSV_COLUMNS and rows[0]["file"] == str(seven)
    assert not (tmp_path / "-").exists()
    both = run_cli("predict", seven, "--csv", "-", "--json", cwd=tmp_path)
    assert both.returncode == 2 and "standard output" in both.stderr


def test_a_busy_port_is_one_sentence_suggesting_another(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli("serve", "--port", port, timeout=120)
    assert res.returncode == 2
    assert res.stdout == ""  # no "serving on ..." before the failure
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "already in use" in lines[0] and "--port" in lines[0], res.stderr
    bad = run_cli("serve", "--port", "70000")
    assert bad.returncode == 2 and "65535" in bad.stderr


def test_every_reading_says_read_or_not_sure_with_what_to_do(tmp_path):
    from scenes import sheet

    sure = tmp_path / "sure.png"
    Image.fromarray(sheet(["2026"]).astype(np.uint8)).save(sure)
    cut = tmp_path / "cut.png"  # the last digit runs off the picture's right edge
    Image.fromarray(sheet(["48638"])[:, 40:-90].astype(np.uint8)).save(cut)
    res = run_cli("read", sure, cut)
    out = res.stdout.splitlines()
    assert out[0].startswith(f"{sure}: 2026  (read, lowest confidence"), out
    assert (
        out[1].startswith(f"{cut}: ")
        and "(not sure: a digit at the picture's edge may be cut off: include the whole number" in out[1]
    ), out
    rows = json.loads(run_cli("read", cut, "--json").stdout)
    assert rows[0]["accepted"] is False and rows[0]["reason"] == "cut_off"
    assert rows[0]["note"].startswith("a digit at the picture's edge")


def test_the_guide_lists_every_not_sure_reason_with_its_sentence():
    import re

    from conftest import REPO
    from mnistlab.reading.reasons import REASONS

    guide = (REPO / "docs" / "confidence.md").read_text()
    table = guide.split("### Not sure: what each reason means", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", table, re.M))
    rows.pop("reason")  # the header
    assert set(rows) == set(REASONS)
    for key, sentence in REASONS.items():
        assert rows[key] == re.sub(
            r"\{(\w+)(:[^}]*)?\}", lambda m: {"count": "N", "most": "M"}[m.group(1)], sentence
        ), key
