"""What the file operations share: the entry a stat describes, its ETag comparison, and OS
failures mapped onto client errors."""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from corral.error_codes import ErrorCode
from corral.errors import CorralError
from corral.sandbox.paths import Target, entry_not_found


@dataclass(frozen=True, slots=True)
class Entry:
    """A file or directory as clients see it (`path` under `/workspace`)."""

    path: str
    is_dir: bool
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, virtual: str, st: os.stat_result) -> Entry:
        return cls(
            virtual, stat.S_ISDIR(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino
        )

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def mtime_ms(self) -> float:
        return self.mtime_ns / 1e6

    @property
    def ctime_ms(self) -> float:
        # Linux's os.stat has no birth time; the last status change is the closest it offers.
        return self.ctime_ns / 1e6

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9, UTC)

    @property
    def etag(self) -> str | None:
        """OAH's weak etag: `W/"<size hex>-<mtimeMs hex>-<inode hex>"` (files only)."""
        if self.is_dir:
            return None
        return f'W/"{self.size:x}-{self.mtime_ns // 1_000_000:x}-{self.inode:x}"'

    @property
    def mime_type(self) -> str | None:
        if self.is_dir:
            return None
        return mimetypes.guess_type(self.name, strict=False)[0] or "application/octet-stream"


# ------------------------------------------------------------------------------ errors


def conflict(code: ErrorCode, message: str, virtual: str) -> CorralError:
    return CorralError(code, message, {"path": virtual})


def file_not_found(virtual: str) -> CorralError:
    return CorralError("workspace_file_not_found", f"{virtual} does not exist", {"path": virtual})


def precondition_failed(virtual: str, if_match: str) -> CorralError:
    return CorralError(
        "workspace_precondition_failed",
        f"{virtual} does not match the etag {if_match}",
        {"path": virtual, "ifMatch": if_match},
    )


_OS_ERRORS: dict[int, tuple[ErrorCode, str]] = {
    errno.EEXIST: ("workspace_entry_exists", "the target already exists"),
    errno.ENOTEMPTY: ("workspace_directory_not_empty", "the directory is not empty"),
    errno.EISDIR: ("workspace_entry_conflict", "a directory is in the way"),
    errno.ENOTDIR: ("workspace_entry_conflict", "a path component is not a directory"),
    errno.EINVAL: ("workspace_entry_conflict", "a directory cannot move into itself"),
    errno.EXDEV: ("workspace_entry_conflict", "source and target are on different mounts"),
    errno.EBUSY: ("workspace_entry_conflict", "the entry is in use"),
    errno.ELOOP: ("invalid_sandbox_path", "the path changed while it was used"),
    errno.ENAMETOOLONG: ("invalid_sandbox_path", "the name is too long"),
    errno.EACCES: ("forbidden", "the server may not access this entry"),
    errno.EPERM: ("forbidden", "the server may not change this entry"),
    errno.EROFS: ("workspace_read_only", "the workspace is on a read-only file system"),
    errno.ENOSPC: ("insufficient_storage", "no space left on the workspace's disk"),
    errno.EDQUOT: ("insufficient_storage", "the disk quota is exhausted"),
}


@contextmanager
def os_errors(virtual: str) -> Iterator[None]:
    """Expected file-system failures become client errors; anything else stays a 500."""
    try:
        yield
    except FileNotFoundError as exc:
        raise entry_not_found(virtual) from exc
    except OSError as exc:
        known = _OS_ERRORS.get(exc.errno or 0)
        if known is None:
            raise
        code, message = known
        raise CorralError(code, f"{virtual}: {message}", {"path": virtual}) from exc


def existing(target: Target) -> os.stat_result:
    if target.stat is None:
        raise entry_not_found(target.virtual)
    return target.stat


def etags_equal(etag: str | None, other: str) -> bool:
    """Weak comparison (RFC 9110 §8.8.3.2): the `W/` prefix does not matter."""
    return etag is not None and etag.removeprefix("W/") == other.strip().removeprefix("W/")
