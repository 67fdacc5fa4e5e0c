"""Result files that grow a row at a time: JSON Lines and CSV, each row one whole line.

`mnistlab read --jsonl FILE` / `--csv FILE` append each picture's row as soon as it is read, with one
write of the whole line, so a run stopped at any moment (Ctrl-C, SIGKILL, a full disk) leaves every
row before it intact and at most a piece of the last one. Opened with `resume=True`, such a piece is
cut off and the rows already there say which pictures are done (`done`: each file's content digests),
so that reading on writes every picture exactly once.

"-" is standard output (nothing to resume there).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from pathlib import Path

from mnistlab.errors import MnistlabError

KINDS = ("jsonl", "csv")


class RowFile:
    """A JSONL or CSV file that rows are appended to, one whole line per write."""

    def __init__(
        self, path: str | os.PathLike, kind: str, columns: list[str] | None = None, resume: bool = False, cells=None
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        if kind == "csv" and not columns:
            raise ValueError("a CSV file needs its columns")
        self.kind, self.columns = kind, columns
        self.cells = cells  # row -> the dict a CSV line is made of (default: the row itself)
        self.name = str(path)
        self.done: dict[str, set] = {}
        self.resume = resume
        self.fd = None  # opened at the first row: a run that fails before it leaves the file as it was
        self.closed = False
        if self.name == "-":
            if resume:
                raise MnistlabError(f"--resume needs an output file to resume; --{kind} - writes to standard output")
            self.owned = False
            return
        self.path, self.owned = Path(path), True
        if self.path.exists() and not self.path.is_file():
            raise MnistlabError(f"{self.path} is not a regular file; name a file for --{kind}")
        if resume and self.path.exists():
            try:
                self._resume()
            except OSError as exc:
                raise MnistlabError(f"{self.path} cannot be read: {exc.strerror or exc}") from None

    def _open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.name} is closed")
        if not self.owned:
            self.fd = 1
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if self.resume else os.O_TRUNC)
                self.fd = os.open(self.path, flags, 0o666)
            except OSError as exc:
                raise MnistlabError(f"{self.path} cannot be written: {exc.strerror or exc}") from None
        if self.kind == "csv" and (not self.owned or os.fstat(self.fd).st_size == 0):
            self._write_line(self._csv_line(dict(zip(self.columns, self.columns))))

    def _resume(self) -> None:
        """Cut off a last line left unfinished, and note which pictures the finished ones hold."""
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            os.truncate(self.path, end)
        text = data[:end].decode("utf-8", errors="replace")
        if self.kind == "jsonl":
            rows = []
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise MnistlabError(
                        f"{self.path} line {number} is not JSON: not a file mnistlab wrote; name another --jsonl file"
                    ) from None
                rows.append(row)
        else:
            reader = csv.DictReader(io.StringIO(text))
            if text and reader.fieldnames != self.columns:
                raise MnistlabError(
                    f"{self.path} has the columns {','.join(reader.fieldnames or [])}, not "
                    f"{','.join(self.columns)}: not a file this command wrote; name another --csv file"
                )
            rows = list(reader)
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("file"), str):
                self.done.setdefault(row["file"], set()).add(row.get("sha256") or None)

    def holds(self, file: str, digest: str | None) -> bool:
        """Whether a row for this file with this content is already in the file."""
        return digest in self.done.get(file, ())

    def write(self, row: dict) -> None:
        if self.fd is None:
            self._open()
        if self.kind == "jsonl":
            line = json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n"
        else:
            cells = self.cells(row) if self.cells else row
            line = self._csv_line({k: csv_cell(one_line(cells.get(k))) for k in self.columns})
        self._write_line(line)

    def _csv_line(self, cells: dict) -> str:
        buf = io.StringIO()
        csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n").writerow(cells)
        return buf.getvalue()

    def _write_line(self, line: str) -> None:
        data = memoryview(line.encode("utf-8"))
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError as exc:
            where = "standard output" if not self.owned else str(self.path)
            if exc.errno == errno.ENOSPC:
                raise MnistlabError(f"{where}: the disk is full; free some space and go on with --resume") from None
            if exc.errno == errno.EPIPE:
                raise BrokenPipeError from None
            raise MnistlabError(f"{where} cannot be written: {exc.strerror or exc}") from None

    def finish(self) -> None:
        """Close the file after a run that ended well: it exists (with its CSV header) even where no
        row was written."""
        if self.fd is None and not self.closed:
            self._open()
        self.close()

    def close(self) -> None:
        if self.fd is not None and self.owned:
            try:
                os.fsync(self.fd)
            except OSError:
                pass
            os.close(self.fd)
        self.fd, self.closed = None, True


def one_line(value):
    """A CSV cell on one line, so that a row is a line (and a cut one is seen): the lines of a
    reading of several are joined by " | " (`|` is no character mnistlab reads)."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return " | ".join(part for part in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return value


def csv_cell(value):
    """A cell a spreadsheet shows as text, never runs: text starting with = + - @ tab or CR (a file
    name, an error) gets a leading ' as OWASP recommends; plain numbers ("-3") are left as they are."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value
