"""Streams survive dropped connections and server restarts: the SDK reconnects from its last
cursor and the caller sees every event exactly once, in order. The SDK talks to the server
through a TCP proxy the tests break; runs wait on a gate file the tests open, so which
events come after the break is decided by the test, not by timing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from sdk_support import script, stored_events
from tcp_proxy import proxy_to

from corral.config import Settings
from corral.testing.live_server import LiveServer, live_server
from corral.testing.processes import CALLER_VARIABLES
from corral.testing.scripted_turns import gated
from corral_sdk import AsyncCorral, Corral, CorralConnectionError
from corral_sdk.events import Event, RunCompleted, ToolStarted

JOIN_S = 60  # a deadlock guard for the consumer thread, not a speed expectation


def _run_events(server: LiveServer, session_id: str, run_id: str | None) -> list[tuple[int, str]]:
    return [
        (e["cursor"], e["event"])
        for e in stored_events(server.settings.data_dir, session_id)
        if e["runId"] == run_id
    ]


def _seen(events: list[Event]) -> list[tuple[int, str]]:
    return [(e.cursor, e.event) for e in events]


def test_send_resumes_a_dropped_stream_without_gap_or_duplicate(shared_server: LiveServer) -> None:
    with proxy_to(shared_server.port) as proxy, Corral(proxy.url) as corral:
        session = corral.workspaces.create(name="resume").sessions.create()
        sandbox = corral.workspaces.get(session.workspace_id).sandbox
        stream = session.stream("wait for the gate", metadata=script(gated("gate")))
        events: list[Event] = []
        for event in stream:
            events.append(event)
            if isinstance(event, ToolStarted):
                proxy.cut()  # the stream's connection dies while the run waits
                with Corral(shared_server.url) as direct:  # past the proxy: the gate opens
                    direct.workspaces.get(sandbox.id).sandbox.write("gate", "")
        result = stream.result()
    assert proxy.connections >= 3  # the stream, the reconnection, `result`'s own requests
    assert result.ok and result.text == "Through the gate." and result.tool_calls == 1
    assert isinstance(events[-1], RunCompleted)
    assert _seen(events) == _run_events(shared_server, session.id, stream.run_id)


async def test_the_async_stream_resumes_too(shared_server: LiveServer) -> None:
    with proxy_to(shared_server.port) as proxy:
        async with AsyncCorral(proxy.url) as corral:
            session = await (await corral.workspaces.create(name="resume")).sessions.create()
            stream = session.stream("wait for the gate", metadata=script(gated("gate")))
            events: list[Event] = []
            async for event in stream:
                events.append(event)
                if isinstance(event, ToolStarted):
                    before = proxy.connections
                    proxy.cut()
                    with Corral(shared_server.url) as direct:
                        direct.workspaces.get(session.workspace_id).sandbox.write("gate", "")
            assert proxy.connections > before
    assert isinstance(events[-1], RunCompleted)
    assert _seen(events) == _run_events(shared_server, session.id, stream.run_id)


def test_a_session_stream_resumes_across_a_server_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", run_worker=True, sandbox_isolation="none")
    with pytest.MonkeyPatch.context() as env:
        for name in CALLER_VARIABLES:
            env.delenv(name, raising=False)
        _restart_while_streaming(settings)


def _restart_while_streaming(settings: Settings) -> None:
    with proxy_to(1) as proxy, Corral(proxy.url) as corral:
        with live_server(settings) as first:
            proxy.point_to(first.port)
            session = corral.workspaces.create(name="restart").sessions.create()
            session.send("one", metadata=script(["First."]))
            events = session.events()  # follows the session, live, through the proxy
            assert isinstance(events, Generator)
            seen = _until_a_run_ends(events)
            proxy.cut()  # the server can stop: no stream holds it
        # Down: the stream keeps trying to reconnect (through the proxy) meanwhile.
        consumer = _Consumer(lambda: _until_a_run_ends(events))
        consumer.start()
        with live_server(settings) as second, Corral(second.url) as direct:
            proxy.point_to(second.port)
            second_run = direct.sessions.get(session.id).submit("two")
            rest = consumer.result()
            events.close()  # the server stops once no stream holds it
    stored = [(e["cursor"], e["event"]) for e in stored_events(settings.data_dir, session.id)]
    assert _seen(seen + rest) == stored  # every event once, in order, across both servers
    assert isinstance(rest[-1], RunCompleted) and rest[-1].run_id == second_run.run_id


def test_a_stream_gives_up_once_the_server_stays_away(shared_server: LiveServer) -> None:
    with proxy_to(shared_server.port) as proxy:
        corral = Corral(proxy.url, reconnect_timeout=0.3)
        session = corral.workspaces.create(name="gone").sessions.create()
        events = session.events()
        session.send("hello", metadata=script(["Hi."]))
        next(events)
        proxy.point_to(1)  # nothing listens there: every reconnection fails
        proxy.cut()
        with pytest.raises(CorralConnectionError) as raised:
            for _ in events:
                pass
        corral.close()
    assert "could not be resumed" in raised.value.message


def _until_a_run_ends(events: Iterator[Event]) -> list[Event]:
    seen: list[Event] = []
    for event in events:
        seen.append(event)
        if isinstance(event, RunCompleted):
            return seen
    raise AssertionError("the stream ended before the run")


class _Consumer:
    """Runs `work` in a thread (so the test can restart servers meanwhile) and hands back its
    result or exception."""

    def __init__(self, work: Callable[[], list[Event]]) -> None:
        self._work = work
        self._result: list[Event] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as exc:
            self._error = exc

    def result(self) -> list[Event]:
        self._thread.join(JOIN_S)
        assert not self._thread.is_alive(), "the stream never delivered the second run"
        if self._error is not None:
            raise self._error
        return self._result
