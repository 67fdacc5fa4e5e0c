"""Confidences that mean what they say, and the line between "a digit" and "not a digit".

After training, a run fits one temperature T on its validation split (temperature scaling: the
probabilities become softmax(log p / T), which keeps every argmax and fixes over- or
under-confidence) and chooses an acceptance threshold on the calibrated top probability: the highest
one that still accepts `TARGET_ACCEPT` of the validation digits. The synthetic validation non-digits
are scored at that threshold for the record. The MNIST test set is never used to choose either.

Both numbers live in the run's `calibration.json` and are applied by every consumer through
`Calibration.apply` / `Calibration.judge`; exports bake the temperature into the graph.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mnistlab import atomic
from mnistlab.errors import MnistlabError

TARGET_ACCEPT = 0.995  # of validation digits: leaves margin for the >=99% of test digits promised
ECE_BINS = 15


@dataclass
class Calibration:
    temperature: float = 1.0
    threshold: float = 0.0
    fit_on: str = "none"
    details: dict = field(default_factory=dict)

    def apply(self, probs: np.ndarray) -> np.ndarray:
        return temper(probs, self.temperature)

    def judge(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw probabilities -> (calibrated probabilities, confidence, accepted) per image."""
        cal = self.apply(probs)
        conf = cal.max(axis=1) if len(cal) else np.zeros(0)
        return cal, conf, conf >= self.threshold

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: Path) -> None:
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """The run's calibration; an uncalibrated identity for runs made before calibration existed."""
        if not Path(path).exists():
            return cls()
        try:
            d = json.loads(Path(path).read_text())
            cal = cls(
                temperature=float(d["temperature"]),
                threshold=float(d["threshold"]),
                fit_on=str(d.get("fit_on", "")),
                details=dict(d.get("details", {})),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MnistlabError(f"{path} cannot be read as a calibration ({exc})") from None
        # A temperature of 0, below 0 or NaN would turn every confidence into NaN or invert the
        # ranking (a 7 read as "0" and accepted): refused, never used.
        if not (np.isfinite(cal.temperature) and 0.01 <= cal.temperature <= 100):
            raise MnistlabError(
                f"{path}: temperature {cal.temperature} is outside 0.01..100; "
                "re-calibrate the run (retrain it) or restore its calibration.json"
            )
        if not (np.isfinite(cal.threshold) and 0.0 <= cal.threshold <= 1.0):
            raise MnistlabError(
                f"{path}: threshold {cal.threshold} is outside 0..1; restore the run's calibration.json"
            )
        return cal


def temper(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the same ranking, sharper (T < 1) or softer (T > 1)."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    e = np.exp(logp)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of labels `y` (grid, then refined)."""
    if len(y) == 0:
        return 1.0
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 121))
    losses = [nll(temper(probs, t), y) for t in grid]
    k = int(np.argmin(losses))
    lo, hi = grid[max(0, k - 1)], grid[min(len(grid) - 1, k + 1)]
    fine = np.exp(np.linspace(np.log(lo), np.log(hi), 41))
    return float(fine[int(np.argmin([nll(temper(probs, t), y) for t in fine]))])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(y) == 0:
        return 0.0
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: mean confidence, accuracy and count (for the reliability diagram)."""
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    return [
        {
            "lo": float(edges[b]),
            "hi": float(edges[b + 1]),
            "count": int((idx == b).sum()),
            "confidence": float(conf[idx == b].mean()) if (idx == b).any() else None,
            "accuracy": float(correct[idx == b].mean()) if (idx == b).any() else None,
        }
        for b in range(bins)
    ]


def choose_threshold(digit_confidence: np.ndarray, target_accept: float = TARGET_ACCEPT) -> float:
    """The highest threshold that accepts at least `target_accept` of these digits."""
    if len(digit_confidence) == 0:
        return 0.0
    c = np.sort(np.asarray(digit_confidence, dtype=np.float64))
    k = int(np.floor((1 - target_accept) * len(c)))
    return float(np.nextafter(c[k], 0))  # accept c[k] itself and everything above it


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = np.asarray(positive, np.float64), np.asarray(negative, np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    scores = np.concatenate([pos, neg])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def calibrate(val_probs: np.ndarray, y_val: np.ndarray, nondigit_probs: np.ndarray | None, fit_on: str) -> Calibration:
    """Fit the temperature and the threshold on validation digits (and score validation non-digits)."""
    t = fit_temperature(val_probs, y_val)
    cal_val = temper(val_probs, t)
    threshold = choose_threshold(cal_val.max(axis=1))
    details = {
        "validation_images": int(len(y_val)),
        "ece_before_validation": round(expected_calibration_error(val_probs, y_val), 5),
        "ece_after_validation": round(expected_calibration_error(cal_val, y_val), 5),
        "nll_before_validation": round(nll(val_probs, y_val), 5),
        "nll_after_validation": round(nll(cal_val, y_val), 5),
        "validation_accepted": round(float((cal_val.max(axis=1) >= threshold).mean()), 5),
        "target_accept": TARGET_ACCEPT,
    }
    if nondigit_probs is not None and len(nondigit_probs):
        conf_neg = temper(nondigit_probs, t).max(axis=1)
        details["validation_nondigits"] = int(len(conf_neg))
        details["validation_nondigits_rejected"] = round(float((conf_neg < threshold).mean()), 5)
        details["validation_auroc"] = round(auroc(cal_val.max(axis=1), conf_neg), 5)
    return Calibration(temperature=round(t, 5), threshold=threshold, fit_on=fit_on, details=details)
