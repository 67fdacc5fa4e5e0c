"""Synthetic training data depend on the fonts installed: a run records them, and says when they differ."""

import pytest

from mnistlab.data.fonts import fingerprint, fingerprint_changes
from mnistlab.errors import MnistlabError
from mnistlab.models.presets import get_preset
from mnistlab.training.core import _check_fonts


def test_a_run_with_synthetic_data_records_its_fonts(reader_run):
    recorded = reader_run.config["synthetic_fonts"]
    assert recorded == fingerprint("train") and recorded
    assert all(set(f) == {"file", "sha256"} and len(f["sha256"]) == 64 for f in recorded)


def test_changed_fonts_are_named_and_a_resume_on_them_is_refused(capsys):
    current = fingerprint("train")
    recipe = get_preset("fast").recipe
    assert fingerprint_changes(current, current) is None
    older = [dict(f) for f in current[1:]] + [{"file": "Gone.ttf", "sha256": "0" * 64}]
    older[0]["sha256"] = "f" * 64
    change = fingerprint_changes(older, current)
    assert "1 missing (Gone.ttf)" in change and "1 new" in change and "1 changed" in change
    with pytest.raises(MnistlabError, match="the synthetic data would not be the same"):
        _check_fonts(recipe, {"synthetic_fonts": older}, resuming=True)
    assert _check_fonts(recipe, {"synthetic_fonts": older}, resuming=False) == current
    assert "the synthetic data, and so the result, will differ" in capsys.readouterr().err
    assert _check_fonts(get_preset("seed").recipe, {"synthetic_fonts": older}, resuming=True) is None
