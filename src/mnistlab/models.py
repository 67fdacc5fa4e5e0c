"""Presets: a name -> a model architecture plus the recipe that trains it.

A `Recipe` is plain data (it is what `config.json` records and what `train --from RUN` replays);
the architectures are short Keras blocks. Every model takes raw pixels 0..255 shaped (28, 28) and
scales them itself, so whatever serves or exports it needs no separate preprocessing step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import MnistlabError


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
    steps_per_execution: int = 1
    jit_compile: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
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
_FAST = Recipe(preset="fast", architecture="convnet_fast", epochs=1, batch_size=256, learning_rate=0.01,
               beta_1=0.7, beta_2=0.9, schedule="one_cycle", warmup_epochs=0.25,
               validation_split=5000 / 60000, negatives=6000, rendered_digits=6000,
               steps_per_execution=270, jit_compile=False)

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
            recipe=Recipe(preset="seed", architecture="dense_128_64", epochs=5, batch_size=32,
                          steps_per_execution=2000),
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
                _FAST, preset="best", architecture="convnet_fast_wide", epochs=8, warmup_epochs=1.5,
                augment={"translate": 0.1, "rotate": 10.0, "zoom": 0.1, "lowres": 0.3}),
            params=431_754,
        ),
        Preset(
            name="line",
            summary="a line model: convolutions over a 32-pixel strip, a bidirectional GRU and CTC over "
                    "0-9 . , / - : and 'not a digit', trained on 80,000 synthetic lines of MNIST "
                    "training digits and training fonts",
            expected_accuracy="~90% lines",
            expected_seconds="~16 min",
            recipe=Recipe(preset="line", architecture="crnn_small", epochs=8, batch_size=128,
                          learning_rate=3e-3, schedule="one_cycle", warmup_epochs=0.5,
                          validation_split=5000 / 60000, negatives=3000, lines=80_000, jit_compile=False),
            params=170_337,
        ),
    ]
}

LINE_ARCHITECTURES = ("crnn_small",)


def is_line_recipe(recipe: "Recipe") -> bool:
    return recipe.architecture in LINE_ARCHITECTURES


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise MnistlabError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


# --- architectures ------------------------------------------------------------------------------

def _inputs(keras):
    inputs = keras.Input(shape=(28, 28), name="pixels")
    return inputs, keras.layers.Rescaling(1.0 / 255, name="scale")(inputs)


def dense_128_64(keras, num_classes: int):
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28), name="pixels"),
            keras.layers.Rescaling(1.0 / 255, name="scale"),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="dense_128_64",
    )


def _conv_bn(keras, x, filters, kernel=3, strides=1, padding="same"):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def convnet_small(keras, num_classes: int):
    # Strided convolutions instead of pooling: a quarter of the activations to push through.
    inputs, x = _inputs(keras)
    x = keras.layers.Reshape((28, 28, 1))(x)
    x = _conv_bn(keras, x, 32, kernel=5, strides=2, padding="valid")
    x = _conv_bn(keras, x, 64, kernel=3, strides=2)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="convnet_small")


def convnet_fast(keras, num_classes: int, c1: int = 24, c2: int = 32, hidden: int = 256):
    # tuomaso/train_mnist_fast's network: pooling before the activation (ReLU on a quarter of the
    # values), two small convolutions and one hidden dense layer; no batch norm to pay for.
    inputs, x = _inputs(keras)
    x = keras.layers.Reshape((28, 28, 1))(x)
    x = keras.layers.Conv2D(c1, 5)(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(c2, 3)(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="convnet_fast")


def convnet_fast_wide(keras, num_classes: int):
    # The same shape with more filters (32 / 64): about twice the work per image.
    model = convnet_fast(keras, num_classes, c1=32, c2=64)
    model.name = "convnet_fast_wide"
    return model


def convnet_wide(keras, num_classes: int):
    inputs, x = _inputs(keras)
    x = keras.layers.Reshape((28, 28, 1))(x)
    x = _conv_bn(keras, x, 32)
    x = _conv_bn(keras, x, 48, strides=2)
    x = keras.layers.Dropout(0.1)(x)
    x = _conv_bn(keras, x, 64)
    x = _conv_bn(keras, x, 96, strides=2)
    x = keras.layers.Dropout(0.1)(x)
    x = _conv_bn(keras, x, 128)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="convnet_wide")


def crnn_small(keras, num_classes: int):
    """A line model: (N, 32, W) strips, 0..255 -> (N, W/4, num_classes) CTC logits (class 0: blank).

    Four 3x3 convolutions (16-32-64-64 filters) take the strip to 4 rows at a quarter of its width;
    each column's 256 features pass a dense layer and a bidirectional GRU of 64 units each way.
    """
    inputs = keras.Input(shape=(32, None), name="strip")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((32, -1, 1))(x)
    for i, filters in enumerate((16, 32, 64, 64)):
        x = _conv_bn(keras, x, filters)
        if i < 2:
            x = keras.layers.MaxPooling2D(2)(x)
        elif i == 2:
            x = keras.layers.MaxPooling2D((2, 1))(x)
    x = keras.layers.Permute((2, 1, 3))(x)            # (N, W/4, 4, 64)
    x = keras.layers.Reshape((-1, 4 * 64))(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(64, return_sequences=True))(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="crnn_small")


ARCHITECTURES = {f.__name__: f for f in (dense_128_64, convnet_small, convnet_fast, convnet_fast_wide,
                                          convnet_wide, crnn_small)}


def build_model(architecture: str, num_classes: int = 10):
    import keras

    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise MnistlabError(f"unknown architecture {architecture!r}; "
                            f"known: {', '.join(ARCHITECTURES)}") from None
    return builder(keras, num_classes)
