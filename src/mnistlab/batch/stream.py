"""A batch of pictures as the CLI and the API read it: the pictures not yet in the output files,
read on local workers or a Ray cluster, each row written to every output and counted as it comes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mnistlab.batch.many import ReadOptions, file_digest, read_many


@dataclass
class Tally:
    """What a read job did: pictures read (sure or not), failed, and left alone."""

    read: int = 0
    unsure: int = 0
    failed: int = 0
    resumed: int = 0  # already in the output files (--resume)
    skipped: int = 0  # in the folders and globs, but not pictures by name
    seconds: float = 0.0

    def count(self, row: dict) -> None:
        if "error" in row:
            self.failed += 1
        else:
            self.read += 1
            self.unsure += not row.get("accepted")

    @property
    def exit_status(self) -> int:
        """0: every picture read (sure or not); 1: some failed; 2: every one failed."""
        if not self.failed:
            return 0
        return 2 if not self.read else 1

    def summary(self) -> str:
        total = self.read + self.failed
        rate = f", {total / self.seconds:.1f} a second" if self.seconds > 0 and total else ""
        text = (
            f"{total:,} picture{'s' if total != 1 else ''} in {self.seconds:.1f} s{rate}: "
            f"{self.read - self.unsure:,} read, {self.unsure:,} not sure, {self.failed:,} failed"
        )
        if self.resumed:
            text += f"; {self.resumed:,} already in the output, left alone"
        if self.skipped:
            text += f"; {self.skipped:,} file{'s' if self.skipped != 1 else ''} not a picture by name, skipped"
        return text


def unread(files: Iterable[Path], outputs: list, tally: Tally) -> Iterator[Path]:
    """The files some output does not hold yet (by path and content digest), as they are asked
    for: a file's digest is computed only where an output already names it. Counts the others in
    `tally.resumed`."""
    held = [out for out in outputs if out.done]
    for f in files:
        name = str(f)
        if held and len(held) == len(outputs) and all(name in out.done for out in held):
            digest = file_digest(f)
            if all(out.holds(name, digest) for out in outputs):
                tally.resumed += 1
                continue
        yield f


def read_stream(
    files: list[Path],
    options: ReadOptions,
    outputs: list = (),
    jobs: int | None = None,
    ray: str | None = None,
    tally: Tally | None = None,
) -> Iterator[dict]:
    """Each picture's row, in input order, once it is written to every RowFile of `outputs` that
    lacks it; pictures every output already holds (resumed files) are left alone. `tally` counts as
    rows come. `ray` reads through a Ray cluster (cluster.py) instead of local workers."""
    import time

    tally = tally if tally is not None else Tally()
    start = time.perf_counter()
    todo = unread(files, list(outputs), tally)
    if ray:
        from mnistlab.batch.cluster import read_rows

        rows = read_rows(list(todo), options, address=ray, actors=jobs)
    else:
        rows = read_many(todo, options, jobs)
    try:
        for row in rows:
            digest = row.get("sha256")
            for out in outputs:
                if not out.holds(row["file"], digest):
                    out.write(row)
            tally.count(row)
            tally.seconds = time.perf_counter() - start
            yield row
    finally:
        tally.seconds = time.perf_counter() - start
