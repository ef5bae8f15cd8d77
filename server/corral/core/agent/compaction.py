"""Compacting a session (`POST /sessions/{id}/compact`): the conversation since the last
compaction is summarised by the session's model, and a boundary and a summary message are
written (docs/contract.md#message-persistence). Later runs show the model the summary instead of
what it covers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from corral import clock, models
from corral.caller import Caller
from corral.core.llm.run_models import ModelResolver
from corral.core.runs import queue
from corral.core.runs.executor import RunExecutor
from corral.core.runs.lifecycle import Ending, finish
from corral.core.runs.transcript import COMPACT_BOUNDARY, COMPACT_SUMMARY, load_history
from corral.core.workspace import access
from corral.core.workspace.catalog_cache import workspace_catalog
from corral.errors import CorralError
from corral.ids import new_id
from corral.providers.base import ModelProvider, ModelRequest, ProviderError, TextDelta
from corral.providers.retry import stream_with_retry
from corral.store import MessageRecord, RunRecord, SessionRecord, Store, Tx

MIN_MESSAGES = 4  # fewer is not worth a model call
PART_CHARS = 2000  # each message part is cut to this many characters in the summary request
INSTRUCTIONS = (
    "You compact a conversation between a user and a coding agent. Write a concise summary "
    "that lets the agent continue the work without the original messages: the user's goals "
    "and constraints, decisions made, files read or changed (with paths), commands run and "
    "their important results, and what remains to do. Use short bullet points."
)


def start(
    tx: Tx, caller: Caller, session_id: str, worker: dict[str, Any]
) -> tuple[SessionRecord, RunRecord, int]:
    """Check the session is idle and open the compaction run, executed by `worker`; returns how
    many messages the summary would cover."""
    session = access.session(tx, caller, session_id)
    if tx.active_runs(session_id, include_cancel_requested=True) or tx.pending_runs(session_id):
        raise CorralError(
            "session_busy",
            f"session {session_id!r} has a queued or running run",
            {"sessionId": session_id},
        )
    now = clock.now()
    run = RunRecord(
        id=new_id("run"),
        workspace_id=session.workspace_id,
        session_id=session_id,
        status="running",
        trigger_type="system",
        trigger_ref="compact",
        agent_name=session.active_agent_name,
        effective_agent_name=session.active_agent_name,
        initiator_ref=caller.subject_ref,
        created_at=now,
        started_at=now,
        heartbeat_at=now,
        metadata={"worker": worker},
    )
    tx.insert_run(run)
    queue.mark(tx, run, "run.started", now)
    queue.emit(tx, run, "run.started", sessionId=session_id, status="running")
    return session, run, len(load_history(tx, session_id).messages)


def request_for(tx: Tx, session_id: str, model: str, instructions: str | None) -> ModelRequest:
    history = load_history(tx, session_id)
    lines = [f"Earlier summary:\n{history.summary}"] if history.summary else []
    lines += [_render(m) for m in history.messages]
    extra = f"\n\nAlso: {instructions}" if instructions else ""
    prompt = "Summarise this conversation.\n\n" + "\n\n".join(lines)
    return ModelRequest(
        model=model, system=INSTRUCTIONS + extra, messages=[{"role": "user", "content": prompt}]
    )


def _render(msg: MessageRecord) -> str:
    if isinstance(msg.content, str):
        return f"{msg.role}: {msg.content[:PART_CHARS]}"
    return "\n".join(f"{msg.role}: {_part(p)[:PART_CHARS]}" for p in msg.content)


def _part(part: Any) -> str:
    if not isinstance(part, dict):
        return str(part)
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        return str(part.get("text", ""))
    if kind == "tool-call":
        return f"called {part.get('toolName')} with {json.dumps(part.get('input'))}"
    if kind == "tool-result":
        return f"{part.get('toolName')} returned {json.dumps(part.get('output'))}"
    return f"[{kind}]"


async def summarise(provider: ModelProvider, request: ModelRequest) -> str:
    chunks = []
    async for event in stream_with_retry(provider, request):
        if isinstance(event, TextDelta):
            chunks.append(event.text)
    return "".join(chunks).strip()


def complete(tx: Tx, run: RunRecord, summary: str | None, covered: int) -> dict[str, Any]:
    """Write the boundary and summary (or the reason nothing was compacted) and end the run."""
    if not summary:
        reason = "insufficient_history" if summary is None else "summary_empty"
        queue.mark(tx, run, "context_compact_skipped", clock.now(), {"reason": reason})
        finish(tx, run.id, Ending("completed", metadata={"compacted": False, "reason": reason}))
        return {"compacted": False, "reason": reason}
    boundary = _system_message(run, "Conversation compacted", COMPACT_BOUNDARY)
    summary_msg = _system_message(run, summary, COMPACT_SUMMARY)
    for msg in (boundary, summary_msg):
        tx.insert_message(msg)
        queue.emit(
            tx,
            run,
            "message.completed",
            messageId=msg.id,
            content=msg.content,
            role="system",
            metadata=msg.metadata,
        )
    result = {
        "compacted": True,
        "boundaryMessageId": boundary.id,
        "summaryMessageId": summary_msg.id,
        "summarizedMessageCount": covered,
    }
    finish(tx, run.id, Ending("completed", metadata=result))
    return result


def fail(tx: Tx, run: RunRecord, exc: ProviderError) -> None:
    finish(tx, run.id, Ending("failed", "model_stream_failed", exc.message))


def _system_message(run: RunRecord, content: str, kind: str) -> MessageRecord:
    assert run.session_id is not None
    return MessageRecord(
        id=new_id("msg"),
        session_id=run.session_id,
        run_id=run.id,
        role="system",
        content=content,
        origin="system",
        metadata={"runtimeKind": kind},
        created_at=clock.now(),
    )


async def compact_session(
    store: Store,
    resolver: ModelResolver,
    executor: RunExecutor,
    caller: Caller,
    session_id: str,
    instructions: str | None,
) -> models.SessionCompactResult:
    session, run, covered = await store.write(
        lambda tx: start(tx, caller, session_id, executor.worker)
    )
    async with executor.hosting(run):
        summary = None
        if covered >= MIN_MESSAGES:
            summary = await _summary(store, resolver, caller, session, run, instructions)
        result = await store.write(lambda tx: complete(tx, run, summary, covered))
    return models.SessionCompactResult.model_validate(
        {
            "runId": run.id,
            "status": "completed",
            "createdAt": run.created_at,
            "completedAt": clock.now(),
            **result,
        }
    )


async def _summary(
    store: Store,
    resolver: ModelResolver,
    caller: Caller,
    session: SessionRecord,
    run: RunRecord,
    instructions: str | None,
) -> str:
    """The model's summary; the run is failed when the model (or anything else) fails."""
    try:
        ws = await store.read(lambda tx: access.workspace(tx, caller, session.workspace_id))
        catalog = await workspace_catalog(Path(ws.root_path))
        agent = catalog.agent(session.active_agent_name)
        model = await resolver.resolve(
            session.model_ref or (agent.model if agent else None), catalog
        )
        request = await store.read(
            lambda tx: request_for(tx, session.id, model.model_name, instructions)
        )
        return await summarise(model.provider, request)
    except ProviderError as exc:
        error = exc
        await store.write(lambda tx: fail(tx, run, error))
        raise CorralError("model_stream_failed", exc.message) from None
    except BaseException as exc:
        ending = Ending("failed", getattr(exc, "code", "internal_error"), str(exc))
        await asyncio.shield(store.write(lambda tx: finish(tx, run.id, ending)))
        raise
