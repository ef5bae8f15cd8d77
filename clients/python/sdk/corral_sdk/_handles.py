"""What the sync and async resource objects share besides their I/O: the fields of the
resource they stand for (`data` is the generated model, as last fetched)."""

from __future__ import annotations

from corral_client.models import Session as SessionData
from corral_client.models import Workspace as WorkspaceData


class WorkspaceFields:
    def __init__(self, data: WorkspaceData) -> None:
        self.data = data

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def name(self) -> str:
        return self.data.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.name!r}>"


class SessionFields:
    def __init__(self, data: SessionData) -> None:
        self.data = data

    @property
    def id(self) -> str:
        return self.data.id

    @property
    def workspace_id(self) -> str:
        return self.data.workspace_id

    @property
    def title(self) -> str | None:
        return self.data.title if isinstance(self.data.title, str) else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.title!r}>"
