"""Pick a tf.distribute strategy: one device, all local GPUs, or many hosts configured by TF_CONFIG.

The batch size in a recipe is per replica; the global batch is batch_size x replicas (recorded in
config.json as `global_batch_size`).
"""

from __future__ import annotations

import json
import os

from .errors import MnistlabError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")


def get_strategy(name: str = "auto"):
    import tensorflow as tf

    if name not in STRATEGIES:
        raise MnistlabError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "multiworker":
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise MnistlabError("--strategy multiworker needs the TF_CONFIG environment variable "
                                "(cluster hosts and this task's type and index)")
        try:
            cfg = json.loads(raw)
            cfg["cluster"], cfg["task"]["type"], cfg["task"]["index"]
        except (ValueError, KeyError, TypeError):
            raise MnistlabError("TF_CONFIG must be JSON like {\"cluster\": {\"worker\": [\"host:port\", ...]}, "
                                "\"task\": {\"type\": \"worker\", \"index\": 0}}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
