"""Figures, drawn on matplotlib `Figure` objects (no pyplot, no window, no display needed).

Every `plot_*` function writes its figure atomically when given a path and returns the path; given
`path=None` it returns the `Figure` itself, which Jupyter shows inline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab import atomic


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _save(fig, path: Path | None):
    if path is None:
        return fig
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def plot_samples(path: Path | None, images: np.ndarray, labels: np.ndarray, class_names) -> Path:
    """The tutorial's grid: the first 10 training images with their labels."""
    fig = _figure((8, 3.8))
    axes = fig.subplots(2, 5)
    for i, ax in enumerate(axes.flat):
        ax.imshow(images[i], cmap="gray")
        ax.set_title(f"Label: {class_names[labels[i]]}", fontsize=10)
        ax.axis("off")
    fig.suptitle("First 10 training images")
    return _save(fig, path)


def plot_curves(
    path: Path | None, history: list[dict], test_accuracy: float | None, test_loss: float | None, title: str = ""
) -> Path:
    """Accuracy and loss per epoch (train, validation, per-epoch test), with the final test value dashed."""
    epochs = [h["epoch"] for h in history]
    fig = _figure((11, 4))
    (ax_acc, ax_loss) = fig.subplots(1, 2)
    for ax, key, final, name in ((ax_acc, "accuracy", test_accuracy, "Accuracy"), (ax_loss, "loss", test_loss, "Loss")):
        ax.plot(epochs, [h[key] for h in history], "o-", label=f"train {key}")
        if all(f"val_{key}" in h for h in history):
            ax.plot(epochs, [h[f"val_{key}"] for h in history], "s-", label=f"validation {key}")
        if all(f"test_{key}" in h for h in history):
            ax.plot(epochs, [h[f"test_{key}"] for h in history], "^-", alpha=0.7, label=f"test {key} (per epoch)")
        if final is not None:
            ax.axhline(final, linestyle="--", color="tab:red", label=f"final test {key}: {final:.4f}")
        ax.set_ylabel(name)
        _per_epoch(ax, epochs, name)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _per_epoch(ax, epochs: list[int], name: str) -> None:
    ax.set_xlabel("Epoch")
    ax.set_title(f"{name} per epoch")
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()


def plot_line_curves(path: Path | None, history: list[dict], test_exact: float | None, title: str = "") -> Path:
    """A line model per epoch: CTC loss, and validation lines read exactly with the character error rate."""
    epochs = [h["epoch"] for h in history]
    fig = _figure((11, 4))
    (ax_acc, ax_loss) = fig.subplots(1, 2)
    ax_acc.plot(epochs, [h.get("val_exact") for h in history], "s-", label="validation lines read right")
    ax_acc.plot(epochs, [1 - h.get("val_cer", 1.0) for h in history], "o-", label="1 - character error rate")
    if test_exact is not None:
        ax_acc.axhline(
            test_exact, linestyle="--", color="tab:red", label=f"final test lines read right: {test_exact:.4f}"
        )
    ax_loss.plot(epochs, [h["loss"] for h in history], "o-", label="train CTC loss")
    for ax, name in ((ax_acc, "Lines read right"), (ax_loss, "CTC loss")):
        _per_epoch(ax, epochs, name)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_detector_curves(path: Path | None, history: list[dict], test_exact: float | None, title: str = "") -> Path:
    """A detector per epoch: its loss, and validation pages whose lines were each found once."""
    epochs = [h["epoch"] for h in history]
    fig = _figure((11, 4))
    (ax_acc, ax_loss) = fig.subplots(1, 2)
    ax_acc.plot(epochs, [h.get("val_pages_exact") for h in history], "s-", label="validation pages, every line found")
    ax_acc.plot(epochs, [h.get("val_line_recall") for h in history], "o-", label="validation lines found")
    if test_exact is not None:
        ax_acc.axhline(test_exact, linestyle="--", color="tab:red", label=f"final test pages: {test_exact:.4f}")
    ax_loss.plot(epochs, [h["loss"] for h in history], "o-", label="train loss (cross-entropy + Dice)")
    for ax, name in ((ax_acc, "Pages and lines found"), (ax_loss, "Loss")):
        _per_epoch(ax, epochs, name)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion(path: Path | None, cm: np.ndarray, class_names) -> Path:
    """Counts in every cell; colour is the row-normalised rate, so small classes read as clearly."""
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(class_names)
    fig = _figure((1.0 + 0.62 * n, 0.8 + 0.6 * n))
    ax = fig.subplots()
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(n), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title(f"Confusion matrix ({int(np.trace(cm))}/{int(cm.sum())} correct)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _save(fig, path)


def plot_mistakes(path: Path | None, images: np.ndarray, mistakes: list[dict], class_names, cols: int = 8) -> Path:
    """A gallery of the most confident mistakes: image, true class, predicted class, confidence."""
    shown = mistakes[:32] or []
    rows = max(1, -(-len(shown) // cols))
    fig = _figure((1.5 * cols, 1.85 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, shown, strict=False):  # more axes than mistakes is fine
        ax.imshow(images[m["index"]], cmap="gray_r")
        ax.set_title(
            f"#{m['index']}\ntrue {class_names[m['true']]}\npred {class_names[m['predicted']]} {m['confidence']:.0%}",
            fontsize=7,
        )
    if not shown:
        axes.flat[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle("Most confident mistakes")
    return _save(fig, path)


def plot_compare(path: Path, runs: list[tuple[str, list[dict], dict]]) -> Path:
    """Several runs' curves on one figure: (name, history, metrics) each."""
    fig = _figure((12, 4.5))
    (ax_acc, ax_loss) = fig.subplots(1, 2)
    for name, history, metrics in runs:
        epochs = [h["epoch"] for h in history]
        label = f"{name} (test {metrics.get('test_accuracy', float('nan')):.4f})"
        (line,) = ax_acc.plot(epochs, [h.get("test_accuracy", h["accuracy"]) for h in history], "o-", label=label)
        ax_loss.plot(epochs, [h["loss"] for h in history], "o-", color=line.get_color(), label=name)
    ax_acc.set_title("Test accuracy per epoch (train accuracy where not probed)")
    ax_loss.set_title("Training loss per epoch")
    for ax in (ax_acc, ax_loss):
        ax.set_xlabel("Epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_reliability(
    path: Path | None, val_probs: np.ndarray, y_val: np.ndarray, cal, test_probs: np.ndarray, y_test: np.ndarray
) -> Path:
    """Reliability diagram: accuracy against confidence, before and after temperature scaling."""
    from mnistlab.models.calibration import expected_calibration_error, reliability

    fig = _figure((11, 4.6))
    axes = fig.subplots(1, 2)
    sets = [("validation (fit)", val_probs, y_val), ("test (reported only)", test_probs, y_test)]
    for ax, (name, probs, y) in zip(axes, sets):
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
        for label, p, style in (("before", probs, "s--"), (f"after (T={cal.temperature:.2f})", cal.apply(probs), "o-")):
            bins = [b for b in reliability(p, y) if b["count"] >= 5]
            ece = expected_calibration_error(p, y)
            ax.plot(
                [b["confidence"] for b in bins], [b["accuracy"] for b in bins], style, label=f"{label}: ECE {ece:.4f}"
            )
        ax.axvline(cal.threshold, color="tab:red", alpha=0.5, label=f"accept threshold {cal.threshold:.3f}")
        ax.set_title(f"Reliability on {name}")
        ax.set_xlabel("Confidence (top probability)")
        ax.set_ylabel("Accuracy")
        ax.set_xlim(0, 1.01)
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def plot_run(run, ds) -> list[Path]:
    """The figures every finished run gets: samples.png and curves.png."""
    metrics = run.metrics
    return [
        plot_samples(run.plots_dir / "samples.png", ds.x_train, ds.y_train, ds.class_names),
        plot_curves(
            run.plots_dir / "curves.png",
            run.history,
            metrics.get("test_accuracy"),
            metrics.get("test_loss"),
            title=f"{run.name}: {metrics.get('preset', '')} on {ds.name}",
        ),
    ]
