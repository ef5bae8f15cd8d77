"""`AsyncCorral` and the resources reached from it.

    async with AsyncCorral("http://127.0.0.1:8787") as corral:
        ws = await corral.workspaces.create(name="demo", runtime="default")
        session = await ws.sessions.create(title="first")
        result = await session.send("List the files in the workspace")
        print(result.text, result.usage, result.run.status)
        async for event in session.stream("And now summarise README.md"):
            ...

Records (`Run`, `Message`, `WorkspaceEntry`…) are the generated client's models. The sync
client (`client.py`) is generated from the asyncio one (`aio.py`) by `gen_sync.py`.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any
from weakref import WeakSet

import httpx

from corral_client.models import (
    Message,
    MessageAccepted,
    Run,
    RunStep,
    SessionCompactResult,
    SessionQueuedRun,
    WorkspaceCatalog,
)
from corral_client.models import Session as SessionData
from corral_client.models import Workspace as WorkspaceData
from corral_sdk import _calls as calls
from corral_sdk._async_transport import AsyncTransport
from corral_sdk._calls import Call, Content, RunRef
from corral_sdk._feed import EventFeed
from corral_sdk._handles import SessionFields, WorkspaceFields
from corral_sdk._transport import client_options
from corral_sdk.aio_sandbox import AsyncSandbox
from corral_sdk.events import Event
from corral_sdk.results import RunResult


class AsyncCorral:
    """A Corral server. `base_url` defaults to `$CORRAL_URL`, then http://127.0.0.1:8787;
    `token` to `$CORRAL_TOKEN`. `timeout` bounds each request (streams wait as long as the
    run takes); a dropped event stream is resumed for up to `reconnect_timeout` seconds."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        reconnect_timeout: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(**client_options(base_url, token, timeout))
        transport = AsyncTransport(self.http, reconnect_timeout)
        self.workspaces = AsyncWorkspaces(transport)
        self.sessions = AsyncSessions(transport)
        self.runs = AsyncRuns(transport)

    async def close(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncCorral:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AsyncWorkspaces:
    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(self, name: str, runtime: str = "default", **options: Any) -> AsyncWorkspace:
        """Create a workspace from a runtime template; `options` are the API's optional
        fields in snake_case (`agents_md=`, `root_path=`, `skills=`…)."""
        data = await self._t.call(calls.new_workspace(name, runtime, options))
        return AsyncWorkspace(self._t, data)

    async def get(self, workspace_id: str) -> AsyncWorkspace:
        return AsyncWorkspace(self._t, await self._t.call(calls.workspace(workspace_id)))

    async def list(self, *, page_size: int = 50) -> AsyncIterator[AsyncWorkspace]:
        """Every workspace, most recently updated first (fetched a page at a time)."""
        async for data in self._t.pages(calls.workspaces_page(page_size)):
            yield AsyncWorkspace(self._t, data)

    async def delete(self, workspace_id: str) -> None:
        await self._t.call(calls.remove_workspace(workspace_id))


class AsyncWorkspace(WorkspaceFields):
    def __init__(self, transport: AsyncTransport, data: WorkspaceData) -> None:
        super().__init__(data)
        self._t = transport
        self.sessions = AsyncWorkspaceSessions(transport, data.id)
        self.sandbox = AsyncSandbox(transport, data.id)
        self.actions = AsyncActions(transport, data.id)

    async def catalog(self) -> WorkspaceCatalog:
        """Agents, models, actions, skills and tools the workspace offers."""
        return await self._t.call(calls.catalog(self.id))

    async def delete(self) -> None:
        await self._t.call(calls.remove_workspace(self.id))


class AsyncWorkspaceSessions:
    def __init__(self, transport: AsyncTransport, workspace_id: str) -> None:
        self._t = transport
        self.workspace_id = workspace_id

    async def create(
        self, title: str | None = None, *, agent: str | None = None, model: str | None = None
    ) -> AsyncSession:
        """A new session; `agent` defaults to the workspace's default agent, `model` is a
        model ref such as `platform/x`."""
        data = await self._t.call(calls.new_session(self.workspace_id, title, agent, model))
        return AsyncSession(self._t, data)

    async def list(self, *, page_size: int = 50) -> AsyncIterator[AsyncSession]:
        """The workspace's sessions, the most recently active first."""
        async for data in self._t.pages(calls.sessions_page(self.workspace_id, page_size)):
            yield AsyncSession(self._t, data)

    async def get(self, session_id: str) -> AsyncSession:
        return AsyncSession(self._t, await self._t.call(calls.session(session_id)))


class AsyncSessions:
    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def get(self, session_id: str) -> AsyncSession:
        return AsyncSession(self._t, await self._t.call(calls.session(session_id)))


class AsyncRuns:
    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def get(self, run_id: str) -> Run:
        return await self._t.call(calls.run(run_id))

    async def cancel(self, run_id: str) -> None:
        """Ask the run to stop; its end arrives as `run.cancelled` (a no-op on an ended run)."""
        await self._t.call(calls.cancel(run_id))

    def watch(self, run_id: str) -> AsyncRunStream:
        """The run's events from its start (replayed, then live) until it ends."""
        return AsyncRunStream(self._t, calls.run_ref(run_id))

    async def wait(self, run_id: str) -> RunResult:
        """Wait until the run ends; its result."""
        return await self.watch(run_id).result()

    def steps(self, run_id: str, *, page_size: int = 200) -> AsyncIterator[RunStep]:
        return self._t.pages(calls.steps_page(run_id, page_size))


class AsyncSessionRuns(AsyncRuns):
    def __init__(self, transport: AsyncTransport, session_id: str) -> None:
        super().__init__(transport)
        self.session_id = session_id

    def list(self, *, page_size: int = 50) -> AsyncIterator[Run]:
        """The session's runs, newest first."""
        return self._t.pages(calls.runs_page(self.session_id, page_size))


class AsyncSession(SessionFields):
    def __init__(self, transport: AsyncTransport, data: SessionData) -> None:
        super().__init__(data)
        self._t = transport
        self.runs = AsyncSessionRuns(transport, data.id)

    async def send(
        self,
        content: Content,
        *,
        metadata: Mapping[str, Any] | None = None,
        interrupt: bool = False,
    ) -> RunResult:
        """Send a message and wait for the run it starts to end. With `interrupt`, a run
        that is executing is cancelled and this message runs next (otherwise it queues).
        The result reports the run whatever its outcome: see `RunResult.raise_for_status`."""
        return await self.stream(content, metadata=metadata, interrupt=interrupt).result()

    def stream(
        self,
        content: Content,
        *,
        metadata: Mapping[str, Any] | None = None,
        interrupt: bool = False,
    ) -> AsyncRunStream:
        """Send a message when iteration starts; the run's typed events as they happen."""
        return AsyncRunStream(self._t, calls.message_run(self.id, content, metadata, interrupt))

    async def interrupt(
        self, content: Content, *, metadata: Mapping[str, Any] | None = None
    ) -> RunResult:
        """`send` that cancels the executing run instead of queueing behind it."""
        return await self.send(content, metadata=metadata, interrupt=True)

    async def submit(
        self,
        content: Content,
        *,
        metadata: Mapping[str, Any] | None = None,
        interrupt: bool = False,
    ) -> MessageAccepted:
        """Send a message without waiting: the accepted message, its run id and delivery."""
        return await self._t.call(calls.send_message(self.id, content, metadata, interrupt))

    def events(
        self, *, after: int | None = None, run_id: str | None = None, follow: bool = True
    ) -> AsyncGenerator[Event]:
        """The session's events after cursor `after` (from the start when None), then live
        ones for as long as it is iterated (`follow=False`: only those stored). Resumes by
        itself when the connection drops; `aclose()` it to release its connection."""
        return self._t.events(self._t.feed(self.id, run_id, after=after, follow=follow))

    def messages(
        self, *, newest_first: bool = False, page_size: int = 50
    ) -> AsyncIterator[Message]:
        return self._t.pages(calls.messages_page(self.id, page_size, newest_first))

    async def queue(self) -> builtins.list[SessionQueuedRun]:
        """Runs waiting behind the active one, in the order they will run."""
        return (await self._t.call(calls.session_queue(self.id))).items

    async def cancel(self) -> builtins.list[str]:
        """Cancel the active run and those queued behind it; their ids."""
        ids: builtins.list[str] = []
        async for run in self.runs.list():
            if calls.ended(run):
                break  # runs are serial: every older one has ended too
            await self.runs.cancel(run.id)
            ids.append(run.id)
        return ids

    async def compact(self, instructions: str | None = None) -> SessionCompactResult:
        return await self._t.call(calls.compact(self.id, instructions))

    async def update(
        self, *, title: str | None = None, agent: str | None = None, model: str | None = None
    ) -> AsyncSession:
        self.data = await self._t.call(calls.change_session(self.id, title, agent, model))
        return self

    async def refresh(self) -> AsyncSession:
        self.data = await self._t.call(calls.session(self.id))
        return self

    async def delete(self) -> None:
        await self._t.call(calls.remove_session(self.id))


class AsyncRunStream:
    """A run's typed events as they happen, ending with `run.completed`, `run.failed` or
    `run.cancelled`. The request that starts the run is made when iteration starts (or by
    `start()`). Iterating again after an interruption (an exception, KeyboardInterrupt)
    continues after the last event seen; `result()` reads what is left and reports the run.

    The stream holds a connection while it is iterated. Use it as a context manager, or call
    `aclose()`, to release the connection at a known point; breaking out of a loop over it
    releases it too, once the abandoned iterator is collected. A closed stream can be
    iterated again: it reconnects and continues after the last event seen."""

    def __init__(self, transport: AsyncTransport, start: Call[RunRef]) -> None:
        self._t = transport
        self._start = start
        self._run: RunRef | None = None
        self._feed: EventFeed | None = None
        # The iterations begun and not yet collected, each holding its connection until closed.
        self._iterations: WeakSet[AsyncGenerator[Event]] = WeakSet()

    async def start(self) -> str:
        """Start the run now if iteration has not (idempotent); its id."""
        return (await self._begin())[0].run_id

    @property
    def run_id(self) -> str | None:
        return self._run.run_id if self._run else None

    def __aiter__(self) -> AsyncGenerator[Event]:
        iteration = self._events()
        self._iterations.add(iteration)
        return iteration

    async def _events(self) -> AsyncGenerator[Event]:
        # Closing this generator (aclose(), or the collector after a `break`) closes the
        # transport's at once, and with it the connection.
        async with aclosing(self._t.events((await self._begin())[1])) as events:
            async for event in events:
                yield event

    async def result(self) -> RunResult:
        run, feed = await self._begin()
        async with aclosing(self.__aiter__()) as events:
            async for _ in events:
                pass
        return feed.transcript.result(await self._t.call(calls.run(run.run_id)))

    async def cancel(self) -> None:
        """Ask the run to stop (keep iterating to see it end)."""
        await self._t.call(calls.cancel(await self.start()))

    async def aclose(self) -> None:
        """Close the stream's connection: a loop over it ends (call it from that loop, or
        once it is left). The run goes on; iterating again continues after the last event."""
        for iteration in list(self._iterations):
            await iteration.aclose()

    async def __aenter__(self) -> AsyncRunStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _begin(self) -> tuple[RunRef, EventFeed]:
        if self._run is None or self._feed is None:
            self._run = await self._t.call(self._start)
            self._feed = self._t.feed(self._run.session_id, self._run.run_id)
        return self._run, self._feed


class AsyncActions:
    def __init__(self, transport: AsyncTransport, workspace_id: str) -> None:
        self._t = transport
        self.workspace_id = workspace_id

    async def run(
        self,
        name: str,
        input: Any = None,
        *,
        session_id: str | None = None,
        agent: str | None = None,
    ) -> RunResult:
        """Run a workspace action (in a session of its own unless `session_id` is given)
        and wait for it to end."""
        return await self.stream(name, input, session_id=session_id, agent=agent).result()

    def stream(
        self,
        name: str,
        input: Any = None,
        *,
        session_id: str | None = None,
        agent: str | None = None,
    ) -> AsyncRunStream:
        start = calls.trigger_action(self.workspace_id, name, input, session_id, agent)
        return AsyncRunStream(self._t, start)
