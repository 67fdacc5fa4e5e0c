"""Writes that either happen completely or not at all (temp file in the same folder + rename)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; a finished file gets the mode a plain open() would have given it.
FILE_MODE = 0o666 & ~_umask()


def stage_prefix(name: str) -> str:
    """The name prefix of this process's temporary files and folders for `name`: `.NAME.PID.`."""
    return f".{name}.{os.getpid()}."


def sweep_stale(folder: Path, name: str) -> int:
    """Remove temporary files and folders for `name` left in `folder` by a process that is gone
    (killed mid-write: nothing else ever leaves them). Returns how many were removed."""
    import shutil

    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    head = f".{name}."
    for entry in entries:
        if not entry.name.startswith(head):
            continue
        pid_text = entry.name[len(head) :].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process: leave its files alone
    return True


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    `suffix` matters for writers that pick a format from the name (Keras wants `.keras`, numpy `.npz`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(prefix=stage_prefix(path.name), suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        if tmp_path.is_file():
            os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            from mnistlab.errors import MnistlabError

            # The file named is the one the user asked for, not the temporary one beside it.
            raise MnistlabError(f"{path} cannot be written: the disk is full (nothing was changed)") from None
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")
