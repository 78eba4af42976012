"""Paths given by the user: checked before any file is touched, and every operating-system
error turned into one sentence that names the user's own path (never a temporary file).

The checks are those the operating system would make anyway, made early so the message can
say what is wrong: a NUL byte, a file or directory name longer than the filesystem allows, a
path that runs through a regular file (``notes.txt/model.safetensors``), a directory where a
file is expected.
"""

from __future__ import annotations

import errno
import os
import stat
import zlib
from pathlib import Path
from typing import Any

from ..errors import GlassnetError, InvalidArgumentError, describe

__all__ = [
    "FileAccessError",
    "MissingFileError",
    "as_path",
    "check_name_lengths",
    "access_error",
    "blocking_file",
    "temp_prefix",
]

#: Used when the filesystem does not say (``pathconf``): the limit of ext4, XFS, btrfs, APFS
#: and NTFS (in UTF-16 units there, but the point is to fail early, not to be exact).
_DEFAULT_NAME_MAX = 255
_DEFAULT_PATH_MAX = 4096
#: What mkstemp adds to a temporary file's prefix: 8 random characters, then ".tmp".
_TEMP_TAIL = 8 + len(".tmp")


class FileAccessError(GlassnetError, OSError):
    """A file glassnet cannot read or write: a directory, no permission, disk full, ..."""


class MissingFileError(FileAccessError, FileNotFoundError):
    """A file to load that does not exist."""


def as_path(path: Any, where: str) -> Path:
    """``path`` (str or os.PathLike) as a Path, or an InvalidArgumentError saying what it was.

    Refuses what no filesystem accepts: bytes, non-strings, the empty string, a NUL byte.
    """
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(
            f"{where}: path must be a str or os.PathLike such as 'model.safetensors', "
            f"received {describe(path)}"
        )
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise InvalidArgumentError(
            f"{where}: path must be a non-empty file name such as 'model.safetensors', "
            f"received {path!r}"
        )
    if "\0" in text:
        raise InvalidArgumentError(
            f"{where}: the path {text!r} contains a NUL byte (\\0), which no file name may "
            f"hold; expected a path such as 'model.safetensors'"
        )
    return Path(text)


def _existing_ancestor(p: Path) -> Path:
    """The nearest ancestor of ``p`` (or ``p`` itself) that exists, or '.'."""
    current = p
    while True:
        try:
            os.stat(current)
            return current
        except OSError:
            parent = current.parent
            if parent == current:
                return Path(".")
            current = parent


def _limit(directory: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(_existing_ancestor(directory), name)
    except (OSError, ValueError):
        return default
    return value if isinstance(value, int) and value > 0 else default


def name_max(directory: Path) -> int:
    """The longest file name (in bytes) the filesystem holding ``directory`` accepts."""
    return _limit(directory, "PC_NAME_MAX", _DEFAULT_NAME_MAX)


def check_name_lengths(p: Path, where: str) -> None:
    """Each component of ``p`` and the whole path within the filesystem's limits, or an
    InvalidArgumentError naming the component (before the OS says 'File name too long')."""
    limit = name_max(p.parent)
    for part in p.parts:
        size = len(os.fsencode(part))
        if size > limit and part not in (os.sep, "/"):
            shown = part if len(part) <= 40 else part[:20] + "..." + part[-12:]
            raise InvalidArgumentError(
                f"{where}: the name {shown!r} in the path '{_short(p)}' is {size} bytes long; "
                f"this filesystem allows at most {limit} bytes per file or directory name"
            )
    total = len(os.fsencode(str(p)))
    path_limit = _limit(p.parent, "PC_PATH_MAX", _DEFAULT_PATH_MAX)
    if total >= path_limit:
        raise InvalidArgumentError(
            f"{where}: the path '{_short(p)}' is {total} bytes long; this system allows "
            f"paths of fewer than {path_limit} bytes"
        )


def _short(p: Path | str) -> str:
    text = str(p)
    return text if len(text) <= 120 else text[:60] + "..." + text[-50:]


def blocking_file(p: Path) -> Path | None:
    """The ancestor of ``p`` that exists but is not a directory (``a.txt`` in
    ``a.txt/b/model.safetensors``), if any."""
    for ancestor in reversed(p.parents):  # outermost first
        if str(ancestor) in ("", "."):
            continue
        try:
            mode = os.stat(ancestor).st_mode
        except OSError:
            return None
        if not stat.S_ISDIR(mode):
            return ancestor
    return None


def access_error(exc: OSError, p: Path, where: str, action: str) -> FileAccessError:
    """One FileAccessError for an OSError met while ``action`` ("read", "write") ``p``: the
    reason in words, the user's path (never a temporary file's), nothing else."""
    if isinstance(exc, FileAccessError):
        return exc
    code = exc.errno
    blocking = blocking_file(p) if code in (errno.ENOTDIR, errno.EEXIST, errno.ENOENT) else None
    if blocking is not None:
        reason = (
            f"'{_short(blocking)}' is a file, not a directory, so nothing can be "
            f"{'stored' if action == 'write' else 'found'} under it"
        )
    elif code == errno.ENAMETOOLONG:
        reason = "a file name in it is longer than the filesystem allows"
    elif code in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif code == errno.ENOSPC:
        reason = "No space left on device"
    elif code == errno.EROFS:
        reason = "the filesystem is read-only"
    elif code == errno.EISDIR:
        reason = "it is a directory"
    else:
        reason = exc.strerror or type(exc).__name__
    verb = "could not write" if action == "write" else "cannot read"
    tail = "; the previous file, if any, is unchanged" if action == "write" else ""
    cls = MissingFileError if code == errno.ENOENT and action == "read" else FileAccessError
    error = cls(f"{where}: {verb} '{_short(p)}': {reason}{tail}")
    error.errno = code
    return error


def temp_prefix(target: Path) -> str:
    """The prefix of ``target``'s temporary files: ``.<name>.`` — shortened (with a hash of the
    full name, so two long names do not share temporary files) when the temporary name would
    be longer than the filesystem allows."""
    name = target.name
    prefix = f".{name}."
    limit = name_max(target.parent)
    if len(os.fsencode(prefix)) + _TEMP_TAIL <= limit:
        return prefix
    tag = f"{zlib.crc32(os.fsencode(name)):08x}"
    room = limit - _TEMP_TAIL - len(".~.") - len(tag)
    kept = name
    while len(os.fsencode(kept)) > room:
        kept = kept[:-1]
    return f".{kept}~{tag}."
