"""The two public references, re-implemented from their published code and reading our cached npz.

(a) the seed tutorial, exactly as it stands: x/255.0 (float64), the 128-64-10 network,
    `model.fit(x_train, y_train, epochs=5)`.
(b) keras-io "Simple MNIST convnet": two conv/pool blocks, dropout 0.5, batch 128, 15 epochs,
    validation_split 0.1, categorical cross-entropy on one-hot labels.
"""

from __future__ import annotations

import time

import numpy as np


def _test_probe(keras, x_test, y_test, clock):
    class Probe(keras.callbacks.Callback):
        """Per-epoch test accuracy, timed separately so it can be taken out of the fit time."""

        def __init__(self):
            super().__init__()
            self.curve = []

        def on_epoch_end(self, epoch, logs=None):
            start = time.perf_counter()
            acc = self.model.evaluate(x_test, y_test, verbose=0, batch_size=1024)[1]
            clock["probe"] += time.perf_counter() - start
            self.curve.append((time.perf_counter() - clock["start"] - clock["probe"], float(acc)))

    return Probe()


def tutorial(ds, probe: bool = True) -> dict:
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
    x_train, x_test = x_train / 255.0, x_test / 255.0
    model = tf.keras.models.Sequential(
        [
            tf.keras.layers.Input(shape=(28, 28)),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = {"probe": 0.0}
    cbs = [_test_probe(tf.keras, x_test, y_test, clock)] if probe else []
    clock["start"] = time.perf_counter()
    model.fit(x_train, y_train, epochs=5, verbose=0, callbacks=cbs)
    fit = time.perf_counter() - clock["start"] - clock["probe"]
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    return {
        "model": model,
        "x_test": x_test,
        "test_accuracy": float(acc),
        "test_loss": float(loss),
        "fit_seconds": fit,
        "curve": cbs[0].curve if cbs else [],
    }


def keras_io_convnet(ds, probe: bool = True) -> dict:
    import keras

    num_classes, input_shape = 10, (28, 28, 1)
    x_train = np.expand_dims(ds.x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(ds.x_test.astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(ds.y_train, num_classes)
    y_test = keras.utils.to_categorical(ds.y_test, num_classes)
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    clock = {"probe": 0.0}
    cbs = [_test_probe(keras, x_test, y_test, clock)] if probe else []
    clock["start"] = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1, verbose=0, callbacks=cbs)
    fit = time.perf_counter() - clock["start"] - clock["probe"]
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    return {
        "model": model,
        "x_test": x_test,
        "test_accuracy": float(acc),
        "test_loss": float(loss),
        "fit_seconds": fit,
        "curve": cbs[0].curve if cbs else [],
    }
