"""Pick a tf.distribute strategy: one device, all local GPUs, or many hosts configured by TF_CONFIG.

The batch size in a recipe is per replica; the global batch is batch_size x replicas (recorded in
config.json as `global_batch_size`).
"""

from __future__ import annotations

import json
import os

from mnistlab.errors import MnistlabError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


def get_strategy(name: str = "auto"):
    import tensorflow as tf

    if name not in STRATEGIES:
        raise MnistlabError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multiworker":
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise MnistlabError(
                "--strategy multiworker needs the TF_CONFIG environment variable "
                "(cluster hosts and this task's type and index)"
            )
        try:
            cfg = json.loads(raw)
            cfg["cluster"], cfg["task"]["type"], cfg["task"]["index"]
        except (ValueError, KeyError, TypeError):
            raise MnistlabError(
                'TF_CONFIG must be JSON like {"cluster": {"worker": ["host:port", ...]}, '
                '"task": {"type": "worker", "index": 0}}'
            ) from None
        _patch_keras_for_multiworker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_multiworker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy) -> bool:
    """Whether this process writes the run: the `chief` task, else worker 0, else the only process."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


def _patch_keras_for_multiworker() -> None:
    """Work around Keras 3's broken MultiWorkerMirroredStrategy support (keras-team/keras#20585).

    Keras 3.15 fails before the first step in two places, both about values that are only logged or
    used for shapes, never the gradients (those are all-reduced inside the replica step):
    - `_maybe_symbolic_build` passes a whole (x, y) batch to `strategy.reduce`, which TF supports for
      single tensors only; the batch is only used to build shapes, so this worker's values do;
    - per-step metrics are reduced across workers with `strategy.reduce(..., axis=0)` on scalars;
      here each worker logs the mean over its own replicas instead.
    Multi-worker runs also use one step per execution and no XLA, which Keras does not support there.
    """
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    if getattr(original, "_mnistlab_multiworker", False):
        return

    def local_value(strategy, v):
        if isinstance(v, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(v)[0]
        return v

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is not None and is_multiworker(strategy):
            for _, _, it in iterator:
                batch = tree.map_structure(lambda v: local_value(strategy, v), next(it))
                return original(self, data_batch=batch)
        return original(self, iterator=iterator, data_batch=data_batch)

    maybe_symbolic_build._mnistlab_multiworker = True
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    tf_trainer._collective_all_reduce_multi_worker = lambda strategy: False
