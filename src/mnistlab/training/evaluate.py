"""Judge a model on its test set: loss, accuracy, confusion matrix, per-class scores, worst mistakes."""

from __future__ import annotations

import numpy as np

from mnistlab.data.datasets import Dataset, load_dataset
from mnistlab.errors import MnistlabError
from mnistlab.models.predict import predict_proba
from mnistlab.runs import RunDir


def evaluate_model(model, x: np.ndarray, y: np.ndarray, tta: int = 1) -> dict:
    probs = predict_proba(model, x, tta=tta)
    p = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)
    return {"loss": float(-np.log(p).mean()), "accuracy": float((probs.argmax(1) == y).mean()), "probabilities": probs}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def per_class_scores(cm: np.ndarray, class_names) -> list[dict]:
    rows = []
    for k, name in enumerate(class_names):
        tp = cm[k, k]
        predicted, actual = cm[:, k].sum(), cm[k, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {
                "class": name,
                "precision": round(float(precision), 4),
                "recall": round(float(recall), 4),
                "f1": round(float(f1), 4),
                "support": int(actual),
            }
        )
    return rows


def worst_mistakes(probs: np.ndarray, y: np.ndarray, n: int = 32) -> list[dict]:
    """The misclassified test images the model was most confident about."""
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:n]
    return [
        {
            "index": int(i),
            "true": int(y[i]),
            "predicted": int(pred[i]),
            "confidence": round(float(probs[i, pred[i]]), 4),
        }
        for i in order
    ]


def evaluate_run(run: RunDir, dataset: Dataset | None = None, write: bool = True, tta: int = 1) -> dict:
    """Evaluate a finished run on a test split: its own dataset's by default.

    Results on the run's own data are recorded in the run (metrics.json, confusion.png,
    misclassified.png); results on another dataset (same classes) are only returned. With `tta` > 1
    the plain numbers stay as they are and the TTA ones are recorded under `metrics["tta"][views]`.
    """
    from mnistlab.data.views import check

    tta = check(tta)
    cfg = run.config
    ds = dataset or load_dataset(cfg["dataset"]["spec"])
    own = ds.sha256 == cfg["dataset"]["sha256"]
    if not own and list(ds.class_names) != list(cfg["dataset"]["classes"]):
        raise MnistlabError(
            f"{ds.name} has classes {', '.join(ds.class_names)}, but {run.path} was trained "
            f"on {', '.join(cfg['dataset']['classes'])}"
        )
    model = run.load_model()
    res = evaluate_model(model, ds.x_test, ds.y_test, tta=tta)
    probs = res.pop("probabilities")
    cm = confusion_matrix(ds.y_test, probs.argmax(1), ds.num_classes)
    report = {
        "dataset": ds.name,
        "tta": tta,
        "test_loss": res["loss"],
        "test_accuracy": res["accuracy"],
        "test_errors": int(len(ds.y_test) - np.trace(cm)),
        "per_class": per_class_scores(cm, ds.class_names),
        "confusion_matrix": cm.tolist(),
        "worst_mistakes": worst_mistakes(probs, ds.y_test),
    }
    if write and own and tta > 1:
        recorded = dict(run.metrics.get("tta", {}))
        recorded[str(tta)] = {k: report[k] for k in ("test_loss", "test_accuracy", "test_errors")}
        run.update_metrics({"tta": recorded})
    elif write and own:
        run.update_metrics(
            {k: report[k] for k in ("test_loss", "test_accuracy", "test_errors", "per_class", "confusion_matrix")}
        )
        from mnistlab.training.plots import plot_confusion, plot_mistakes

        plot_confusion(run.plots_dir / "confusion.png", cm, ds.class_names)
        plot_mistakes(run.plots_dir / "misclassified.png", ds.x_test, report["worst_mistakes"], ds.class_names)
    report["recorded_in_run"] = bool(write and own)
    return report
