"""The environment a sandboxed command sees: a fixed minimal base, the server variables the
operator lets through by name, then the caller's own; never anything else of the server's.

The caller may set any well-formed name, `LD_PRELOAD` included: the variables reach only the
command (bwrap receives them as `--setenv`, never in its own environment), and the command
could set them itself anyway.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from corral.errors import CorralError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
# execve refuses a single argument or variable longer than MAX_ARG_STRLEN (32 pages).
MAX_STRING_BYTES = 32 * 4096 - 1


def check_text(what: str, value: str) -> bytes:
    """`value` as the bytes execve gets, or `invalid_request` when no process could receive
    it."""
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(what, "is not valid Unicode text (lone surrogate)") from None
    if b"\0" in data:
        raise _invalid(what, "contains a NUL character")
    if len(data) > MAX_STRING_BYTES:
        raise _invalid(what, f"is longer than {MAX_STRING_BYTES} bytes")
    return data


def command_env(
    home: Path,
    extra: Mapping[str, str] | None,
    passthrough: Iterable[str] = (),
    server_env: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Base variables, then `passthrough` names copied from `server_env`, then `extra`."""
    env = {
        "PATH": DEFAULT_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "TMPDIR": "/tmp",
        "SHELL": "/bin/sh",
    }
    for name in passthrough:
        if name in server_env:
            env[name] = server_env[name]
    for name, value in (extra or {}).items():
        if not NAME.fullmatch(name):
            raise _invalid(f"env.{name[:64]}", "is not a valid variable name")
        check_text(f"env.{name}", value)
        env[name] = value
    return env


def _invalid(what: str, problem: str) -> CorralError:
    return CorralError.invalid_request(f"{what} {problem}", {"field": what})
