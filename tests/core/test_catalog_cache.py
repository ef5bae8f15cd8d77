"""The catalog cache: reused while the declaration files are unchanged, whatever background
commands write to `.corral/tasks`, and never trusted for a `.corral/` too big to walk."""

from pathlib import Path

from corral.core.workspace import catalog_cache
from corral.core.workspace.catalog_cache import MAX_ENTRIES, workspace_catalog


def _workspace(root: Path) -> Path:
    agents = root / ".corral" / "agents"
    agents.mkdir(parents=True)
    (agents / "helper.md").write_text("---\ndescription: first\n---\nBe brief.\n")
    return root


async def test_task_logs_leave_the_cached_catalog_in_place(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    tasks = root / ".corral" / "tasks"
    tasks.mkdir()
    (tasks / "tsk_1.log").write_text("started\n")
    first = await workspace_catalog(root)
    with (tasks / "tsk_1.log").open("a") as log:
        log.write("output\n" * 100)
    (tasks / "tsk_2.log").write_text("another\n")
    assert await workspace_catalog(root) is first


async def test_a_changed_declaration_is_parsed_again(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    first = await workspace_catalog(root)
    (root / ".corral" / "agents" / "helper.md").write_text(
        "---\ndescription: second, longer\n---\nBe brief.\n"
    )
    second = await workspace_catalog(root)
    assert second is not first
    agent = second.agent("helper")
    assert agent is not None and agent.description == "second, longer"


async def test_a_huge_corral_directory_is_parsed_every_time(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    junk = root / ".corral" / "junk"
    junk.mkdir()
    for i in range(MAX_ENTRIES + 1):
        (junk / f"{i}.txt").touch()
    assert catalog_cache._signature(root) is None
    first = await workspace_catalog(root)
    second = await workspace_catalog(root)
    assert second is not first and second.agent("helper") is not None
