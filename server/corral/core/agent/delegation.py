"""SubAgent: a run delegates a task to a subagent of its workspace and waits for its answer
(docs/contract.md#subagents).

The call creates, in one write, a child session (`parentSessionId`, listed by
`GET /sessions/{id}/children`) holding the task as its user message, and a child run
(`parentRunId`) of the subagent, claimed by this process at once so that no worker can take
it; the parent's session gets `agent.delegate.started` and an `agent_delegate` step. The
parent's tool call then executes the child itself (`RunExecutor.execute_child`) and answers
with the child's final text (`agent.delegate.completed`), or with an error result when the
child did not complete (`agent.delegate.failed`).

Why the parent executes its child: a child queued for an execution slot could wait forever
for a slot its own parent holds (with every slot held by a parent waiting on its child, none
is ever freed). OAH reserves worker capacity for subagents; running the child on its parent's
slot is that reservation in its simplest form, since the parent's slot is idle while the child
works. The executor still tracks the child as a run of its own: heartbeat, cancel by id,
recovery, shutdown. Cancelling the parent (cancel, interrupt, timeout, shutdown) cancels the
child, whose end is written before the parent's. Delegation nests at most `MAX_DEPTH` deep.
A child run is never requeued (core/runs/lifecycle.py, core/runs/queue.py): no tool call would
wait for its answer.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any, Protocol

from corral import clock
from corral.core.runs import lifecycle, queue
from corral.core.runs.journal import RunJournal, Step
from corral.core.workspace.agent_spec import AgentSpec
from corral.ids import new_id
from corral.providers.content import text_of
from corral.store import MessageRecord, RunRecord, SessionRecord, Tx
from corral.tools.base import Tool, ToolContext, ToolError, ToolResult, entry_line
from corral.tools.native import NativeTool, schema

if TYPE_CHECKING:
    from corral.core.agent.engine_tools import EngineTools

NAME = "SubAgent"
MAX_DEPTH = 3  # a top-level run is at depth 0, its child at 1, a child's child at 2, ...
TITLE_CHARS = 80
LAST_MESSAGES = 50  # where the child's final text is looked for, newest first
NO_ANSWER = "(the subagent finished without a text answer)"
INPUT_SCHEMA = schema(
    {
        "agent": {"type": "string", "minLength": 1, "description": "The subagent to delegate to."},
        "prompt": {
            "type": "string",
            "minLength": 1,
            "description": "The task, with everything the subagent needs to do it: it does not "
            "see this conversation.",
        },
        "description": {"type": "string", "description": "A title of a few words for the task."},
    },
    "agent",
    "prompt",
)


class ChildRuns(Protocol):
    """Who executes child runs: the run executor."""

    @property
    def worker(self) -> dict[str, Any]: ...

    async def execute_child(self, run: RunRecord) -> RunRecord | None: ...


def depth(run: RunRecord) -> int:
    delegation = (run.metadata or {}).get("delegation")
    level = delegation.get("depth") if isinstance(delegation, dict) else None
    return level if isinstance(level, int) else 0


def offer(engine: EngineTools, agent: AgentSpec) -> Tool | None:
    """Offered while the nesting bound allows and the workspace has a subagent."""
    targets = _targets(engine)
    if depth(engine.run) >= MAX_DEPTH or not targets:
        return None
    listing = "\n".join(entry_line(a) for a in targets)
    description = (
        "Delegate a task to a subagent: it works on it on its own, with its own instructions "
        "and tools, and its final report is this call's result (you wait for it). It starts "
        "with no memory of this conversation, so give it everything it needs. Subagents:\n"
        + listing
    )
    return NativeTool(
        NAME, description, INPUT_SCHEMA, functools.partial(_delegate, engine), source_type="agent"
    )


def _targets(engine: EngineTools) -> list[AgentSpec]:
    return [a for a in engine.catalog.agents if a.mode != "primary"]


async def _delegate(engine: EngineTools, ctx: ToolContext, input: dict[str, Any]) -> ToolResult:
    target = _target(engine, input["agent"])
    journal, prompt = engine.journal, input["prompt"]
    step = journal.step(
        "agent_delegate", target.name, {"toolCallId": ctx.tool_call_id, "prompt": prompt}
    )
    title = input.get("description") or prompt.strip().splitlines()[0]
    opened = await engine.store.write(
        lambda tx: _open(
            tx,
            journal,
            step,
            target,
            prompt,
            title[:TITLE_CHARS],
            ctx.tool_call_id,
            engine.children.worker,
        )
    )
    if opened is None:  # the parent's session is gone: the run is ending anyway
        raise ToolError("session_not_found", "the session of this run no longer exists")
    try:
        await engine.children.execute_child(opened)
    except asyncio.CancelledError:
        await asyncio.shield(engine.store.write(lambda tx: _close(tx, journal, step, opened)))
        raise
    ended, answer = await engine.store.write(lambda tx: _close(tx, journal, step, opened))
    about = {
        "childSessionId": opened.session_id,
        "childRunId": opened.id,
        "childStatus": ended.status,
    }
    if ended.status != "completed":
        code, message = _failure(ended)
        raise ToolError(code, f"the subagent {target.name} did not complete its task: {message}")
    return ToolResult.text(answer or NO_ANSWER, **about)


def _target(engine: EngineTools, name: str) -> AgentSpec:
    target = engine.catalog.agent(name)
    names = ", ".join(a.name for a in _targets(engine)) or "none"
    if target is None:
        raise ToolError("agent_not_found", f"there is no agent named {name!r}; subagents: {names}")
    if target.mode == "primary":
        raise ToolError(
            "invalid_subagent_target",
            f"{name!r} is a primary agent, not a subagent; subagents: {names}",
        )
    return target


def _open(
    tx: Tx,
    journal: RunJournal,
    step: Step,
    target: AgentSpec,
    prompt: str,
    title: str,
    call_id: str,
    worker: dict[str, Any],
) -> RunRecord | None:
    """The child session, its message and its run, claimed; announced on the parent's."""
    parent, session = journal.run, tx.get_session(journal.session_id)
    if session is None:
        return None
    now, run_id = clock.now(), new_id("run")
    child = SessionRecord(
        id=new_id("ses"),
        workspace_id=session.workspace_id,
        subject_ref=session.subject_ref,
        active_agent_name=target.name,
        agent_name=target.name,
        parent_session_id=session.id,
        # the parent session's model, unless the subagent names its own
        model_ref=None if target.model else session.model_ref,
        title=title,
        created_at=now,
        updated_at=now,
    )
    delegated = {
        "runId": parent.id,
        "sessionId": session.id,
        "agentName": journal.agent_name,
        "toolCallId": call_id,
    }
    message = MessageRecord(
        id=new_id("msg"),
        session_id=child.id,
        run_id=run_id,
        role="user",
        content=prompt,
        origin="engine",
        mode="prompt",
        metadata={"delegatedBy": delegated},
        created_at=now,
    )
    run = RunRecord(
        id=run_id,
        workspace_id=session.workspace_id,
        session_id=child.id,
        parent_run_id=parent.id,
        status="queued",
        trigger_type="message",
        trigger_ref=message.id,
        agent_name=target.name,
        effective_agent_name=target.name,
        initiator_ref=parent.initiator_ref,
        created_at=now,
        metadata={"delegation": {"depth": depth(parent) + 1, "toolCallId": call_id}},
    )
    tx.insert_session(child)
    queue.place(tx, run, message=message)
    claimed = lifecycle.claim(tx, run.id, worker)
    assert claimed is not None, "a new session's only run is its active run"
    step.store(tx)
    journal.emit(
        tx,
        "agent.delegate.started",
        sessionId=journal.session_id,
        agentName=journal.agent_name,
        targetAgent=target.name,
        childSessionId=child.id,
        childRunId=run.id,
        toolUseId=call_id,
    )
    return claimed


def _close(tx: Tx, journal: RunJournal, step: Step, child: RunRecord) -> tuple[RunRecord, str]:
    """The delegation's end, as the child's stored end says; the child's final text."""
    ended = tx.get_run(child.id) or child
    about = {
        "sessionId": journal.session_id,
        "agentName": journal.agent_name,
        "targetAgent": ended.effective_agent_name,
        "childRunId": ended.id,
        "childStatus": ended.status,
    }
    if ended.status == "completed":
        answer = _final_text(tx, ended)
        step.close(tx, "completed", {"childStatus": ended.status, "output": answer})
        journal.emit(tx, "agent.delegate.completed", **about, output=answer)
        return ended, answer
    code, message = _failure(ended)
    # a child still executing here was abandoned by its stopped parent: it ends with it
    status = "failed" if ended.status in ("failed", "timed_out") else "cancelled"
    step.close(
        tx, status, {"childStatus": ended.status, "errorCode": code, "errorMessage": message}
    )
    journal.emit(tx, "agent.delegate.failed", **about, errorCode=code, errorMessage=message)
    return ended, ""


def _failure(child: RunRecord) -> tuple[str, str]:
    if child.status == "cancelled":
        return "subagent_cancelled", "its run was cancelled"
    if child.error_code is not None:
        return child.error_code, child.error_message or f"its run ended {child.status}"
    return "subagent_failed", f"its run ended {child.status}"


def _final_text(tx: Tx, child: RunRecord) -> str:
    """The text of the child's last assistant message that has some."""
    assert child.session_id is not None
    for msg in tx.list_messages(child.session_id, LAST_MESSAGES, direction="backward"):
        if msg.run_id == child.id and msg.role == "assistant" and isinstance(msg.content, list):
            text = text_of(msg.content)
            if text.strip():
                return text
    return ""
