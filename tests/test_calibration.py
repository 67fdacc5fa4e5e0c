"""Temperature scaling, ECE, threshold choice and AUROC on data whose answers are known."""

import numpy as np
import pytest

from mnistlab.models.calibration import (
    Calibration,
    auroc,
    calibrate,
    choose_threshold,
    expected_calibration_error,
    fit_temperature,
    temper,
)


def _overconfident(n=4000, seed=0, true_t=2.5):
    """Labels drawn from softmax(z / true_t), reported as softmax(z): overconfident by true_t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 10))
    honest = np.exp(z / true_t) / np.exp(z / true_t).sum(1, keepdims=True)
    y = np.array([rng.choice(10, p=p) for p in honest])
    reported = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return reported.astype(np.float32), y


def test_fit_temperature_recovers_the_true_temperature():
    probs, y = _overconfident(true_t=2.5)
    assert fit_temperature(probs, y) == pytest.approx(2.5, rel=0.1)


def test_temperature_scaling_keeps_argmax_and_lowers_ece():
    probs, y = _overconfident()
    t = fit_temperature(probs, y)
    cal = temper(probs, t)
    assert (cal.argmax(1) == probs.argmax(1)).all()
    assert np.allclose(cal.sum(1), 1, atol=1e-5)
    before, after = expected_calibration_error(probs, y), expected_calibration_error(cal, y)
    assert before > 0.1 and after < before / 3


def test_threshold_accepts_the_target_share():
    conf = np.random.default_rng(1).uniform(0.2, 1.0, 10_000)
    t = choose_threshold(conf, 0.995)
    assert (conf >= t).mean() >= 0.995
    assert (conf >= t).mean() < 0.997  # and no more than needed


def test_auroc_extremes_and_ties():
    assert auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auroc(np.array([0.1, 0.2]), np.array([0.9, 0.8])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5


def test_calibrate_scores_nondigits_and_round_trips(tmp_path):
    probs, y = _overconfident(seed=2)
    flat = np.full((500, 10), 0.1, np.float32)  # non-digits the model is unsure about
    cal = calibrate(probs, y, flat, fit_on="test data")
    assert cal.details["validation_nondigits_rejected"] == 1.0
    assert cal.details["ece_after_validation"] < cal.details["ece_before_validation"]
    cal.save(tmp_path / "c.json")
    again = Calibration.load(tmp_path / "c.json")
    assert again.temperature == cal.temperature and again.threshold == cal.threshold
    _, _conf, accepted = again.judge(probs)
    assert accepted.mean() >= 0.99


def test_missing_calibration_is_the_identity(tmp_path):
    cal = Calibration.load(tmp_path / "none.json")
    probs = np.array([[0.7, 0.3]], np.float32)
    p, _conf, acc = cal.judge(probs)
    assert np.allclose(p, probs) and acc.all()


def test_damaged_calibration_is_a_clear_error(tmp_path):
    from mnistlab.errors import MnistlabError

    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(MnistlabError, match="cannot be read as a calibration"):
        Calibration.load(tmp_path / "c.json")
