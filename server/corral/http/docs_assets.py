"""Swagger UI 5 (renders OpenAPI 3.1) served from the installed bundle, never from a CDN."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from corral.http.envelope import envelope_response
from corral.http.errors import code_for

PREFIX = "/docs/assets/"


class DocsAssets:
    """The ASGI app the edge hands paths under PREFIX to."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=str(swagger_ui_path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = dict(scope, path=scope["path"][len(PREFIX) - 1 :], root_path="")
        try:
            await self.files(inner, receive, send)
        except HTTPException as exc:  # raised outside Connexion's handlers: answer here
            status = exc.status_code
            headers = {"Allow": "GET, HEAD"} if status == 405 else None
            await envelope_response(
                code_for(status), str(exc.detail), headers=headers, status=status
            )(scope, receive, send)
