"""Messages of a session: sending user input (which creates and places a run) and reading the
transcript by keyset page or around an anchor."""

from __future__ import annotations

from typing import Any

from corral import clock, models
from corral.caller import Caller
from corral.core.runs import lifecycle, queue
from corral.core.runs.executor import RunExecutor
from corral.core.services import mappers
from corral.core.services.pagination import decode_message_key, encode_message_key
from corral.core.workspace import access
from corral.errors import CorralError
from corral.ids import new_id
from corral.store import MessageRecord, RunRecord, Store, Tx

# Metadata keys the engine sets itself; a client cannot forge them
# (docs/contract.md#message-metadata).
RESERVED_METADATA = frozenset({"runtimeKind", "origin", "mode", "source", "synthetic"})
RESERVED_PREFIXES = ("taskNotification", "delegated")


def _client_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    kept = {
        k: v
        for k, v in metadata.items()
        if k not in RESERVED_METADATA and not k.startswith(RESERVED_PREFIXES)
    }
    return kept or None


def _content(body: models.SendMessageRequest) -> str | list[Any]:
    raw = body.model_dump(mode="json", by_alias=True, exclude_none=True)["content"]
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise CorralError("invalid_request", "content must not be blank", {"field": "content"})
        return text
    return list(raw)


class MessagesService:
    def __init__(self, store: Store, executor: RunExecutor) -> None:
        self.store = store
        self.executor = executor

    async def send_session_message(
        self, caller: Caller, session_id: str, *, body: models.SendMessageRequest
    ) -> models.MessageAccepted:
        content = _content(body)
        metadata = _client_metadata(body.metadata.model_dump() if body.metadata else None)
        interrupt = (
            body.running_run_behavior == models.SendMessageRequestRunningRunBehavior.interrupt
        )

        def send(
            tx: Tx,
        ) -> tuple[MessageRecord, RunRecord, queue.Delivery, RunRecord | None]:
            ses = access.session(tx, caller, session_id)
            now = clock.now()
            message_id, run_id = new_id("msg"), new_id("run")
            run = RunRecord(
                id=run_id,
                workspace_id=ses.workspace_id,
                session_id=ses.id,
                status="queued",
                trigger_type="message",
                trigger_ref=message_id,
                agent_name=ses.active_agent_name,
                effective_agent_name=ses.active_agent_name,
                initiator_ref=caller.subject_ref,
                created_at=now,
            )
            message = MessageRecord(
                id=message_id,
                session_id=ses.id,
                run_id=run_id,
                role="user",
                content=content,
                origin="user",
                mode="prompt",
                metadata=metadata,
                created_at=now,
            )
            delivery = queue.submit(tx, run, message, interrupt)
            tx.touch_session(ses.id, now)
            started = None
            if slot and delivery.kind == "active_run" and not interrupt:
                started = lifecycle.claim(tx, run.id, self.executor.worker)
            return message, run, delivery, started

        # A message to an idle session starts its run in the write that creates it.
        slot = self.executor.reserve()
        try:
            message, run, delivery, started = await self.store.write(send)
        except BaseException:
            if slot:
                self.executor.release()
            raise
        if started is not None:
            self.executor.launch(started)
        else:
            if slot:
                self.executor.release()
            await self.executor.wake(session_id)
        return models.MessageAccepted(
            message_id=message.id,
            run_id=run.id,
            delivery=models.MessageAcceptedDelivery(delivery.kind),
            queued_position=delivery.position,
            created_at=message.created_at,
        )

    async def list_session_messages(
        self, caller: Caller, session_id: str, *, page_size: int, cursor: str | None, direction: str
    ) -> models.MessagePage:
        key = decode_message_key(cursor)
        backward = direction == "backward"

        def page(tx: Tx) -> list[MessageRecord]:
            access.session(tx, caller, session_id)
            return tx.list_messages(
                session_id,
                page_size + 1,
                after=None if backward else key,
                before=key if backward else None,
                direction="backward" if backward else "forward",
            )

        rows = await self.store.read(page)
        items = rows[:page_size]
        more = len(rows) > page_size
        return models.MessagePage(
            items=[mappers.message(r) for r in items],
            next_cursor=encode_message_key(items[-1].created_at, items[-1].id) if more else None,
        )

    async def get_session_message(
        self, caller: Caller, session_id: str, message_id: str
    ) -> models.Message:
        return mappers.message(
            await self.store.read(lambda tx: _message(tx, caller, session_id, message_id))
        )

    async def get_session_message_context(
        self, caller: Caller, session_id: str, message_id: str, *, before: int, after: int
    ) -> models.MessageContext:
        def read(tx: Tx) -> models.MessageContext:
            anchor = _message(tx, caller, session_id, message_id)
            ctx = tx.message_context(session_id, anchor.key, before, after)
            return models.MessageContext(
                anchor=mappers.message(anchor),
                before=[mappers.message(m) for m in ctx.before],
                after=[mappers.message(m) for m in ctx.after],
                has_more_before=ctx.has_more_before,
                has_more_after=ctx.has_more_after,
            )

        return await self.store.read(read)


def _message(tx: Tx, caller: Caller, session_id: str, message_id: str) -> MessageRecord:
    access.session(tx, caller, session_id)
    rec = tx.get_message(session_id, message_id)
    if rec is None:
        raise CorralError.not_found("message_not_found", "message", message_id)
    return rec
