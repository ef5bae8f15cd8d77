"""Who may call: bearer tokens when configured, the anonymous standalone caller otherwise.

Runs in front of Connexion (its SecurityMiddleware is not used) so standalone mode needs no
header at all and the caller, with its workspace reach, is resolved once per request.

`/internal/v1/*` (the model gateway) wants a loopback address and a credential: sandboxed
commands and same-host reverse proxies are loopback callers too. The credential is this
process's internal token (random unless `internal_token` is set, so handed to no one by
default) or an API token that reaches every workspace.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.types import ASGIApp, Scope

from corral.addresses import is_loopback
from corral.caller import ANONYMOUS, Caller
from corral.http.context import bind_caller
from corral.http.envelope import envelope_response

OPEN_PATHS = frozenset({"/api/v1", "/api/v1/", "/api/v1/system/profile"})


class Auth:
    def __init__(self, tokens: Mapping[str, Caller], *, internal_token: str) -> None:
        self.tokens = dict(tokens)
        self.internal_token = internal_token.encode()

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
            if not client or not is_loopback(client[0]):
                return envelope_response(
                    "forbidden", "internal routes answer loopback callers only"
                )
            presented = _bearer(scope) or ""
            if hmac.compare_digest(self.internal_token, presented.encode()):
                bind_caller(ANONYMOUS)
                return None
            caller = self._lookup(presented) if presented else None
            if caller is None or caller.workspace_access is not None:
                return _unauthorized(
                    "internal routes need the internal token or a token for every workspace"
                )
            bind_caller(caller)
        elif path.startswith("/api/v1") and path not in OPEN_PATHS and self.tokens:
            caller = self._lookup(_bearer(scope) or "")
            if caller is None:
                return _unauthorized("a valid bearer token is required")
            bind_caller(caller)
        else:
            bind_caller(ANONYMOUS)
        return None


def _unauthorized(message: str) -> ASGIApp:
    return envelope_response(
        "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="corral"'}
    )


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None
