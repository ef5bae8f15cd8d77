"""The versioned migration files of one backend: ``migrations/<backend>/NNNN_name.sql`` (package
data), numbered from 0001 without gaps. Each backend applies them in order, each in its own
transaction together with its version, so a failed migration leaves the previous version intact
and the next ``open()`` retries it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    folder = resources.files("corral.store").joinpath("migrations", backend)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations must be numbered 0001.. without gaps: {found}")
    return found


def check_not_newer(current: int, migrations: list[Migration]) -> None:
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise RuntimeError(f"database schema v{current} is newer than this server (v{latest})")
