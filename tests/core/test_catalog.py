import os
from pathlib import Path

import pytest

from corral.core.workspace.catalog import (
    ENGINE_TOOLS,
    NATIVE_TOOLS,
    AgentSpec,
    Catalog,
    load_catalog,
    load_settings,
    resolve_agent,
)
from corral.core.workspace.config_files import MAX_FILE_BYTES
from corral.core.workspace.runtime_library import BUILTIN_RUNTIMES_DIR
from corral.errors import CorralError


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def agent_file(front_matter: str, body: str = "Be helpful.") -> str:
    return f"---\n{front_matter}\n---\n{body}\n"


def test_default_runtime_is_a_valid_workspace() -> None:
    catalog = load_catalog(BUILTIN_RUNTIMES_DIR / "default")

    assert catalog.warnings == []
    assistant = resolve_agent(catalog, None)
    assert assistant.name == "assistant"
    assert assistant.tools is not None
    assert set(assistant.tools) == set(NATIVE_TOOLS) | {"Skill", "SubAgent"}
    assert (assistant.max_steps, assistant.run_timeout_seconds) == (50, 1800)
    assert assistant.model == "platform/default"
    assert [a.mode for a in catalog.agents] == ["primary", "subagent"]
    assert [m.ref for m in catalog.models] == ["workspace/scripted"]
    assert catalog.action("list-files") is not None
    assert [s.name for s in catalog.skills] == ["debugging"]
    assert load_settings(BUILTIN_RUNTIMES_DIR / "default")["description"]


def test_reads_every_kind_of_declaration(tmp_path: Path) -> None:
    write(tmp_path, ".corral/settings.yaml", "defaultAgent: builder\n")
    write(
        tmp_path,
        ".corral/agents/builder.md",
        agent_file(
            "description: Builds things\nmode: all\nmodel: workspace/fast\n"
            "tools: [Bash, Read]\nmaxSteps: 7\nrunTimeoutSeconds: 12.5"
        ),
    )
    write(tmp_path, ".corral/agents/plain.md", "No front matter at all.\n")
    write(
        tmp_path,
        ".corral/models/main.yml",
        "fast: {provider: openai-compatible, name: gpt-x, url: 'http://llm', keyEnv: LLM_KEY}\n"
        "local: {provider: anthropic, key: sk-secret}\n",
    )
    write(
        tmp_path,
        ".corral/actions/deploy.yaml",
        "description: Ship it\ncommand: make deploy\ntimeoutSeconds: 60\n"
        "inputSchema: {type: object}\ncallableByUser: false\nexposeToLlm: true\n"
        "retryPolicy: safe\n",
    )
    write(tmp_path, ".corral/skills/notes/SKILL.md", "---\nexposeToLlm: false\n---\nTake notes.\n")
    write(
        tmp_path,
        ".corral/hooks/audit.yaml",
        "handlerType: command\nevents: [tool.started, tool.started]\nmatcher: Bash|Edit\n"
        "command: ./audit.sh\ntimeoutSeconds: 5\nnote: kept\n",
    )
    write(
        tmp_path,
        ".corral/tool-servers.yaml",
        "docs: {transportType: http, toolPrefix: docs_, url: 'http://mcp'}\n",
    )

    catalog = load_catalog(tmp_path)

    assert catalog.warnings == []
    assert catalog.default_agent == "builder"
    builder, plain = catalog.agents
    assert builder == AgentSpec(
        name="builder",
        mode="all",
        system_prompt="Be helpful.",
        description="Builds things",
        model="workspace/fast",
        tools=("Bash", "Read"),
        max_steps=7,
        run_timeout_seconds=12.5,
    )
    assert (plain.name, plain.mode, plain.tools) == ("plain", "primary", None)
    assert plain.system_prompt == "No front matter at all."
    fast, local = catalog.models
    assert (fast.ref, fast.provider, fast.model_name, fast.url) == (
        "workspace/fast",
        "openai-compatible",
        "gpt-x",
        "http://llm",
    )
    assert fast.api_key_env == "LLM_KEY"
    assert (local.model_name, local.api_key) == ("local", "sk-secret")
    assert "sk-secret" not in repr(local)
    (deploy,) = catalog.actions
    assert (deploy.name, deploy.command, deploy.timeout_seconds) == ("deploy", "make deploy", 60)
    assert deploy.input_schema == {"type": "object"}
    assert (deploy.callable_by_api, deploy.callable_by_user, deploy.expose_to_llm) == (
        True,
        False,
        True,
    )
    assert deploy.retry_policy == "safe"
    (notes,) = catalog.skills
    assert (notes.name, notes.content, notes.expose_to_llm) == ("notes", "Take notes.", False)
    (hook,) = catalog.hooks
    assert (hook.name, hook.handler_type, hook.events, hook.matcher) == (
        "audit",
        "command",
        ("tool.started",),
        "Bash|Edit",
    )
    assert (hook.command, hook.timeout_seconds, hook.options) == ("./audit.sh", 5, {"note": "kept"})
    assert hook.fires_on("tool.started", "Edit") and not hook.fires_on("tool.started", "Edits")
    assert not hook.fires_on("tool.completed", "Bash")
    (docs,) = catalog.tools
    assert (docs.name, docs.transport_type, docs.tool_prefix) == ("docs", "http", "docs_")
    assert catalog.native_tools == list(NATIVE_TOOLS)
    assert catalog.engine_tools == list(ENGINE_TOOLS)


def test_a_workspace_without_configuration_is_empty(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path)

    assert (catalog.agents, catalog.models, catalog.warnings) == ([], [], [])
    assert catalog.default_agent is None


@pytest.mark.parametrize(
    ("relative", "content", "problem"),
    [
        (".corral/agents/a.md", "---\nname: [unclosed\n---\nx", "invalid YAML"),
        (".corral/agents/a.md", "---\nname: a\nno closing line", "not closed"),
        (".corral/agents/a.md", agent_file("- a list"), "front matter must be a mapping"),
        (".corral/agents/a.md", agent_file("mode: boss"), "mode must be"),
        (".corral/agents/a.md", agent_file("model: gpt-4"), "is not a ref"),
        (".corral/agents/a.md", agent_file("maxSteps: true"), "maxSteps must be a positive"),
        (".corral/agents/a.md", agent_file("maxSteps: 2.5"), "maxSteps must be a positive"),
        (".corral/agents/a.md", agent_file("runTimeoutSeconds: 0"), "runTimeoutSeconds"),
        (".corral/agents/a.md", agent_file("tools: Bash"), "tools must be a list"),
        (".corral/agents/a.md", agent_file("tools: [1, 2]"), "tools must be a list of strings"),
        (".corral/agents/a.md", agent_file("name: ../evil"), "name '../evil' must match"),
        (".corral/agents/a.md", agent_file("description: 3"), "description must be a string"),
        (".corral/models/m.yaml", "x: {provider: skynet}", "provider must be one of"),
        (".corral/models/m.yaml", "x: just-a-string", "must be a mapping"),
        (".corral/models/m.yaml", "1: {provider: openai}", "must be a mapping with string keys"),
        (".corral/actions/a.yaml", "description: no command", "command is required"),
        (".corral/actions/a.yaml", "command: ls\nretryPolicy: always", "retryPolicy"),
        (".corral/actions/a.yaml", "command: ls\ninputSchema: [1]", "inputSchema must be"),
        (".corral/actions/a.yaml", "command: ls\ncallableByApi: 'yes'", "must be a boolean"),
        (".corral/hooks/h.yaml", "handlerType: telepathy", "handlerType must be one of"),
        (".corral/hooks/h.yaml", "handlerType: http\nevents: run.started", "events must be"),
        (".corral/hooks/h.yaml", "handlerType: http", "events must list some of run.started"),
        (".corral/hooks/h.yaml", "handlerType: http\nevents: [run.ended]", "unknown events"),
        (
            ".corral/hooks/h.yaml",
            "handlerType: command\nevents: [run.started]",
            "command is required",
        ),
        (
            ".corral/hooks/h.yaml",
            "handlerType: http\nevents: [tool.started]\nmatcher: '(Bash'",
            "matcher is not a valid regular expression",
        ),
        (
            ".corral/hooks/h.yaml",
            "handlerType: http\nevents: [tool.started]\nmatcher: " + "a" * 300,
            "matcher is longer than",
        ),
        (
            ".corral/hooks/h.yaml",
            "handlerType: command\nevents: [run.started]\ncommand: x\ntimeoutSeconds: 0",
            "timeoutSeconds must be a positive number",
        ),
        (".corral/skills/s/SKILL.md", "---\nexposeToLlm: maybe\n---\n", "must be a boolean"),
        (".corral/tool-servers.yaml", "- not a mapping", "file must be a mapping"),
        (".corral/actions/a.yaml", "a: " + "[" * 20000 + "]" * 20000, "invalid YAML"),
    ],
)
def test_a_malformed_file_is_skipped_with_a_warning(
    tmp_path: Path, relative: str, content: str, problem: str
) -> None:
    write(tmp_path, ".corral/agents/good.md", agent_file("mode: primary"))
    write(tmp_path, relative, content)

    catalog = load_catalog(tmp_path)

    assert [a.name for a in catalog.agents] == ["good"]
    everything_else = (
        catalog.models,
        catalog.actions,
        catalog.hooks,
        catalog.skills,
        catalog.tools,
    )
    assert all(items == [] for items in everything_else)
    (warning,) = catalog.warnings
    assert warning.startswith(f"{relative}: ")
    assert problem in warning


def test_unreadable_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", "secret.md", agent_file("description: stolen"))
    root = tmp_path / "ws"
    (root / ".corral/agents").mkdir(parents=True)
    (root / ".corral/agents/link.md").symlink_to(outside)
    (root / ".corral/agents/binary.md").write_bytes(b"\xff\xfe\x00garbage")
    (root / ".corral/agents/huge.md").write_text("x" * (MAX_FILE_BYTES + 1))
    os.mkfifo(root / ".corral/agents/pipe.md")  # would block a naive reader forever
    (root / ".corral/agents/folder.md").mkdir()

    catalog = load_catalog(root)

    assert catalog.agents == []
    problems = sorted(catalog.warnings)
    assert len(problems) == 4
    assert problems[0].startswith(".corral/agents/binary.md: not UTF-8")
    assert problems[1].startswith(".corral/agents/huge.md: larger than")
    assert problems[2].startswith(".corral/agents/link.md: not a readable regular file")
    assert problems[3].startswith(".corral/agents/pipe.md: not a regular file")


def test_a_directory_where_a_file_belongs_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "AGENTS.md").mkdir()
    (tmp_path / ".corral/settings.yaml").mkdir(parents=True)

    catalog = load_catalog(tmp_path)

    assert catalog.guidance == ""
    assert sorted(catalog.warnings) == [
        ".corral/settings.yaml: not a regular file",
        "AGENTS.md: not a regular file",
    ]
    assert load_settings(tmp_path) == {}


def test_a_symlinked_configuration_directory_is_ignored(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere", "agents/a.md", agent_file("mode: primary"))
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".corral").symlink_to(tmp_path / "elsewhere")

    catalog = load_catalog(root)

    assert catalog.agents == []
    assert catalog.warnings == [".corral: is a symlink; ignored"]
    assert load_settings(root) == {}


def test_the_first_definition_of_a_name_wins(tmp_path: Path) -> None:
    write(tmp_path, ".corral/agents/a.md", agent_file("name: helper", "first"))
    write(tmp_path, ".corral/agents/b.md", agent_file("name: helper", "second"))

    catalog = load_catalog(tmp_path)

    assert [a.system_prompt for a in catalog.agents] == ["first"]
    assert catalog.warnings == [".corral/agents/b.md: duplicate agent name 'helper' ignored"]


def test_front_matter_tolerates_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / ".corral/agents/win.md"
    path.parent.mkdir(parents=True)
    path.write_bytes("\ufeff---\r\nmode: all\r\n---\r\nPrompt\r\n".encode())

    (agent,) = load_catalog(tmp_path).agents

    assert (agent.mode, agent.system_prompt) == ("all", "Prompt")


def test_broken_settings_and_unknown_default_agent_are_reported(tmp_path: Path) -> None:
    write(tmp_path, ".corral/settings.yaml", "defaultAgent: ghost\n")
    assert load_catalog(tmp_path).warnings == [
        ".corral/settings.yaml: defaultAgent 'ghost' is not defined"
    ]

    write(tmp_path, ".corral/settings.yaml", ": : :\n")
    catalog = load_catalog(tmp_path)
    assert catalog.default_agent is None
    assert catalog.warnings[0].startswith(".corral/settings.yaml: invalid YAML")
    assert load_settings(tmp_path) == {}


def agents(*specs: tuple[str, str]) -> list[AgentSpec]:
    return [AgentSpec(name=name, mode=mode, system_prompt="") for name, mode in specs]  # type: ignore[arg-type]


def test_resolve_agent_prefers_the_explicit_name() -> None:
    catalog = Catalog(agents=agents(("assistant", "primary"), ("coder", "all")))

    assert resolve_agent(catalog, "coder").name == "coder"


def test_resolve_agent_defaults_to_the_configured_agent_then_assistant() -> None:
    catalog = Catalog(agents=agents(("assistant", "primary"), ("lead", "primary")))
    assert resolve_agent(catalog, None).name == "assistant"

    catalog.default_agent = "lead"
    assert resolve_agent(catalog, None).name == "lead"

    catalog.default_agent = "ghost"
    assert resolve_agent(catalog, None).name == "assistant"


@pytest.mark.parametrize(
    ("catalog", "name", "code", "status"),
    [
        (Catalog(agents=agents(("assistant", "primary"))), "ghost", "agent_not_found", 404),
        (Catalog(agents=agents(("other", "primary"))), None, "missing_default_agent", 409),
        (Catalog(), None, "missing_default_agent", 409),
        (
            Catalog(agents=agents(("helper", "subagent"))),
            "helper",
            "invalid_session_agent_target",
            409,
        ),
        (
            Catalog(agents=agents(("helper", "subagent")), default_agent="helper"),
            None,
            "invalid_session_agent_target",
            409,
        ),
    ],
)
def test_resolve_agent_errors(catalog: Catalog, name: str | None, code: str, status: int) -> None:
    with pytest.raises(CorralError) as caught:
        resolve_agent(catalog, name)

    assert (caught.value.code, caught.value.status) == (code, status)
