"""A Keras model's class probabilities for raw pixels, in compiled batches, with test-time views.

Shared by evaluation, the exports' checks and the Keras engine (`--engine keras`); TensorFlow is
imported on first use.
"""

from __future__ import annotations

import numpy as np


def predict_proba(model, x: np.ndarray, batch_size: int = 2048, tta: int = 1) -> np.ndarray:
    """Class probabilities for raw pixels (N, 28, 28) in 0..255, in XLA-compiled batches.

    A short final chunk is padded up to a power of two, so however many images arrive, at most a
    dozen batch shapes are ever compiled. `tta` > 1 averages that many shifted views (see data/views.py).
    """
    x = np.asarray(x, dtype=np.float32)
    if tta != 1:
        from mnistlab.data import views as tta_mod

        return tta_mod.average_views(predict_proba(model, tta_mod.stack_views(x, tta), batch_size), tta)
    import tensorflow as tf

    fn = _compiled(model)
    out = []
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        padded = min(batch_size, 1 << (len(chunk) - 1).bit_length())
        if padded > len(chunk):
            chunk = np.concatenate([chunk, np.zeros((padded - len(chunk), *chunk.shape[1:]), np.float32)])
        out.append(fn(tf.constant(chunk)).numpy()[: min(batch_size, len(x) - start)])
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)


_COMPILED: dict[int, object] = {}


def _compiled(model):
    """One XLA-compiled inference function per model (retraced only for a new batch shape)."""
    import tensorflow as tf

    key = id(model)
    if key not in _COMPILED:

        def infer(x):
            return model(x, training=False)

        _COMPILED[key] = tf.function(
            tf.autograph.experimental.do_not_convert(infer), jit_compile=True, reduce_retracing=True
        )
    return _COMPILED[key]
