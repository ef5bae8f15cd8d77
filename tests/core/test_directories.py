from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from corral.core.workspace.catalog import load_catalog
from corral.core.workspace.directories import (
    default_workspace_root,
    materialize_workspace,
    remove_workspace_dir,
    validate_import_root,
)
from corral.core.workspace.runtime_library import BUILTIN_RUNTIMES_DIR
from corral.errors import CorralError

DEFAULT_RUNTIME = BUILTIN_RUNTIMES_DIR / "default"


@contextmanager
def raises(code: str, status: int) -> Iterator[None]:
    with pytest.raises(CorralError) as caught:
        yield
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.message


def test_materialize_copies_the_runtime(tmp_path: Path) -> None:
    root = tmp_path / "workspaces" / "demo"

    materialize_workspace(DEFAULT_RUNTIME, root)

    assert (root / "AGENTS.md").read_text() == (DEFAULT_RUNTIME / "AGENTS.md").read_text()
    catalog = load_catalog(root)
    assert catalog.warnings == []
    assert [a.name for a in catalog.agents] == ["assistant", "reviewer"]
    assert sorted(p.name for p in root.parent.iterdir()) == ["demo"]  # no staging left behind


def test_user_additions_are_layered_on_top(tmp_path: Path) -> None:
    template = tmp_path / "template"
    (template / ".corral" / "skills" / "debugging").mkdir(parents=True)
    (template / ".corral" / "skills" / "debugging" / "SKILL.md").write_text("old")
    (template / ".corral" / "tool-servers.yaml").write_text("kept: {url: a}\nshared: {url: b}\n")
    (template / "AGENTS.md").write_text("template guidance")
    root = tmp_path / "ws"

    materialize_workspace(
        template,
        root,
        agents_md="# Mine",
        skills=[("debugging", "new"), ("deploy", "---\ndescription: Ship\n---\nSteps")],
        tool_servers={"shared": {"url": "c"}, "docs": {"transportType": "http"}},
    )

    assert (root / "AGENTS.md").read_text() == "# Mine"
    assert (root / ".corral/skills/debugging/SKILL.md").read_text() == "new"
    assert yaml.safe_load((root / ".corral/tool-servers.yaml").read_text()) == {
        "kept": {"url": "a"},
        "shared": {"url": "c"},
        "docs": {"transportType": "http"},
    }
    catalog = load_catalog(root)
    assert [(s.name, s.description) for s in catalog.skills] == [
        ("debugging", None),
        ("deploy", "Ship"),
    ]
    assert [t.name for t in catalog.tools] == ["docs", "kept", "shared"]


def test_an_existing_empty_directory_can_be_filled(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()

    materialize_workspace(DEFAULT_RUNTIME, root)

    assert (root / "AGENTS.md").is_file()


def test_an_occupied_root_is_refused(tmp_path: Path) -> None:
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "precious.txt").write_text("keep me")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")

    for root in (occupied, a_file):
        with raises("workspace_directory_not_empty", 409):
            materialize_workspace(DEFAULT_RUNTIME, root)

    assert [p.name for p in occupied.iterdir()] == ["precious.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "occupied"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "..", "x" * 200, "a b"])
def test_unsafe_skill_names_are_refused_before_anything_is_written(
    tmp_path: Path, name: str
) -> None:
    with raises("invalid_request", 400):
        materialize_workspace(DEFAULT_RUNTIME, tmp_path / "ws", skills=[(name, "x")])

    assert list(tmp_path.iterdir()) == []


def test_a_repeated_skill_name_keeps_the_later_content(tmp_path: Path) -> None:
    materialize_workspace(DEFAULT_RUNTIME, tmp_path / "ws", skills=[("a", "1"), ("a", "2")])

    assert (tmp_path / "ws" / ".corral" / "skills" / "a" / "SKILL.md").read_text() == "2"


def test_malformed_tool_servers_are_refused(tmp_path: Path) -> None:
    with raises("invalid_request", 400):
        materialize_workspace(DEFAULT_RUNTIME, tmp_path / "ws", tool_servers={"x": "not a map"})
    with raises("invalid_request", 400):
        materialize_workspace(DEFAULT_RUNTIME, tmp_path / "ws", tool_servers={"../x": {}})

    assert list(tmp_path.iterdir()) == []


def test_templates_with_symlinks_are_refused(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "passwd").symlink_to("/etc/passwd")

    with raises("invalid_runtime", 500):
        materialize_workspace(template, tmp_path / "ws")

    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("My App!", "my-app"),
        ("  --Hello__World--  ", "hello-world"),
        ("Café Déjà Vu", "cafe-deja-vu"),
        ("../../etc/passwd", "etc-passwd"),
        ("日本語", "workspace"),
        ("", "workspace"),
        ("a" * 100, "a" * 64),
    ],
)
def test_default_roots_are_safe_directory_names(tmp_path: Path, name: str, expected: str) -> None:
    assert default_workspace_root(tmp_path, name) == tmp_path / expected


def test_default_roots_skip_taken_names(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo-2").write_text("a file also takes the name")
    (tmp_path / "demo-3").symlink_to(tmp_path / "nowhere")

    assert default_workspace_root(tmp_path, "Demo") == tmp_path / "demo-4"


def test_import_roots_must_be_existing_absolute_directories(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for bad in ("relative/path", str(tmp_path / "missing"), str(a_file), "/tmp/\x00evil"):
        with raises("workspace_path_not_found", 400):
            validate_import_root(bad)

    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert validate_import_root(str(link)) == tmp_path.resolve()
    assert validate_import_root(tmp_path / "." / "") == tmp_path.resolve()


def test_only_managed_workspaces_are_removed(tmp_path: Path) -> None:
    managed = tmp_path / "workspaces"
    inside = managed / "demo"
    (inside / "sub").mkdir(parents=True)
    imported = tmp_path / "my-project"
    imported.mkdir()
    (managed / "link-out").symlink_to(imported)

    assert remove_workspace_dir(imported, managed) is False
    assert remove_workspace_dir(managed / ".." / "my-project", managed) is False
    assert remove_workspace_dir(managed / "link-out", managed) is False
    assert remove_workspace_dir(managed, managed) is False
    assert remove_workspace_dir(managed / "missing", managed) is False
    assert imported.is_dir() and managed.is_dir()

    assert remove_workspace_dir(inside, managed) is True
    assert not inside.exists()
