"""Presets: a name -> a model architecture plus the recipe that trains it.

A `Recipe` is plain data (it is what `config.json` records and what `train --from RUN` replays);
the architectures it names are in `architectures.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from mnistlab.errors import MnistlabError


@dataclass
class Recipe:
    """Everything that decides how a model is built and trained."""

    preset: str
    architecture: str
    epochs: int
    batch_size: int
    learning_rate: float = 1e-3
    schedule: str = "constant"  # constant | warmup_cosine | one_cycle
    warmup_epochs: float = 0.0
    beta_1: float = 0.9
    beta_2: float = 0.999
    weight_decay: float = 0.0  # AdamW when > 0, else Adam
    augment: dict = field(default_factory=dict)  # translate / rotate (fractions), zoom
    validation_split: float = 0.0
    # Synthetic non-digits added to the training set and pushed towards a uniform prediction
    # (outlier exposure, weight `negative_weight`), so the model learns to say "not a digit".
    negatives: int = 0
    negative_weight: float = 0.5
    # Digits rendered from printed and handwriting-style fonts (the `train` font group), added to the
    # training set so the model has seen digits that are not MNIST's writers.
    rendered_digits: int = 0
    # A line model (architecture `crnn_*`) trains on this many synthetic lines (`linesynth`) instead.
    lines: int = 0
    # What a line model's lines look like: "ink" (the reader's ink map of a line, `data.lines`) or
    # "photo" (a photo's crop around a found line, `data.photolines`).
    world: str = "ink"
    # Of a photo line model's handwritten lines, the share written by a simulated hand from stroke
    # templates (`data.hands`: digit forms MNIST's writers seldom use, upright slashes, ticked commas).
    hands: float = 0.0
    # A text detector (architecture `unet_detector`) trains on this many synthetic pages (`data.pages`).
    pages: int = 0
    steps_per_execution: int = 1
    jit_compile: bool = True
    # Fine-tuning: the finished run whose trained weights the model starts from instead of random
    # ones (same architecture), and the SHA-256 of that run's model.keras, so a re-run from this
    # recipe starts from the very same weights or says why it cannot.
    start_from: str = ""
    start_sha256: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise MnistlabError(f"the recipe has unknown fields: {', '.join(sorted(unknown))}")
        return cls(**d)


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    expected_accuracy: str
    expected_seconds: str
    recipe: Recipe
    # Weights in the built model, written down so that listing presets needs no TensorFlow
    # (tests/test_presets.py builds each model and checks the number).
    params: int


# `fast`'s recipe; `best` is the same recipe, wider, longer and augmented.
_FAST = Recipe(
    preset="fast",
    architecture="convnet_fast",
    epochs=1,
    batch_size=256,
    learning_rate=0.01,
    beta_1=0.7,
    beta_2=0.9,
    schedule="one_cycle",
    warmup_epochs=0.25,
    validation_split=5000 / 60000,
    negatives=6000,
    rendered_digits=6000,
    steps_per_execution=270,
    jit_compile=False,
)

_LINE = Recipe(
    preset="line",
    architecture="crnn_small",
    epochs=8,
    batch_size=128,
    learning_rate=3e-3,
    schedule="one_cycle",
    warmup_epochs=0.5,
    validation_split=5000 / 60000,
    negatives=3000,
    lines=80_000,
    jit_compile=False,
)

# Execution settings were measured on 2 CPU cores: the dense `seed` network runs fastest as one XLA
# program per epoch (steps_per_execution covers all 1,875 steps); the convnets run faster on TF's
# oneDNN kernels than on XLA's CPU convolutions (9 s vs 13 s per epoch for `fast`), so they skip XLA.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            name="seed",
            summary="the tutorial's dense network (128-64-10), Adam, batch 32, 5 epochs",
            expected_accuracy="~97.4%",
            expected_seconds="~10 s",
            recipe=Recipe(
                preset="seed", architecture="dense_128_64", epochs=5, batch_size=32, steps_per_execution=2000
            ),
            params=109_386,
        ),
        Preset(
            name="fast",
            summary="tuomaso-style convnet (pool before ReLU), one-cycle Adam, 1 epoch, "
            "+ 6,000 non-digits and 6,000 font digits",
            expected_accuracy="~99.1%",
            expected_seconds="~22 s",
            recipe=_FAST,
            params=215_194,
        ),
        Preset(
            name="best",
            summary="the fast network with 32/64 filters, 8 epochs of shift/rotate/zoom/low-resolution "
            "augmentation, + 6,000 non-digits and 6,000 font digits: the most robust reader",
            expected_accuracy="~99.4%",
            expected_seconds="~4 min",
            recipe=dataclasses.replace(
                _FAST,
                preset="best",
                architecture="convnet_fast_wide",
                epochs=8,
                warmup_epochs=1.5,
                augment={"translate": 0.1, "rotate": 10.0, "zoom": 0.1, "lowres": 0.3},
            ),
            params=431_754,
        ),
        Preset(
            name="line",
            summary="a line model: convolutions over a 32-pixel strip, a bidirectional GRU and CTC over "
            "0-9 . , / - : and 'not a digit', trained on 80,000 synthetic lines of MNIST "
            "training digits and training fonts",
            expected_accuracy="~90% lines",
            expected_seconds="~16 min",
            recipe=_LINE,
            params=170_337,
        ),
        Preset(
            name="photo-line",
            summary="the photo line reader: a wider line model (crnn_medium) trained on 100,000 photographed "
            "lines (pen-drawn, hand-written and printed digits on any paper, in any ink and light, blurred, small, "
            "ruled, with the lines around them) to read a found line's crop of the photo itself",
            expected_accuracy="~68% lines",
            expected_seconds="~45 min",
            recipe=dataclasses.replace(
                _LINE,
                preset="photo-line",
                architecture="crnn_medium",
                epochs=6,
                lines=100_000,
                world="photo",
                hands=1 / 3,
            ),
            params=380_297,
        ),
        Preset(
            name="detector",
            summary="a text detector: a small U-Net that marks where each line of writing lies in a "
            "photo, trained on 8,000 synthetic photos of pages (any paper, ink, light and tilt to 30 degrees)",
            expected_accuracy="~78% pages",
            expected_seconds="~16 min",
            recipe=Recipe(
                preset="detector",
                architecture="unet_detector",
                epochs=5,
                batch_size=16,
                learning_rate=3e-3,
                schedule="one_cycle",
                warmup_epochs=0.25,
                validation_split=5000 / 60000,
                pages=8000,
                jit_compile=False,
            ),
            params=116_681,
        ),
    ]
}

LINE_ARCHITECTURES = ("crnn_small", "crnn_medium", "crnn_large")
DETECTOR_ARCHITECTURES = ("unet_detector",)


def is_line_recipe(recipe: Recipe) -> bool:
    return recipe.architecture in LINE_ARCHITECTURES


def is_detector_recipe(recipe: Recipe) -> bool:
    return recipe.architecture in DETECTOR_ARCHITECTURES


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise MnistlabError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
