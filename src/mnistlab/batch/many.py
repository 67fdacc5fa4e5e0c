"""Reading many pictures: every core, in input order, a row per picture as soon as it is read.

    Reader                       one process's reader (the model loaded once): a file -> its row
    read_many(paths, options)    rows in input order from a pool of worker processes, each loading the
                                 model once and running onnxruntime with one thread (or in this
                                 process, for one job or one picture)

A row is what `mnistlab read --json` prints for a picture (`file`, `text`, `accepted`, `digits`, ...)
with the file's `sha256` (how `--resume` knows a picture it already read), or `file` and `error`
(the reason, not naming the file again) for a file that is no readable picture: one bad file never
stops the others. `cluster.py` reads the same rows on a Ray cluster.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mnistlab.errors import MnistlabError

AHEAD = 4  # pictures queued per worker: enough to keep every worker busy, few enough to stay small


@dataclass(frozen=True)
class ReadOptions:
    """How every picture of a batch is read (picklable: each worker builds its Reader from it)."""

    run: str  # the run directory (or the bundled model's)
    tta: int = 1
    engine: str = "onnx"
    lines: str | None = "auto"  # the line model: auto, off, or a line run
    mode: str = "combined"  # combined, line or segmenter
    detector: str | None = "auto"  # the text detector: auto, off, or a detector run
    photo: str | None = "auto"  # the photo line model: auto, off, or a photo-line run
    digits_only: bool = False
    annotate: str | None = None  # a folder for annotated copies, or None


class Reader:
    """The model loaded once, and the row for each picture."""

    def __init__(self, options: ReadOptions, threads: int | None = None, predictor=None):
        from mnistlab.inference.engine import set_session_threads
        from mnistlab.reading.predictor import Predictor
        from mnistlab.runs import open_run

        self.options = options
        if predictor is None:
            set_session_threads(threads)
            predictor = Predictor(
                open_run(options.run),
                options.tta,
                options.engine,
                lines=options.lines,
                mode=options.mode,
                detector=options.detector,
                photo=options.photo,
            )
        self.predictor = predictor  # one already loaded with these options (`ml.Run.read`), or its own

    def read_file(self, path: str | os.PathLike) -> dict:
        """A file -> its row (an `error` row for a file that is no readable picture)."""
        from mnistlab.images import ImageError, picture_bytes

        try:
            data = picture_bytes(path)
        except ImageError as exc:
            return {"file": str(path), "error": str(exc)}
        return self.read_bytes(data, str(path), source=path)

    def read_bytes(self, data: bytes, name: str, source: str | os.PathLike | None = None) -> dict:
        """A picture's bytes -> its row, named `name`; `source` is its file, for --annotate."""
        from mnistlab.images import ImageError, decode_picture

        row = {"file": name, "sha256": hashlib.sha256(data).hexdigest()}
        try:
            gray, scale = decode_picture(data)
        except ImageError as exc:
            return row | {"error": str(exc)}
        return row | self.read_gray(gray, scale, source, data)

    def read_gray(
        self, gray, scale: float = 1.0, source: str | os.PathLike | None = None, data: bytes | None = None
    ) -> dict:
        """A decoded grayscale picture -> its reading (`error` for a fault of the reader's own)."""
        try:
            result = self.predictor.read(gray, tta=self.options.tta, scale=scale, data=data)
        except MnistlabError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # one picture's fault must not end a run over thousands
            if os.environ.get("MNISTLAB_DEBUG"):
                raise
            return {"error": f"could not be read ({type(exc).__name__}: {exc}); please report it"}
        result.pop("inputs")  # the 28x28 images are for the page; files get boxes and readings
        if self.options.annotate and source is not None:
            from mnistlab.reading.annotate import annotate_file

            result["annotated"] = str(annotate_file(source, result, self.options.annotate))
        if self.options.digits_only:
            from mnistlab.reading import digits_only

            result = digits_only(result)
        return result


def file_digest(path: str | os.PathLike) -> str | None:
    """The digest a row records for this file now (None where it cannot be read), to resume by."""
    from mnistlab.images import ImageError, picture_bytes

    try:
        return hashlib.sha256(picture_bytes(path)).hexdigest()
    except ImageError:
        return None


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def read_many(paths: Iterable[str | os.PathLike], options: ReadOptions, jobs: int | None = None) -> Iterator[dict]:
    """Each picture's row, in the order of `paths`, as soon as it and those before it are read.

    `jobs` worker processes (default: every core) each load the model once and run onnxruntime with
    one thread; with one job, or one picture, this process reads them itself. `paths` may be a
    generator: it is consumed as the workers need more. Raises MnistlabError for a run that cannot
    be loaded or a worker that died.
    """
    todo = iter(paths)
    jobs = default_jobs() if jobs is None else jobs
    first = list(itertools.islice(todo, max(2, jobs)))  # no more workers than pictures
    if not first:
        return
    jobs = min(jobs, len(first))
    todo = itertools.chain(first, todo)
    if jobs <= 1 or len(first) == 1:
        # One picture: every core for it (the quickest answer); more, on one job: one thread each.
        reader = Reader(options, threads=None if len(first) == 1 else 1)
        for path in todo:
            yield reader.read_file(path)
        return
    yield from _pooled(todo, options, jobs)


def _pooled(todo: Iterator, options: ReadOptions, jobs: int) -> Iterator[dict]:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_start_worker, initargs=(options,))
    pending: deque = deque()
    try:
        for path in todo:
            pending.append(pool.submit(_read_in_worker, path))
            if len(pending) >= jobs * AHEAD:
                break
        while pending:
            row = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_read_in_worker, nxt))
            if "fatal" in row:
                raise MnistlabError(row["fatal"])
            yield row
    except BrokenProcessPool:
        raise MnistlabError(
            "a reading worker died (out of memory, or killed); what was read is kept: go on with --resume"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _context():
    """Workers are forked where the system can (they start in milliseconds, the modules already
    imported; the parent has loaded no model, so they share no onnxruntime state), else spawned."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


_worker: Reader | None = None
_worker_failure: str | None = None


def _start_worker(options: ReadOptions) -> None:
    global _worker, _worker_failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()
    try:
        _worker = Reader(options, threads=1)
    except MnistlabError as exc:
        _worker_failure = str(exc)


def _exit_with_parent() -> None:
    """A worker whose parent was killed (SIGKILL leaves it no time to stop its pool) ends itself
    within a second, instead of waiting forever on a queue no one will fill."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="mnistlab-parent-watch", daemon=True).start()


def _read_in_worker(path) -> dict:
    if _worker is None:
        return {"fatal": _worker_failure or "the reading worker did not start"}
    return _worker.read_file(path)


# --- a read job: listing, resume, outputs, tally --------------------------------------------------
