"""Pictures of a model: confusion matrix, mistakes gallery, report.html, runs table, compare."""

import json

from conftest import run_cli


def test_evaluate_writes_confusion_mistakes_and_per_class(real_run):
    res = run_cli("evaluate", real_run.path)
    assert res.returncode == 0, res.stderr
    assert "precision" in res.stdout and "recall" in res.stdout
    for name in ("confusion.png", "misclassified.png"):
        png = (real_run.plots_dir / name).read_bytes()
        assert png[:4] == b"\x89PNG" and len(png) > 10_000
    m = real_run.metrics
    assert len(m["per_class"]) == 10 and {"precision", "recall", "f1", "support"} <= set(m["per_class"][0])
    assert sum(map(sum, m["confusion_matrix"])) == 10000


def test_report_is_self_contained(real_run):
    res = run_cli("report", real_run.path)
    assert res.returncode == 0, res.stderr
    html = (real_run.path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 5  # samples, curves, confusion, mistakes, reliability
    for needle in ("Recipe", "Confusion matrix", "Most confident mistakes", "precision", "Timings"):
        assert needle in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_runs_table_and_compare(real_run, tmp_path):
    res = run_cli("runs", real_run.path.parent)
    assert res.returncode == 0 and real_run.name in res.stdout and "complete" in res.stdout
    rows = json.loads(run_cli("runs", real_run.path.parent, "--json").stdout)
    assert rows[0]["preset"] == "seed" and rows[0]["test_accuracy"] is not None
    res = run_cli("compare", real_run.path, real_run.path, "--out", tmp_path / "cmp.png")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "test_accuracy" in res.stdout
    assert run_cli("runs", tmp_path / "none").stdout.startswith("no runs")
