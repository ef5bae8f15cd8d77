"""Reading the small YAML and Markdown files a workspace declares itself with.

Agents can write to their own workspace, so these files are hostile input: reads never follow
symlinks, never block on special files, are capped in size, and every problem is an
`InvalidFile` whose message is fit to show to the workspace's owner. A YAML string may escape a
surrogate (`"\\ud800"`), which is no character and could be neither stored nor served: such a
file is refused, as a request body holding one is.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, TypeVar

import yaml

from corral.surrogates import storable

MAX_FILE_BYTES = 1024 * 1024

_T = TypeVar("_T")
_KIND_NAMES: dict[type[Any], str] = {str: "string", list: "list", dict: "mapping", bool: "boolean"}
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


class InvalidFile(ValueError):
    """A file, or a field in it, that cannot be used."""


def read_text(path: Path) -> str:
    # O_NOFOLLOW + fstat instead of is_symlink()/is_file(): no window to swap the file.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise InvalidFile(f"not a readable regular file ({error.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a directory
            raise InvalidFile("not a regular file")
        file = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidFile(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        raise InvalidFile(f"not UTF-8 ({error.reason})") from None


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; an empty file is an empty mapping."""
    return _yaml_mapping(read_text(path), "file")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """`---\\n<yaml>\\n---\\n<body>` → (mapping, body); text without front matter → ({}, text)."""
    if not text.startswith("---\n"):
        return {}, text
    rest = text[4:]
    end = _FRONT_MATTER_END.search(rest)
    if end is None:
        raise InvalidFile("front matter is not closed by a '---' line")
    body = rest[end.end() :].removeprefix("\n")
    return _yaml_mapping(rest[: end.start()], "front matter"), body


def optional(data: dict[str, Any], key: str, kind: type[_T]) -> _T | None:
    """`data[key]` checked to be a `kind`, or None when absent (or null)."""
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise InvalidFile(f"{key} must be a {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def flag(data: dict[str, Any], key: str, default: bool) -> bool:
    value = optional(data, key, bool)
    return default if value is None else value


def positive_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (type(value) is not int or value <= 0):
        raise InvalidFile(f"{key} must be a positive integer")
    return value


def positive_number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    # bool is an int subclass: `maxSteps: true` must not read as 1.
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidFile(f"{key} must be a positive number")
    return float(value)


def mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidFile(f"{what} must be a mapping with string keys")
    return value


def strings(data: dict[str, Any], key: str) -> list[str] | None:
    values = optional(data, key, list)
    if values is not None and not all(isinstance(v, str) for v in values):
        raise InvalidFile(f"{key} must be a list of strings")
    return values


class _Loader(yaml.SafeLoader):
    """`yaml.safe_load`'s loader, refusing strings that hold surrogates."""

    def construct_yaml_str(self, node: yaml.ScalarNode) -> str:
        value = self.construct_scalar(node)
        if storable(value) is not value:
            line = node.start_mark.line + 1
            raise InvalidFile(f"invalid YAML: line {line}: a string escapes a surrogate")
        return value


_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_yaml_str)


def _yaml_mapping(text: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError) as error:
        raise InvalidFile(f"invalid YAML: {error}") from None
    return mapping({} if data is None else data, what)
