"""Who may call: bearer tokens when configured, the anonymous standalone caller otherwise.

Runs in front of Connexion (its SecurityMiddleware is not used) so standalone mode needs no
header at all and the caller, with its workspace reach, is resolved once per request.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.types import ASGIApp, Scope

from corral.core.caller import ANONYMOUS, Caller
from corral.http.context import bind_caller
from corral.http.envelope import envelope_response

OPEN_PATHS = frozenset({"/api/v1", "/api/v1/", "/api/v1/system/profile"})
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Auth:
    def __init__(self, tokens: Mapping[str, Caller]) -> None:
        self.tokens = dict(tokens)

    def _lookup(self, presented: str) -> Caller | None:
        for token, caller in self.tokens.items():
            if hmac.compare_digest(token.encode(), presented.encode()):
                return caller
        return None

    def admit(self, scope: Scope) -> ASGIApp | None:
        """Bind the caller and return None, or return the 401/403 answer."""
        path: str = scope["path"]
        if path.startswith("/internal/"):
            client = scope.get("client")
            if not client or client[0] not in LOOPBACK:
                return envelope_response(
                    403, "forbidden", "internal routes answer loopback callers only"
                )
        elif path.startswith("/api/v1") and path not in OPEN_PATHS and self.tokens:
            caller = self._lookup(_bearer(scope) or "")
            if caller is None:
                return envelope_response(
                    401,
                    "unauthorized",
                    "a valid bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="corral"'},
                )
            bind_caller(caller)
        else:
            bind_caller(ANONYMOUS)
        return None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None
