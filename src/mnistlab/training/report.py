"""`mnistlab report RUN`: one self-contained report.html (figures embedded, no network needed)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from mnistlab import atomic
from mnistlab.data.datasets import load_dataset
from mnistlab.runs import RunDir
from mnistlab.training.evaluate import evaluate_run
from mnistlab.training.plots import plot_run


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return "—" if v is None else str(v)


CSS = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2433;max-width:1100px;margin:0 auto;padding:24px}
h1{margin-bottom:0}.sub{color:#6b7385;margin-top:4px}h2{border-bottom:1px solid #e3e6ee;padding-bottom:4px;margin-top:32px}
.kpis{display:flex;gap:16px;flex-wrap:wrap}.kpi{background:#f5f6f9;border-radius:10px;padding:12px 18px;min-width:150px}
.kpi b{display:block;font-size:24px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #e3e6ee;padding:4px 10px;text-align:right}
th{background:#f5f6f9}td:first-child,th:first-child{text-align:left}img{max-width:100%;height:auto}
"""


def _calibration_section(cal: dict | None, diagram: Path) -> str:
    """Temperature, threshold, ECE before/after and the reliability diagram (runs made before
    calibration existed have none)."""
    if not cal:
        return ""
    rows = [
        {"measure": "temperature (fitted on " + cal["fit_on"] + ")", "value": cal["temperature"]},
        {"measure": "acceptance threshold (calibrated confidence)", "value": cal["threshold"]},
        {
            "measure": "ECE validation, before → after",
            "value": f"{cal['ece_before_validation']:.4f} → {cal['ece_after_validation']:.4f}",
        },
        {"measure": "ECE test, before → after", "value": f"{cal['ece_before_test']:.4f} → {cal['ece_after_test']:.4f}"},
        {"measure": "test digits accepted", "value": cal["test_accepted"]},
        {"measure": "validation non-digits rejected", "value": cal.get("validation_nondigits_rejected")},
    ]
    img = _img(diagram, "reliability diagram") if diagram.exists() else ""
    return f"<h2>Confidence and rejection</h2>{_table(rows, ['measure', 'value'])}{img}"


def write_report(run: RunDir) -> Path:
    if run.is_line:
        return _line_report(run)
    if run.is_detector:
        return _detector_report(run)
    cfg = run.config
    ds = load_dataset(cfg["dataset"]["spec"])
    evaluation = evaluate_run(run, ds)  # refreshes confusion.png, misclassified.png and metrics
    plot_run(run, ds)
    m = run.metrics
    summary = ds.summary()
    kpis = [
        ("test accuracy", f"{m['test_accuracy']:.4f}"),
        ("test loss", f"{m['test_loss']:.4f}"),
        ("errors", f"{evaluation['test_errors']} / {summary['test']}"),
        ("fit time", f"{m['train_seconds']:.1f} s"),
        ("parameters", f"{m['params']:,}"),
    ]
    if m.get("time_to_99_seconds") is not None:
        kpis.append(("time to 99%", f"{m['time_to_99_seconds']:.1f} s"))
    for views, rec in sorted(m.get("tta", {}).items(), key=lambda kv: int(kv[0])):
        kpis.append((f"test accuracy, TTA {views} views", f"{rec['test_accuracy']:.4f}"))
    recipe_rows = [{"setting": k, "value": v} for k, v in cfg["recipe"].items()]
    recipe_rows += [
        {"setting": "seed", "value": cfg["seed"]},
        {"setting": "deterministic", "value": cfg["deterministic"]},
        {"setting": "limit", "value": cfg["limit"]},
        {"setting": "global batch size", "value": cfg.get("global_batch_size")},
    ]
    data_rows = [
        {"class": c, "train": summary["train_counts"][i], "test": summary["test_counts"][i]}
        for i, c in enumerate(summary["classes"])
    ]
    history = run.history
    history_cols = list(history[0]) if history else []
    versions = ", ".join(f"{k} {v}" for k, v in cfg["versions"].items())
    plots = run.plots_dir
    calibration = _calibration_section(m.get("calibration"), plots / "reliability.png")
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>mnistlab report — {html.escape(run.name)}</title><style>{CSS}</style></head><body>
<h1>{html.escape(run.name)}</h1>
<p class="sub">preset <b>{html.escape(cfg["recipe"]["preset"])}</b> on <b>{html.escape(ds.name)}</b>
 · created {html.escape(cfg.get("created", ""))} · {html.escape(versions)}</p>
<div class="kpis">{"".join(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in kpis)}</div>
<h2>Recipe</h2>{_table(recipe_rows, ["setting", "value"])}
<h2>Data</h2><p>{html.escape(summary["source"])}: {summary["train"]:,} training and {summary["test"]:,} test images,
digest <code>{summary["sha256"][:16]}…</code></p>
{_img(plots / "samples.png", "first training images")}
{_table(data_rows, ["class", "train", "test"])}
<h2>Training curves</h2>{_img(plots / "curves.png", "accuracy and loss per epoch")}
{_table(history, history_cols)}
<h2>Test metrics per class</h2>{_table(evaluation["per_class"], ["class", "precision", "recall", "f1", "support"])}
<h2>Confusion matrix</h2>{_img(plots / "confusion.png", "confusion matrix")}
<h2>Most confident mistakes</h2>{_img(plots / "misclassified.png", "misclassified test images")}
{calibration}
<h2>Timings</h2>{
        _table(
            [
                {"what": "fit (wall time of model.fit)", "seconds": m["train_seconds"]},
                {"what": "time to first reach 99.0% test accuracy", "seconds": m.get("time_to_99_seconds")},
            ],
            ["what", "seconds"],
        )
    }
{_footer(cfg)}"""
    out = run.path / "report.html"
    atomic.write_text(out, doc)
    return out


def _detector_report(run: RunDir) -> Path:
    """A detector's report: pages and lines found on validation and test pages, curves, recipe, timings."""
    m = run.metrics
    kpis = [
        ("validation pages, every line found", f"{m['val_pages_exact']:.4f}"),
        ("test pages, every line found", f"{m['test_pages_exact']:.4f}"),
        ("test lines found / real", f"{m['test_line_recall']:.4f} / {m['test_line_precision']:.4f}"),
        ("test cell IoU", f"{m['test_iou']:.4f}"),
        ("map threshold", f"{m['threshold']:.2f}"),
        ("fit time", f"{m['train_seconds']:.1f} s"),
        ("parameters", f"{m['params']:,}"),
    ]
    data = (
        "Synthetic photos of pages (data/pages.py): lines of MNIST training digits and the training fonts on "
        "tinted, ruled and squared paper, turned up to 30 degrees, under uneven and low light, blur and clutter; "
        f"validation pages from the 5,000 held-out training digits, test pages from MNIST's test digits "
        f"({m['test_pages']:,} each)."
    )
    return _small_report(run, "text detector", kpis, "training pages", m["train_pages"], data)


def _line_report(run: RunDir) -> Path:
    """A line model's report: string accuracy on validation and test lines, curves, recipe, timings."""
    m = run.metrics
    kpis = [
        ("validation lines read right", f"{m['val_exact']:.4f}"),
        ("test lines read right", f"{m['test_exact']:.4f}"),
        ("test character error rate", f"{m['test_cer']:.4f}"),
        ("test accepted / wrong", f"{m['test_accepted']:.3f} / {m['test_accepted_but_wrong']:.4f}"),
        ("accept threshold", f"{m['threshold']:.3f}"),
        ("fit time", f"{m['train_seconds']:.1f} s"),
        ("parameters", f"{m['params']:,}"),
    ]
    data = (
        "Synthetic lines of MNIST training digits and the training fonts (data/lines.py); validation lines "
        f"from the 5,000 held-out training digits, test lines from MNIST's test digits ({m['test_lines']:,} each)."
    )
    return _small_report(run, "line model", kpis, "training lines", m["train_lines"], data)


def _small_report(run: RunDir, kind: str, kpis: list, examples: str, n_examples: int, data: str) -> Path:
    """The report of a line model or a detector: its numbers, recipe, data, curves and history."""
    cfg = run.config
    recipe_rows = [{"setting": k, "value": v} for k, v in cfg["recipe"].items()] + [
        {"setting": "seed", "value": cfg["seed"]},
        {"setting": examples, "value": n_examples},
    ]
    history = run.history
    versions = ", ".join(f"{k} {v}" for k, v in cfg["versions"].items())
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>mnistlab report — {html.escape(run.name)}</title><style>{CSS}</style></head><body>
<h1>{html.escape(run.name)}</h1>
<p class="sub">{kind}, preset <b>{html.escape(cfg["recipe"]["preset"])}</b> · created
 {html.escape(cfg.get("created", ""))} · {html.escape(versions)}</p>
<div class="kpis">{"".join(f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in kpis)}</div>
<h2>Recipe</h2>{_table(recipe_rows, ["setting", "value"])}
<h2>Data</h2><p>{html.escape(data)}</p>
<h2>Training curves</h2>{_img(run.plots_dir / "curves.png", "measures per epoch")}
{_table(history, list(history[0]) if history else [])}
{_footer(cfg)}"""
    out = run.path / "report.html"
    atomic.write_text(out, doc)
    return out


def _footer(cfg: dict) -> str:
    machine = cfg.get("machine", {})
    return (
        f'<p class="sub">Machine: {html.escape(str(machine.get("processor", "")))},\n'
        f"{html.escape(str(machine.get('cpus', '')))} CPUs.</p>\n</body></html>\n"
    )
