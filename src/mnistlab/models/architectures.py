"""The Keras architectures the presets name: short functional blocks, each built by name.

Every classifier takes raw pixels 0..255 shaped (28, 28) and scales them itself, so whatever serves
or exports it needs no separate preprocessing step; the line model (`crnn_small`) takes a 32-pixel
strip of any width and answers a class per column for CTC.
"""

from __future__ import annotations

from mnistlab.errors import MnistlabError


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


def _crnn(keras, num_classes: int, name: str, filters: tuple, dense: int, units: int, recurrent: int = 1):
    inputs = keras.Input(shape=(32, None), name="strip")
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    x = keras.layers.Reshape((32, -1, 1))(x)
    for i, f in enumerate(filters):
        x = _conv_bn(keras, x, f)
        if i < 2:
            x = keras.layers.MaxPooling2D(2)(x)
        elif i == 2:
            x = keras.layers.MaxPooling2D((2, 1))(x)
    x = keras.layers.Permute((2, 1, 3))(x)  # (N, W/4, 4, filters[-1])
    x = keras.layers.Reshape((-1, 4 * filters[-1]))(x)
    x = keras.layers.Dense(dense, activation="relu")(x)
    for _ in range(recurrent):
        x = keras.layers.Bidirectional(keras.layers.GRU(units, return_sequences=True))(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def crnn_small(keras, num_classes: int):
    """A line model: (N, 32, W) strips, 0..255 -> (N, W/4, num_classes) CTC logits (class 0: blank).

    Four 3x3 convolutions (16-32-64-64 filters) take the strip to 4 rows at a quarter of its width;
    each column's 256 features pass a dense layer and a bidirectional GRU of 64 units each way.
    """
    return _crnn(keras, num_classes, "crnn_small", (16, 32, 64, 64), 128, 64)


def crnn_medium(keras, num_classes: int):
    """`crnn_small` wider: 24-48-96-96 filters, a dense layer of 192 and a GRU of 96 units each way."""
    return _crnn(keras, num_classes, "crnn_medium", (24, 48, 96, 96), 192, 96)


def crnn_large(keras, num_classes: int):
    """Wider again (32-64-128-128 filters, 256) with two bidirectional GRUs of 128 units each way."""
    return _crnn(keras, num_classes, "crnn_large", (32, 64, 128, 128), 256, 128, recurrent=2)


def unet_detector(keras, num_classes: int = 1):
    """The text detector: (N, H, W, 1) standardized grey photos -> (N, H/4, W/4, 1) logits that a
    cell is a line's core (`data.pages`); H and W are any multiples of 16.

    An encoder of strided 3x3 convolutions down to a sixteenth (16-24-32-48 filters, the deepest
    stages dilated so a cell sees about 200 pixels: a tall line's whole height), and a decoder that
    brings the coarse context back to a quarter, adding the encoder's finer features on the way.
    """
    inputs = keras.Input(shape=(None, None, 1), name="photo")
    x = _conv_bn(keras, inputs, 16, strides=2)  # 1/2
    x = _conv_bn(keras, x, 24, strides=2)  # 1/4
    q = _conv_bn(keras, x, 24)
    x = _conv_bn(keras, q, 32, strides=2)  # 1/8
    e = _conv_bn(keras, x, 32)
    x = _conv_bn(keras, e, 48, strides=2)  # 1/16
    x = _dilated(keras, x, 48, 2)
    x = _dilated(keras, x, 48, 4)
    x = keras.layers.UpSampling2D(2)(x)  # 1/8 (nearest: any picture size exports to ONNX)
    x = _conv_bn(keras, keras.layers.Concatenate()([x, e]), 32)
    x = keras.layers.UpSampling2D(2)(x)  # 1/4
    x = _conv_bn(keras, keras.layers.Concatenate()([x, q]), 24)
    outputs = keras.layers.Conv2D(num_classes, 1, name="core_logits")(x)
    return keras.Model(inputs, outputs, name="unet_detector")


def _dilated(keras, x, filters, rate):
    x = keras.layers.Conv2D(filters, 3, dilation_rate=rate, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


ARCHITECTURES = {
    f.__name__: f
    for f in (
        dense_128_64,
        convnet_small,
        convnet_fast,
        convnet_fast_wide,
        convnet_wide,
        crnn_small,
        crnn_medium,
        crnn_large,
        unet_detector,
    )
}


def build_model(architecture: str, num_classes: int = 10):
    import keras

    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise MnistlabError(f"unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}") from None
    return builder(keras, num_classes)
