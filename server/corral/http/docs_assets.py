"""Swagger UI 5 (renders OpenAPI 3.1) served from the installed bundle, never from a CDN."""

from __future__ import annotations

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

PREFIX = "/docs/assets/"


class DocsAssets:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.files = StaticFiles(directory=str(swagger_ui_path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            inner = dict(scope, path=scope["path"][len(PREFIX) - 1 :], root_path="")
            await self.files(inner, receive, send)
            return
        await self.app(scope, receive, send)
