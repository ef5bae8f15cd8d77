"""Text from a workspace that Python holds as surrogates, which no UTF-8 encoder takes: a file
name that is not UTF-8 (`surrogateescape`) and a YAML string escaping one (`"\\ud800"`). Shown
or stored as they were, they failed the run of any tool that listed such a name, and made the
files API and the catalog answer 500. (Model streams: test_provider_runs.py.)"""

from __future__ import annotations

from typing import Any

import httpx
from runs_support import (
    create_session,
    create_workspace,
    replayed_events,
    send,
    server_events,
    tool_results,
    write_file,
)

from corral.testing.waiting import wait_for_run


def run_bash(api: httpx.Client, session_id: str, command: str, *then: Any) -> dict[str, Any]:
    """A run of the scripted model that calls Bash with `command`, then plays `then`."""
    script = [{"toolCalls": [{"name": "Bash", "input": {"command": command}}]}, *then, "Done."]
    run = wait_for_run(api, send(api, session_id, "go", script=script)["runId"])
    assert run["status"] == "completed", run
    made = tool_results(api, session_id)[0]
    assert made["type"] == "text" and "exit code 0" in made["value"], made
    return run


def test_tools_and_the_files_api_show_a_name_not_utf8_with_a_replacement_character(
    server: Any,
) -> None:
    listings = [
        {"name": "LS", "input": {"path": "d"}},
        {"name": "Glob", "input": {"pattern": "d/*"}},
        {"name": "Grep", "input": {"pattern": "x", "path": "d"}},
    ]
    with server.client() as api:
        workspace_id = create_workspace(api)["id"]
        session_id = create_session(api, workspace_id)["id"]
        # the name's \377 byte is no UTF-8; the file's content is
        run_bash(
            api,
            session_id,
            "mkdir d && printf 'x\\n' > \"$(printf 'd/b\\377.txt')\"",
            {"toolCalls": listings},
        )
        listed = tool_results(api, session_id)[1:]
        assert len(listed) == 3
        for output in listed:
            assert output["type"] == "text" and "b\ufffd.txt" in output["value"], output
        stored = server_events(server, session_id)
        assert replayed_events(api, session_id) == [(e["event"], e["data"]) for e in stored]
        resp = api.get(f"/api/v1/sandboxes/{workspace_id}/files/entries", params={"path": "d"})
        assert resp.status_code == 200, resp.text
        [entry] = resp.json()["items"]
        assert (entry["name"], entry["path"]) == ("b\ufffd.txt", "/workspace/d/b\ufffd.txt")


def test_declarations_with_such_text_are_skipped_with_a_warning(server: Any) -> None:
    with server.client() as api:
        workspace_id = create_workspace(api)["id"]
        write_file(
            api,
            workspace_id,
            ".corral/agents/escaping.md",
            '---\ndescription: "bad \\ud800 text"\n---\nBe brief.\n',
        )
        write_file(
            api,
            workspace_id,
            ".corral/actions/escaping.yaml",
            "command: 'true'\n\"key \\udfff\": 1\n",
        )
        session_id = create_session(api, workspace_id)["id"]
        run_bash(
            api,
            session_id,
            "printf -- '---\\nmode: primary\\n---\\nHi.\\n' > "
            "\".corral/agents/$(printf 'a\\377').md\"",
        )
        resp = api.get(f"/api/v1/workspaces/{workspace_id}/catalog")
        assert resp.status_code == 200, resp.text
        catalog = resp.json()
        assert not {"escaping", "a\ufffd"} & {a["name"] for a in catalog["agents"]}
        assert "escaping" not in {a["name"] for a in catalog["actions"]}
        warnings = sorted(catalog["warnings"])
        assert warnings[0] == (
            ".corral/actions/escaping.yaml: invalid YAML: line 2: a string escapes a surrogate"
        )
        assert warnings[1].startswith(".corral/agents/a\ufffd.md: name ")
        assert warnings[2] == (
            ".corral/agents/escaping.md: invalid YAML: line 1: a string escapes a surrogate"
        )
        # the workspace still runs, with its catalog as shown
        assert wait_for_run(api, send(api, session_id, "hi")["runId"])["status"] == "completed"
