"""Reading on a Ray cluster: the rows `batch.read_many` gives, from Ray Data actors.

    mnistlab read --ray auto|local|HOST:6379 DIR --jsonl out.jsonl
    ml.read_ray(paths_or_dataset, address="auto", jsonl="out.jsonl")

A Ray Data pipeline over the pictures: `map_batches` with a class that loads the model once per
actor (one CPU and one onnxruntime thread each), the rows in input order, written by the driver
into the same JSONL / CSV as local reading. Every node needs mnistlab installed (`pip install
'mnistlab[ray]'`, the same version) and, for paths, the pictures at the same paths (a shared
folder); a Ray Dataset with a `bytes` column (`ray.data.read_binary_files(..., include_paths=True)`)
carries the pictures themselves.

`address`: "auto" joins the cluster this machine belongs to (`ray start` ran here), "local" starts
a private Ray instance on this machine, anything else is a cluster's address (HOST:PORT).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator

from mnistlab.batch.many import Reader, ReadOptions
from mnistlab.errors import MnistlabError
from mnistlab.extras import require

BATCH = 16  # pictures per actor call: small, so that the first rows come soon


def connect(address: str = "auto", cpus: int | None = None):
    """Ray, joined to the cluster at `address` (or a new local instance for "local")."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report home from a reader
    ray = require("ray", "ray")
    require("ray.data", "ray")
    if ray.is_initialized():
        return ray
    settings = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address == "local":
            # On loopback only: a private instance has no business on the network.
            ray.init(num_cpus=cpus, object_store_memory=512 * 1024 * 1024, _node_ip_address="127.0.0.1", **settings)
        else:
            ray.init(address=address, **settings)
    except Exception as exc:  # Ray raises ConnectionError, ValueError, RuntimeError... for the same fault
        hint = (
            "start one with `ray start --head`, or use --ray local"
            if address == "auto"
            else "check the address (HOST:PORT of `ray start --head`) and that this machine reaches it"
        )
        raise MnistlabError(f"cannot join a Ray cluster at {address!r} ({type(exc).__name__}: {exc}): {hint}") from None
    return ray


class RayReader:
    """A Ray Data actor: the model loaded once; a batch of paths (or of bytes and paths) -> rows,
    each a JSON string (Arrow needs no schema for what a reading holds)."""

    def __init__(self, options: ReadOptions):
        self.reader = Reader(options, threads=1)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        paths = [str(p) for p in batch["path"]]
        if "bytes" in batch:
            rows = [self.reader.read_bytes(bytes(b), p) for b, p in zip(batch["bytes"], paths, strict=True)]
        else:
            rows = [self.reader.read_file(p) for p in paths]
        return {"row": np.array([json.dumps(r, allow_nan=False) for r in rows], dtype=object)}


def read_rows(source, options: ReadOptions, address: str = "auto", actors: int | None = None) -> Iterator[dict]:
    """Each picture's row, in input order: `source` is a list of paths or a Ray Dataset with a
    `path` column (and, optionally, `bytes`). `actors`: how many readers (default: the cluster's CPUs)."""
    from mnistlab.runs import open_run

    open_run(options.run)  # a bad run is one sentence here, not an error in every actor
    if isinstance(source, (list, tuple)) and not source:
        return
    ray = connect(address, cpus=actors if address == "local" else None)
    import ray.data  # noqa: F811  (the submodule, on the same name)

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    from_paths = not isinstance(source, ray.data.Dataset)
    if not from_paths:
        dataset = source
    else:
        dataset = ray.data.from_items([{"path": os.fspath(p)} for p in source])
    size = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Paths come from this process: every CPU reads. A dataset's own files are read by Ray tasks,
    # which need CPUs too: from 1 to `size` readers then, as CPUs are free (a fixed pool of every
    # CPU would leave the tasks none, and wait for them forever).
    pool = (
        ray.data.ActorPoolStrategy(size=size) if from_paths else ray.data.ActorPoolStrategy(min_size=1, max_size=size)
    )
    # An actor that dies is not restarted (Ray logs a warning for restartable actors with their
    # arguments in the object store): the job stops with one sentence, and --resume goes on from
    # the rows written. Ray's own docs name max_restarts=0 for this, which it also calls deprecated.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        rows = dataset.map_batches(
            RayReader,
            fn_constructor_kwargs={"options": options},
            batch_size=BATCH,
            batch_format="numpy",
            compute=pool,
            num_cpus=1,
            max_restarts=0,
        )
    try:
        for batch in rows.iter_batches(batch_size=BATCH, batch_format="numpy"):
            for text in batch["row"]:
                yield json.loads(text)
    except MnistlabError:
        raise
    except Exception as exc:  # an actor's failure arrives wrapped in Ray's own error types
        cause = _root_cause(exc)
        raise MnistlabError(f"reading on Ray failed: {type(cause).__name__}: {cause}") from None


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc
