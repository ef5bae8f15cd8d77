"""Repository methods for workspaces, sessions and messages, on every backend."""

from __future__ import annotations

import pytest
from store_factories import at, message, session, workspace

from corral.store import ConflictError, MessageKey, Store, Tx

# -- workspaces ------------------------------------------------------------------------


async def test_workspace_round_trip_update_touch(store: Store) -> None:
    rec = workspace("ws_a", runtime="py", owner_id="o", read_only=True, kind="local")
    await store.write(lambda tx: tx.insert_workspace(rec))
    assert await store.read(lambda tx: tx.get_workspace("ws_a")) == rec
    assert await store.read(lambda tx: tx.get_workspace("ws_missing")) is None

    rec.name, rec.status, rec.read_only = "renamed", "archived", False
    assert await store.write(lambda tx: tx.update_workspace(rec))
    assert await store.write(lambda tx: tx.touch_workspace("ws_a", at(99)))
    got = await store.read(lambda tx: tx.get_workspace("ws_a"))
    assert got is not None
    assert (got.name, got.status, got.read_only, got.updated_at) == (
        "renamed",
        "archived",
        False,
        at(99),
    )
    assert got.created_at.tzinfo is not None
    assert not await store.write(lambda tx: tx.touch_workspace("ws_missing", at(1)))


async def test_duplicate_ids_raise_conflict(store: Store) -> None:
    await store.write(lambda tx: tx.insert_workspace(workspace("ws_a")))
    with pytest.raises(ConflictError):
        await store.write(lambda tx: tx.insert_workspace(workspace("ws_a")))
    with pytest.raises(ConflictError):  # unknown parent workspace (foreign key)
        await store.write(lambda tx: tx.insert_session(session("ses_x", "ws_nope")))


async def test_naive_datetimes_are_refused(store: Store) -> None:
    rec = workspace("ws_a")
    rec.created_at = rec.created_at.replace(tzinfo=None)
    with pytest.raises(ValueError, match="naive"):
        await store.write(lambda tx: tx.insert_workspace(rec))


async def test_list_workspaces_order_pagination_and_allow_list(store: Store) -> None:
    def seed(tx: Tx) -> None:
        for i, t in enumerate([5, 1, 5, 3]):  # a tie at t=5 breaks on id desc
            tx.insert_workspace(workspace(f"ws_{i}", t=t))

    await store.write(seed)
    ids = [w.id for w in await store.read(lambda tx: tx.list_workspaces(0, 10))]
    assert ids == ["ws_2", "ws_0", "ws_3", "ws_1"]
    page = await store.read(lambda tx: tx.list_workspaces(1, 2))
    assert [w.id for w in page] == ["ws_0", "ws_3"]
    allowed = await store.read(lambda tx: tx.list_workspaces(0, 10, ids={"ws_1", "ws_2", "x"}))
    assert [w.id for w in allowed] == ["ws_2", "ws_1"]
    assert await store.read(lambda tx: tx.list_workspaces(0, 10, ids=[])) == []


# -- sessions --------------------------------------------------------------------------


async def test_session_round_trip_listing_and_children(seeded: Store) -> None:
    def seed(tx: Tx) -> None:
        tx.insert_session(session("ses_2", t=2, title="two", model_ref="platform/x"))
        tx.insert_session(session("ses_3", t=3))
        tx.insert_session(session("ses_c1", t=4, parent_session_id="ses_2"))
        tx.insert_session(session("ses_c2", t=1, parent_session_id="ses_2"))

    await seeded.write(seed)
    got = await seeded.read(lambda tx: tx.get_session("ses_2"))
    assert got == session("ses_2", t=2, title="two", model_ref="platform/x")

    listed = await seeded.read(lambda tx: tx.list_sessions("ws_1", 0, 10))
    assert [s.id for s in listed] == ["ses_c1", "ses_3", "ses_2", "ses_c2", "ses_1"]
    roots = await seeded.read(lambda tx: tx.list_sessions("ws_1", 1, 10, top_level_only=True))
    assert [s.id for s in roots] == ["ses_2", "ses_1"]
    kids = await seeded.read(lambda tx: tx.list_child_sessions("ses_2", 0, 10))
    assert [s.id for s in kids] == ["ses_c1", "ses_c2"]

    # A new message moves a session to the top.
    assert await seeded.write(lambda tx: tx.touch_session("ses_1", at(50)))
    top = await seeded.read(lambda tx: tx.list_sessions("ws_1", 0, 1))
    assert [s.id for s in top] == ["ses_1"]

    assert got is not None
    got.active_agent_name, got.last_run_at, got.status = "coder", at(7), "archived"
    assert await seeded.write(lambda tx: tx.update_session(got))
    assert await seeded.read(lambda tx: tx.get_session("ses_2")) == got


# -- messages --------------------------------------------------------------------------


async def test_message_round_trip_and_session_scoping(seeded: Store) -> None:
    parts = [{"type": "text", "text": "héllo"}, {"type": "image", "image": "data:..."}]
    m1 = message("msg_1", content="plain", origin="user", mode="prompt")
    m2 = message("msg_2", t=1, content=parts, metadata={"k": [1, None]}, run_id="run_x")
    await seeded.write(lambda tx: (tx.insert_message(m1), tx.insert_message(m2)))
    assert await seeded.read(lambda tx: tx.get_message("ses_1", "msg_1")) == m1
    assert await seeded.read(lambda tx: tx.get_message("ses_1", "msg_2")) == m2
    assert await seeded.read(lambda tx: tx.get_message("ses_other", "msg_1")) is None

    m1.content, m1.metadata = [{"type": "text", "text": "edited"}], {"done": True}
    assert await seeded.write(lambda tx: tx.update_message(m1))
    assert await seeded.read(lambda tx: tx.get_message("ses_1", "msg_1")) == m1


async def _seed_messages(store: Store) -> list[str]:
    # Timestamps 0,1,1,1,2,...: ties at t=1 are ordered by id.
    stamps = [0, 1, 1, 1, 2, 3, 4, 5]
    ids = [f"msg_{i}" for i in range(len(stamps))]

    def seed(tx: Tx) -> None:
        for mid, t in zip(ids, stamps, strict=True):
            tx.insert_message(message(mid, t=t))

    await store.write(seed)
    return ids


async def test_list_messages_keyset_forward_and_backward(seeded: Store) -> None:
    ids = await _seed_messages(seeded)

    seen: list[str] = []
    key: MessageKey | None = None
    while True:
        page = await seeded.read(lambda tx, k=key: tx.list_messages("ses_1", 3, after=k))
        seen += [m.id for m in page]
        if len(page) < 3:
            break
        key = page[-1].key
    assert seen == ids

    seen, key = [], None
    while True:
        page = await seeded.read(
            lambda tx, k=key: tx.list_messages("ses_1", 3, before=k, direction="backward")
        )
        seen += [m.id for m in page]
        if len(page) < 3:
            break
        key = page[-1].key
    assert seen == ids[::-1]

    lo, hi = (at(1), "msg_1"), (at(4), "msg_6")
    window = await seeded.read(lambda tx: tx.list_messages("ses_1", 10, after=lo, before=hi))
    assert [m.id for m in window] == ["msg_2", "msg_3", "msg_4", "msg_5"]
    assert await seeded.read(lambda tx: tx.list_messages("ses_other", 10)) == []


async def test_message_context(seeded: Store) -> None:
    ids = await _seed_messages(seeded)
    anchor = await seeded.read(lambda tx: tx.get_message("ses_1", "msg_3"))
    assert anchor is not None
    ctx = await seeded.read(lambda tx: tx.message_context("ses_1", anchor.key, 2, 2))
    assert [m.id for m in ctx.before] == ["msg_1", "msg_2"]
    assert [m.id for m in ctx.after] == ["msg_4", "msg_5"]
    assert ctx.has_more_before and ctx.has_more_after

    ctx = await seeded.read(lambda tx: tx.message_context("ses_1", anchor.key, 10, 0))
    assert [m.id for m in ctx.before] == ids[:3]
    assert ctx.after == [] and not ctx.has_more_before and ctx.has_more_after


async def test_restamp_message_moves_it_in_the_transcript(seeded: Store) -> None:
    await _seed_messages(seeded)
    assert await seeded.write(lambda tx: tx.restamp_message("msg_0", at(100)))
    page = await seeded.read(lambda tx: tx.list_messages("ses_1", 1, direction="backward"))
    assert page[0].id == "msg_0" and page[0].created_at == at(100)
    assert not await seeded.write(lambda tx: tx.restamp_message("msg_none", at(1)))
