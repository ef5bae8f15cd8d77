"""Runtime templates: directories that new workspaces are copied from.

Built-in runtimes ship inside the package (`corral/runtimes/<name>`) and are read-only. Users
upload more as zip archives; those live under the data dir (`<user_dir>/<name>`). The two share
one namespace: a name taken by either is taken (should a later release add a built-in named
like an existing upload, the built-in wins). Uploads are extracted beside their destination
and renamed into place, so readers never see a half-written runtime.
"""

from __future__ import annotations

import builtins
import fcntl
import os
import re
import shutil
import stat
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import corral
from corral.core.workspace.catalog import load_settings
from corral.errors import CorralError

BUILTIN_RUNTIMES_DIR = Path(corral.__file__).resolve().parent / "runtimes"  # ships in the package
RUNTIME_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_PATH_CHARS = 1024
MAX_COMPONENT_BYTES = 255  # the usual file-name limit of Linux file systems
_CHUNK_BYTES = 1024 * 1024
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# What zipfile raises on damaged input (found by fuzzing): OSError for seeks to offsets a header
# invented, NotImplementedError for unknown versions, ValueError for undecodable names.
_CORRUPTION = (zipfile.BadZipFile, EOFError, zlib.error, OSError, NotImplementedError, ValueError)


@dataclass(frozen=True)
class RuntimeInfo:
    name: str
    description: str | None
    built_in: bool


class RuntimeLibrary:
    def __init__(self, builtin_dir: Path, user_dir: Path) -> None:
        self.builtin_dir = builtin_dir
        self.user_dir = user_dir

    def list(self) -> builtins.list[RuntimeInfo]:
        names = {p.name for p in _subdirs(self.user_dir)}
        names.update(p.name for p in _subdirs(self.builtin_dir) if self._builtin(p.name))
        return [self._info(name) for name in sorted(names)]

    def path(self, name: str) -> Path:
        """The template directory; 404 `runtime_not_found` (also for names that cannot exist)."""
        if RUNTIME_NAME_PATTERN.match(name):
            found = self._builtin(name) or self._user(name)
            if found is not None:
                return found
        raise CorralError.not_found("runtime_not_found", "runtime", name)

    def install_zip(self, name: str, zip_path: Path, *, overwrite: bool = False) -> RuntimeInfo:
        """Add a runtime from a zip; replacing an existing user runtime needs `overwrite`."""
        _check_name(name)
        self._check_installable(name, overwrite)
        with self._staged(zip_path) as staging, self._locked():
            self._check_installable(name, overwrite)  # again: another upload may have won
            _move_into_place(staging, self.user_dir / name)
            return self._info(name)

    def replace_zip(self, name: str, zip_path: Path) -> RuntimeInfo:
        _check_name(name)
        self._check_replaceable(name)
        with self._staged(zip_path) as staging, self._locked():
            self._check_replaceable(name)
            _move_into_place(staging, self.user_dir / name)
            return self._info(name)

    def delete(self, name: str) -> None:
        _check_name(name)
        with self._locked():
            self._check_replaceable(name)
            # Rename first so the name is free at once, even if removal is slow or fails.
            doomed = self.user_dir / f".{name}.{uuid.uuid4().hex}.deleted"
            os.rename(self.user_dir / name, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def _builtin(self, name: str) -> Path | None:
        # Dunder names are Python's (`__pycache__`), never runtimes.
        path = self.builtin_dir / name
        return path if not name.startswith("__") and _is_real_dir(path) else None

    def _user(self, name: str) -> Path | None:
        path = self.user_dir / name
        return path if _is_real_dir(path) else None

    def _info(self, name: str) -> RuntimeInfo:
        description = load_settings(self.path(name)).get("description")
        return RuntimeInfo(
            name=name,
            description=description if isinstance(description, str) else None,
            built_in=self._builtin(name) is not None,
        )

    def _check_installable(self, name: str, overwrite: bool) -> None:
        if self._builtin(name) is not None:
            if overwrite:
                raise _read_only(name)
            raise _already_exists(name)
        if self._user(name) is not None and not overwrite:
            raise _already_exists(name)

    def _check_replaceable(self, name: str) -> None:
        if self._builtin(name) is not None:
            raise _read_only(name)
        if self._user(name) is None:
            raise CorralError.not_found("runtime_not_found", "runtime", name)

    @contextmanager
    def _staged(self, zip_path: Path) -> Iterator[Path]:
        """Extract into a hidden sibling of the destination; removed unless moved into place."""
        self.user_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".upload.", dir=self.user_dir))
        try:
            staging.chmod(0o755)  # mkdtemp's 0700 would be copied into every workspace
            extract_zip_safely(zip_path, staging)
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # flock, not threading.Lock: workers in other processes may share the data dir.
        self.user_dir.mkdir(parents=True, exist_ok=True)
        with open(self.user_dir / ".lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield


def extract_zip_safely(zip_path: Path, destination: Path) -> None:
    """Extract a hostile zip into the empty directory `destination`, or raise 400.

    Only plain files and directories with clean relative paths are accepted; sizes are
    checked as declared and again as actually decompressed. A single top-level directory
    (someone zipped a folder) is stripped.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except _CORRUPTION as error:
        raise _invalid_zip(f"not a readable zip archive ({error})") from None
    with archive:
        total = 0
        for info, relative in _plan_members(archive.infolist()):
            target = destination.joinpath(*relative.split("/"))
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as sink:
                written = 0
                for chunk in _read_member(archive, info):
                    # zipfile stops at the declared size; counting keeps us safe regardless.
                    written += len(chunk)
                    total += len(chunk)
                    if written > info.file_size or total > MAX_TOTAL_BYTES:
                        raise _invalid_zip("archive expands beyond its declared size")
                    sink.write(chunk)
            if _unix_mode(info) & 0o111:
                target.chmod(0o755)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes; corruption (bad offsets, CRC, deflate data) becomes a 400."""
    try:
        with archive.open(info) as source:
            while chunk := source.read(_CHUNK_BYTES):
                yield chunk
    except _CORRUPTION as error:
        raise _invalid_zip(f"entry {info.filename!r} is corrupt ({error})") from None


def _plan_members(
    infos: builtins.list[zipfile.ZipInfo],
) -> builtins.list[tuple[zipfile.ZipInfo, str]]:
    """Validate every entry and return (entry, relative path) pairs to extract."""
    if len(infos) > MAX_ENTRIES:
        raise _invalid_zip(f"more than {MAX_ENTRIES} entries")
    members: builtins.list[tuple[zipfile.ZipInfo, str]] = []
    declared = 0
    for info in infos:
        path = _entry_path(info)
        if path.split("/")[0] == "__MACOSX":  # Finder's resource-fork shadow tree
            continue
        declared += info.file_size
        if declared > MAX_TOTAL_BYTES:
            raise _invalid_zip(f"archive expands to more than {MAX_TOTAL_BYTES} bytes")
        members.append((info, path))

    paths = [path for _, path in members]
    if len(set(paths)) != len(paths):
        raise _invalid_zip("archive has duplicate entries")
    files = {path for info, path in members if not info.is_dir()}
    if not files:
        raise CorralError("empty_runtime_zip", "the runtime archive contains no files")
    if files & _ancestors(paths):
        raise _invalid_zip("an entry is both a file and a directory")
    return _strip_common_folder(members)


def _entry_path(info: zipfile.ZipInfo) -> str:
    """The entry's relative path without a trailing slash, or 400 if it is unsafe."""
    raw = info.orig_filename  # `filename` is cut at the first NUL; check what was stored
    shown = repr(raw[:100])  # names can be long enough to flood an error message
    if info.flag_bits & 0x1:
        raise _invalid_zip(f"entry {shown} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _invalid_zip(f"entry {shown} uses an unsupported compression method")
    kind = stat.S_IFMT(_unix_mode(info))
    if kind == stat.S_IFLNK:
        raise _invalid_zip(f"entry {shown} is a symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _invalid_zip(f"entry {shown} is not a regular file or directory")
    path = raw.removesuffix("/")
    if (
        raw.startswith("/")
        or "\\" in raw
        or _DRIVE_LETTER.match(raw)
        or any(ord(char) < 0x20 for char in raw)
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise _invalid_zip(f"entry {shown} has an unsafe path")
    too_long = any(len(part.encode()) > MAX_COMPONENT_BYTES for part in path.split("/"))
    if len(path) > MAX_PATH_CHARS or too_long:
        raise _invalid_zip(f"entry path {shown} is too long")
    return path


def _ancestors(paths: builtins.list[str]) -> set[str]:
    parts = (path.split("/") for path in paths)
    return {"/".join(p[:depth]) for p in parts for depth in range(1, len(p))}


def _strip_common_folder(
    members: builtins.list[tuple[zipfile.ZipInfo, str]],
) -> builtins.list[tuple[zipfile.ZipInfo, str]]:
    tops = {path.split("/")[0] for _, path in members}
    top = tops.pop()
    files_nested = all("/" in path for info, path in members if not info.is_dir())
    # `.corral` alone at the top is the runtime itself, not a wrapping folder.
    if tops or not files_nested or top == ".corral":
        return members
    return [(info, path[len(top) + 1 :]) for info, path in members if path != top]


def _move_into_place(staging: Path, destination: Path) -> None:
    """Swap `staging` in as `destination`; the old copy survives any failure of the swap."""
    if not destination.exists():
        os.rename(staging, destination)
        return
    retired = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.old")
    os.rename(destination, retired)
    try:
        os.rename(staging, destination)
    except OSError:
        os.rename(retired, destination)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _unix_mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16


def _subdirs(directory: Path) -> builtins.list[Path]:
    if not directory.is_dir():
        return []
    return [
        p for p in directory.iterdir() if RUNTIME_NAME_PATTERN.match(p.name) and _is_real_dir(p)
    ]


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _check_name(name: str) -> None:
    if not RUNTIME_NAME_PATTERN.match(name):
        raise CorralError.invalid_request(
            f"runtime name must match {RUNTIME_NAME_PATTERN.pattern}", {"name": name}
        )


def _invalid_zip(reason: str) -> CorralError:
    return CorralError("invalid_runtime_zip", f"invalid runtime archive: {reason}")


def _already_exists(name: str) -> CorralError:
    return CorralError("runtime_already_exists", f"runtime {name!r} already exists", {"name": name})


def _read_only(name: str) -> CorralError:
    return CorralError(
        "runtime_read_only", f"runtime {name!r} is built in and read-only", {"name": name}
    )
