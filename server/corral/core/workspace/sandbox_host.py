"""The server's sandboxing as configured: the isolation chosen at start-up, the command limits,
and the registry of background tasks. The commands service and the runtime's tools both ask
it for a `Sandbox` of a workspace root."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from corral.addresses import is_loopback
from corral.config import Settings, config_file
from corral.sandbox.group_ledger import GroupLedger
from corral.sandbox.isolation import Isolation, choose_isolation
from corral.sandbox.process import Sandbox
from corral.sandbox.tasks import TaskRegistry
from corral.store import WorkspaceRecord

log = logging.getLogger("corral.sandbox")


class SandboxHost:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.isolation = Isolation("none")  # until start() has probed for bwrap
        self.ledger = GroupLedger(settings.data_dir.resolve() / "process-groups")
        self.tasks = TaskRegistry(
            settings.data_dir.resolve() / "tasks",
            log_limit=settings.sandbox_task_log_bytes,
            max_running=settings.sandbox_max_background_tasks,
            max_per_workspace=settings.sandbox_max_background_tasks_per_workspace,
            max_lifetime_s=settings.sandbox_background_max_seconds,
        )

    async def start(self) -> None:
        s = self.settings
        await asyncio.to_thread(self.ledger.reap)  # what a killed server left running
        self.isolation = await choose_isolation(
            s.sandbox_isolation,
            network=s.sandbox_network,
            hidden=self._hidden_paths(),
            probe_root=s.workspaces_dir,
            exposure=self._exposure(),
        )
        log.info("sandbox commands run with isolation %s", self.isolation.mode)

    async def stop(self) -> None:
        await self.tasks.stop_all()

    def sandbox(self, workspace: WorkspaceRecord) -> Sandbox:
        """The sandbox of a workspace: read-only when the workspace is."""
        return Sandbox(
            Path(workspace.root_path),
            self.isolation,
            env_passthrough=self.settings.sandbox_env_passthrough,
            output_limit=self.settings.sandbox_output_bytes,
            ledger=self.ledger,
            read_only=workspace.read_only,
        )

    def timeout_s(self, requested_ms: int | None) -> float:
        """The requested timeout, or the default, capped at the configured maximum."""
        s = self.settings
        ms = s.sandbox_timeout_ms if requested_ms is None else requested_ms
        return min(ms, s.sandbox_max_timeout_ms) / 1000

    def _exposure(self) -> str | None:
        """Why commands must be confined here, if they must: callers who should not reach
        each other's workspaces, or a server reachable from other machines."""
        s = self.settings
        if any(token.workspaces is not None for token in s.api_tokens):
            return "API tokens limit callers to some workspaces"
        if not is_loopback(s.host):
            return f"the server listens on {s.host}, beyond this machine"
        if s.trusted_proxies:
            return "trusted_proxies are set: callers reach the server through a proxy"
        return None

    def _hidden_paths(self) -> list[Path]:
        """What bwrap masks: the server's state, its user's home (keys, credentials), its
        config file (tokens), other workspaces, and what the operator adds."""
        s = self.settings
        return [s.data_dir, Path.home(), config_file(), *s.workspace_roots, *s.sandbox_hidden_paths]
