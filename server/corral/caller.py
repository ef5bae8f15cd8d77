"""Who is calling: the identity and workspace reach the HTTP layer resolved for a request."""

from __future__ import annotations

from dataclasses import dataclass

from corral.errors import CorralError


@dataclass(frozen=True, slots=True)
class Caller:
    subject_ref: str
    auth_source: str  # "standalone" | "token"
    workspace_access: frozenset[str] | None = None  # None: every workspace

    def can_access(self, workspace_id: str) -> bool:
        return self.workspace_access is None or workspace_id in self.workspace_access

    def require_workspace(self, workspace_id: str) -> None:
        if not self.can_access(workspace_id):
            raise CorralError(
                "workspace_access_denied",
                f"caller may not access workspace {workspace_id}",
                {"workspaceId": workspace_id},
            )

    def require_unrestricted(self, action: str) -> None:
        """Shared resources (new workspaces, runtimes) are for callers with every workspace."""
        if self.workspace_access is not None:
            raise CorralError(
                "workspace_access_denied", f"a token limited to workspaces cannot {action}"
            )


ANONYMOUS = Caller(subject_ref="standalone:anonymous", auth_source="standalone")
