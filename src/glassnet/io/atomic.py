"""Atomic file writes: a crash at any moment leaves either the old file or the new one.

The bytes go to a temporary file in the target's directory (same filesystem, so the final
rename is atomic), are flushed and fsync'ed, and only then renamed over the target; the
directory is fsync'ed too so the rename itself survives a power cut. Every file glassnet
writes (models, checkpoints, logs, the dataset cache) goes through here.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import GlassnetError, InvalidArgumentError
from ._paths import (
    FileAccessError,
    access_error,
    as_path,
    blocking_file,
    check_name_lengths,
    temp_prefix,
)

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "check_target"]


def _current_umask() -> int:
    """The process umask, read without changing it where the OS allows (no race with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere the only way to read it is to set it briefly
    os.umask(umask)
    return umask


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms/filesystems cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_target(path: str | os.PathLike[str], where: str = "check_target") -> Path:
    """Check, writing nothing, that ``atomic_write`` could write ``path``; return it as a Path.

    For commands that save at the end of a long run (``glassnet train --output``): a bad name
    (NUL byte, a name longer than the filesystem allows, a trailing separator), a directory, a
    regular file where a directory should be, or a directory that cannot be written is an
    InvalidArgumentError or FileAccessError naming ``path`` before the work starts.
    """
    target = as_path(path, where)
    check_name_lengths(target, where)
    raw = os.fspath(path)
    if raw.endswith(("/", os.sep)):
        raise InvalidArgumentError(
            f"{where}: '{raw}' ends with a path separator; expected a file path such as "
            f"'{raw}model.safetensors'"
        )
    try:
        if stat.S_ISDIR(os.stat(target).st_mode):
            raise InvalidArgumentError(
                f"{where}: '{target}' is a directory; expected a file path such as "
                f"'{target / 'model.safetensors'}'"
            )
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise access_error(exc, target, where, "write") from None
    blocker = blocking_file(target)
    if blocker is not None:
        raise FileAccessError(
            f"{where}: could not write '{target}': '{blocker}' is a file, not a directory, "
            f"so nothing can be stored under it"
        )
    directory = target.parent if str(target.parent) else Path(".")
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent  # atomic_write creates the missing ones here
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FileAccessError(
            f"{where}: could not write '{target}': permission denied in '{directory}'"
        )
    return target


def _ensure_directory(directory: Path, target: Path, where: str) -> None:
    """Create the target's directory (and its parents) if missing; a regular file on the way
    is a FileAccessError naming it."""
    try:
        if stat.S_ISDIR(os.stat(directory).st_mode):
            return
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise access_error(exc, target, where, "write") from None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise access_error(exc, target, where, "write") from None
    _fsync_directory(directory.parent)  # the new directory's entry survives a power cut


def _ours(exc: BaseException, tmp: Path) -> bool:
    """An OSError about the file being written (not one the caller's block met elsewhere)."""
    if not isinstance(exc, OSError) or isinstance(exc, GlassnetError):
        return False
    return exc.filename is None or os.fspath(exc.filename) == str(tmp)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    encoding: str | None = None,
    *,
    where: str = "atomic_write",
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path`` atomically.

    If the block raises, the temporary file is removed and ``path`` is untouched. Problems
    with the path or the disk are a FileAccessError (an OSError) or an InvalidArgumentError
    naming ``path`` — never the temporary file — and saying the previous file is unchanged.
    """
    if mode not in ("w", "wb", "wt"):
        raise InvalidArgumentError(f"{where}: mode must be 'w', 'wt' or 'wb', received {mode!r}")
    target = as_path(path, where)
    check_name_lengths(target, where)
    directory = target.parent if str(target.parent) else Path(".")
    _ensure_directory(directory, target, where)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=directory)
    except OSError as exc:
        raise access_error(exc, target, where, "write") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            # Keep the permissions a user gave the file they are replacing.
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            with contextlib.suppress(OSError):
                os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
        _fsync_directory(directory)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if _ours(exc, tmp):
            raise access_error(exc, target, where, "write") from exc  # type: ignore[arg-type]
        raise


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, where: str = "atomic_write_bytes"
) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb", where=where) as handle:
        handle.write(data)


def atomic_write_text(
    path: str | os.PathLike[str],
    text: str,
    encoding: str = "utf-8",
    *,
    where: str = "atomic_write_text",
) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w", encoding=encoding, where=where) as handle:
        handle.write(text)
