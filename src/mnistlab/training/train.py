"""`train`: any preset into a run directory, through the one training core with the task for its kind."""

from __future__ import annotations

from mnistlab.models.presets import Recipe, is_detector_recipe, is_line_recipe
from mnistlab.runs import RunDir
from mnistlab.training.core import TrainOptions, fit_run, resolve
from mnistlab.training.detector import DetectorTask
from mnistlab.training.digits import DigitTask
from mnistlab.training.lines import LineTask


def task_for(recipe: Recipe):
    """The task that trains a recipe's kind of model."""
    if is_detector_recipe(recipe):
        return DetectorTask()
    return LineTask() if is_line_recipe(recipe) else DigitTask()


def train(
    opts: TrainOptions,
    recipe: Recipe | None = None,
    resume: RunDir | None = None,
    link_latest: bool = False,
    recorded_fonts: dict | None = None,
) -> RunDir:
    """Train into a new run directory (or finish `resume`) and return it, judged and plotted.

    `link_latest` also points `<runs folder>/latest` at it (the CLI's `train` asks for that)."""
    opts, recipe = resolve(opts, recipe, resume)
    return fit_run(task_for(recipe), opts, recipe, resume, link_latest, recorded_fonts)
