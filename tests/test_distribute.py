"""tf.distribute: two MultiWorkerMirroredStrategy workers on 127.0.0.1 train one epoch in lock-step."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from mnistlab.errors import MnistlabError
from mnistlab.training.distribute import get_strategy


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_train_the_same_model(tmp_path, synthetic_npz):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    out = tmp_path / "dist"
    procs = []
    for index in range(2):
        env = {
            **os.environ,
            "MNISTLAB_VERBOSE": "0",
            "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mnistlab.cli",
                    "train",
                    "--strategy",
                    "multiworker",
                    "--dataset",
                    f"npz:{synthetic_npz}",
                    "--epochs",
                    "1",
                    "--batch-size",
                    "32",
                    "--out",
                    str(out),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=420) for p in procs]
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["replicas"] == 2 and cfg["global_batch_size"] == 64
    assert (out / "metrics.json").exists()
    other = out.with_name("dist-worker1")
    assert not (other / "metrics.json").exists()  # only the chief writes the run
    import keras

    chief = keras.saving.load_model(out / "model.keras", compile=False).get_weights()
    worker = keras.saving.load_model(other / "model.keras", compile=False).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(chief, worker, strict=True))


def test_strategy_choices():
    assert get_strategy("default").num_replicas_in_sync == 1
    assert get_strategy("auto").num_replicas_in_sync >= 1
    with pytest.raises(MnistlabError, match="unknown strategy"):
        get_strategy("tpu")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(MnistlabError, match="TF_CONFIG"):
        get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(MnistlabError, match="TF_CONFIG must be JSON"):
        get_strategy("multiworker")
