"""The core assembled: storage opened and closed with the app, and one implementation of
every service interface wired to it."""

from __future__ import annotations

import os
import secrets
from importlib.resources.abc import Traversable

from prometheus_client import CollectorRegistry

from corral.bus import LocalEventBus
from corral.bus.foreign_commits import ForeignCommitPoller, event_publisher
from corral.bus.redis_link import RedisLink
from corral.config import Settings
from corral.core.agent.performer import RunPerformer
from corral.core.llm.platform_models import ModelRegistry
from corral.core.llm.run_models import ModelResolver
from corral.core.runs.executor import ExecutorSettings, RunExecutor
from corral.core.runs.worker_process import ProcessKind
from corral.core.services.actions import ActionsService
from corral.core.services.commands import CommandsService
from corral.core.services.event_stream import SessionEventStreams, StreamPolicy
from corral.core.services.files import FilesService
from corral.core.services.messages import MessagesService
from corral.core.services.meta import MetaService
from corral.core.services.models import ModelsService
from corral.core.services.runs import RunsService
from corral.core.services.runtimes import RuntimesService
from corral.core.services.sandboxes import SandboxesService
from corral.core.services.sessions import SessionsService
from corral.core.services.terminals import TerminalsService
from corral.core.services.workspaces import WorkspacePlaces, WorkspacesService
from corral.core.workspace.runtime_library import BUILTIN_RUNTIMES_DIR, RuntimeLibrary
from corral.core.workspace.sandbox_host import SandboxHost
from corral.services import Services
from corral.store import Store, open_store


class Core:
    def __init__(
        self, settings: Settings, spec_path: Traversable, process_kind: ProcessKind = "embedded"
    ) -> None:
        self.settings = settings
        self.metrics_registry = CollectorRegistry()
        # What `/internal/v1/*` callers must present: handed only to what the operator gives it.
        self.internal_token = settings.internal_token or secrets.token_urlsafe(32)
        self.store: Store = open_store(settings.store_url)
        data_dir = settings.data_dir.resolve()
        library = RuntimeLibrary(BUILTIN_RUNTIMES_DIR, settings.runtimes_dir)
        places = WorkspacePlaces(settings.workspaces_dir, tuple(settings.workspace_roots))
        workspaces = WorkspacesService(self.store, library, places)
        self.sandbox_host = SandboxHost(settings)
        self.model_registry = ModelRegistry(settings, os.environ)
        resolver = ModelResolver(self.model_registry)
        performer = RunPerformer(self.store, settings, self.sandbox_host, resolver)
        self.executor = RunExecutor(
            self.store,
            performer.perform,
            ExecutorSettings(
                concurrency=settings.run_concurrency,
                heartbeat_s=settings.run_heartbeat_seconds,
                stale_s=settings.run_stale_seconds,
                recovery_policy=settings.run_recovery_policy,
                recovery_max_attempts=settings.run_recovery_max_attempts,
                process_kind=process_kind,
            ),
        )
        performer.children = self.executor  # SubAgent's child runs execute on it
        wake = self.executor.wake
        self.event_bus = LocalEventBus()
        self.store.add_event_listener(self.event_bus.publish)
        self.foreign_commits = ForeignCommitPoller(
            self.store, settings.sse_foreign_poll_seconds, settings.redis_safety_poll_seconds
        )
        self.foreign_commits.add_listener(event_publisher(self.store, self.event_bus))
        self.foreign_commits.add_listener(self.executor.notice_foreign_commit)
        self.redis: RedisLink | None = None
        if settings.redis_url:
            self.redis = RedisLink(
                settings.redis_url,
                settings.redis_prefix,
                process_id=self.executor.worker["id"],
                store=self.store,
                bus=self.event_bus,
                on_link=self.foreign_commits.set_linked,
            )
            self.store.add_event_listener(self.redis.announce)
            self.event_bus.watch = self.redis.watch
            self.executor.signals = self.redis
        event_streams = SessionEventStreams(
            self.store,
            self.event_bus,
            StreamPolicy(
                ping_seconds=settings.sse_ping_seconds,
                max_lag_events=settings.sse_max_lag_events,
            ),
        )
        self.services = Services(
            meta=MetaService(
                self.store,
                self.metrics_registry,
                spec_path,
                auth_enabled=bool(settings.api_tokens),
                workers=self.executor,
                redis=self.redis,
            ),
            runtimes=RuntimesService(library, data_dir / "uploads"),
            workspaces=workspaces,
            sessions=SessionsService(self.store, resolver, event_streams, self.executor),
            messages=MessagesService(self.store, self.executor),
            terminals=TerminalsService(self.store, self.sandbox_host),
            runs=RunsService(self.store, wake),
            actions=ActionsService(self.store, wake),
            sandboxes=SandboxesService(self.store, workspaces),
            files=FilesService(self.store),
            commands=CommandsService(self.store, self.sandbox_host),
            models=ModelsService(self.model_registry, ping_seconds=settings.sse_ping_seconds),
        )

    async def start(self) -> None:
        self.settings.workspaces_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        await self.sandbox_host.start()
        if self.redis is not None:
            await self.redis.start()
        await self.executor.start(execute=self.settings.run_worker)
        if self.redis is not None and self.settings.run_worker:
            self.redis.take_runs(self.executor.look, self.executor.wait_for_free_slot)
        if self.settings.sse_foreign_poll_seconds or self.redis is not None:
            self.foreign_commits.start()

    def end_streams(self) -> None:
        """End the streams that never end on their own (the server is shutting down)."""
        self.event_bus.close()
        self.model_registry.end_watches()

    async def stop(self) -> None:
        await self.foreign_commits.stop()
        if self.redis is not None:
            await self.redis.stop_taking_runs()
        await self.executor.stop()  # before the sandbox: runs end while their tools can
        await self.sandbox_host.stop()  # background commands end with the server
        if self.redis is not None:
            await self.redis.close()  # after the runs: their last events are announced
        await self.model_registry.aclose()
        await self.store.close()
