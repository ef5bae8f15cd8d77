"""Workspace directories on disk: creating them from a runtime template, naming, removal.

A workspace is either *managed* (created by Corral under the workspaces dir, copied from a
runtime) or *imported* (an existing directory that Corral only points at and never deletes).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from corral.core.workspace.config_files import InvalidFile, read_yaml_mapping
from corral.core.workspace.declarations import NAME_PATTERN
from corral.errors import CorralError

MAX_DIR_NAME_CHARS = 64


def materialize_workspace(
    template_dir: Path,
    root: Path,
    *,
    agents_md: str | None = None,
    skills: Sequence[tuple[str, str]] = (),
    tool_servers: Mapping[str, Any] | None = None,
) -> None:
    """Create `root` as a copy of the template with the caller's additions layered on top.

    `root` must not exist or be an empty directory (409 `workspace_directory_not_empty`).
    The copy is built beside `root` and renamed into place, so a failure leaves nothing behind.
    """
    _check_skills(skills)
    _check_tool_servers(tool_servers)
    _refuse_symlinks(template_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise _not_empty(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        shutil.copytree(template_dir, staging, symlinks=True, dirs_exist_ok=True)
        config = staging / ".corral"
        if agents_md is not None:
            (staging / "AGENTS.md").write_text(agents_md, encoding="utf-8")
        for name, content in skills:
            skill_dir = config / "skills" / name
            skill_dir.mkdir(parents=True, exist_ok=True)
            (skill_dir / "SKILL.md").write_text(content, encoding="utf-8")
        if tool_servers:
            _add_tool_servers(config / "tool-servers.yaml", tool_servers)
        try:
            # Replaces an empty directory; fails if someone filled `root` meanwhile.
            os.replace(staging, root)
        except OSError:
            raise _not_empty(root) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def default_workspace_root(workspaces_dir: Path, name: str) -> Path:
    """A free directory under `workspaces_dir` named after `name`: `My App!` → `my-app`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower())[:MAX_DIR_NAME_CHARS].strip("-")
    slug = slug or "workspace"
    candidate, suffix = workspaces_dir / slug, 1
    while candidate.exists() or candidate.is_symlink():
        suffix += 1
        candidate = workspaces_dir / f"{slug}-{suffix}"
    return candidate


def validate_import_root(path: str | Path) -> Path:
    """The canonical form of an existing absolute directory, or 400 `workspace_path_not_found`."""
    candidate = Path(path)
    try:
        if candidate.is_absolute() and candidate.is_dir():
            return candidate.resolve(strict=True)
    except (OSError, ValueError):  # ValueError: NUL bytes in the path
        pass
    raise CorralError(
        "workspace_path_not_found",
        "rootPath must be an absolute path to an existing directory",
        {"rootPath": str(path)},
    )


def remove_workspace_dir(root: Path, managed_dir: Path) -> bool:
    """Delete `root` only if it is a directory strictly inside `managed_dir`.

    Imported workspaces live elsewhere and are never touched. Returns whether it deleted.
    """
    if root.is_symlink() or not root.is_dir():
        return False
    target, managed = root.resolve(), managed_dir.resolve()
    if target == managed or not target.is_relative_to(managed):
        return False
    shutil.rmtree(target)
    return True


def _add_tool_servers(path: Path, tool_servers: Mapping[str, Any]) -> None:
    """Merge into the template's tool servers; the caller's entries win on a name clash."""
    try:
        merged = read_yaml_mapping(path) if path.exists() else {}
    except InvalidFile:
        merged = {}  # a broken template file would only hide the caller's servers
    merged.update(tool_servers)
    path.parent.mkdir(exist_ok=True)
    text = yaml.safe_dump(merged, sort_keys=True, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def _check_skills(skills: Sequence[tuple[str, str]]) -> None:
    for name, _ in skills:  # a repeated name is written twice: the later entry wins
        if not NAME_PATTERN.match(name):
            raise CorralError.invalid_request(
                f"skill name must match {NAME_PATTERN.pattern}", {"skill": name}
            )


def _check_tool_servers(tool_servers: Mapping[str, Any] | None) -> None:
    for name, config in (tool_servers or {}).items():
        if not NAME_PATTERN.match(name) or not isinstance(config, Mapping):
            raise CorralError.invalid_request(
                f"toolServers must map names matching {NAME_PATTERN.pattern} to objects",
                {"toolServer": name},
            )


def _refuse_symlinks(template_dir: Path) -> None:
    """Runtime uploads cannot contain links; one here means the template dir was tampered with."""
    for directory, subdirs, files in os.walk(template_dir):
        for entry in (*subdirs, *files):
            if os.path.islink(os.path.join(directory, entry)):
                raise CorralError(
                    "invalid_runtime", f"runtime template {template_dir.name!r} contains links"
                )


def _not_empty(root: Path) -> CorralError:
    return CorralError(
        "workspace_directory_not_empty",
        "rootPath exists and is not an empty directory",
        {"rootPath": str(root)},
    )
