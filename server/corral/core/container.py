"""The core assembled: storage opened and closed with the app, and one implementation of
every service interface wired to it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from corral.config import Settings
from corral.core.commands import CommandsService, TerminalsService
from corral.core.messages import MessagesService
from corral.core.meta import MetaService
from corral.core.providers_catalog import ModelsService
from corral.core.runs import RunsService
from corral.core.runtimes import RuntimesService
from corral.core.sandbox_host import SandboxHost
from corral.core.sandboxes import FilesService, SandboxesService
from corral.core.sessions import SessionsService
from corral.core.templates import BUILTIN_RUNTIMES_DIR, RuntimeLibrary
from corral.core.workspaces import WorkspacePlaces, WorkspacesService
from corral.services import Services
from corral.store import Store, open_store

# Tags whose every operation is still pending (codegen/pending_operations.txt): their
# interfaces are empty, and any object implements an empty interface.
NOTHING_YET = object()


class Core:
    def __init__(self, settings: Settings, spec_path: Path) -> None:
        self.settings = settings
        self.metrics_registry = CollectorRegistry()
        self.store: Store = open_store(settings.store_url)
        data_dir = settings.data_dir.resolve()
        library = RuntimeLibrary(BUILTIN_RUNTIMES_DIR, settings.runtimes_dir)
        places = WorkspacePlaces(settings.workspaces_dir, tuple(settings.workspace_roots))
        workspaces = WorkspacesService(self.store, library, places)
        self.sandbox_host = SandboxHost(settings)
        self.services = Services(
            meta=MetaService(self.store, self.metrics_registry, spec_path,
                             auth_enabled=bool(settings.api_tokens)),
            runtimes=RuntimesService(library, data_dir / "uploads"),
            workspaces=workspaces,
            sessions=SessionsService(self.store),
            messages=MessagesService(self.store),
            terminals=TerminalsService(self.store, self.sandbox_host),
            runs=RunsService(self.store),
            actions=NOTHING_YET,
            sandboxes=SandboxesService(self.store, workspaces),
            files=FilesService(self.store),
            commands=CommandsService(self.store, self.sandbox_host),
            models=ModelsService(),
        )  # fmt: skip

    async def start(self) -> None:
        self.settings.workspaces_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        await self.sandbox_host.start()

    async def stop(self) -> None:
        await self.sandbox_host.stop()  # background commands end with the server
        await self.store.close()
