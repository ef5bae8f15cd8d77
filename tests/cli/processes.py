"""`corral` as the user runs it, in separate processes (`corral.testing.processes`): the
environment these tests give it, and the sandbox commands left running."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from corral.testing.processes import clean_environ, running_processes, serving


def environment(**extra: str) -> dict[str, str]:
    return clean_environ(PYTHONUNBUFFERED="1", **extra)


def server_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """For `corral serve` with its state in `data_dir`, commands unconfined; `settings` are
    CORRAL_* variables."""
    return environment(CORRAL_DATA_DIR=str(data_dir), CORRAL_SANDBOX_ISOLATION="none", **settings)


@contextmanager
def corral_serve(data_dir: Path, **settings: str) -> Iterator[str]:
    """`corral serve` (see `server_environment`); yields its URL once it answers."""
    with serving(env=server_environment(data_dir, **settings)) as served:
        yield served.url


def sleeping(marker: str) -> set[bytes]:
    """The arguments of the running `sleep` processes whose argument starts with `marker` (not
    the shells that started them, whose command lines hold the marker too)."""
    return {
        argv[1]
        for _, argv in running_processes()
        if argv[:1] == [b"sleep"] and len(argv) > 1 and argv[1].startswith(marker.encode())
    }
