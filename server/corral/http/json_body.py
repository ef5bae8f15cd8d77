"""JSON request bodies: parsed once, at the edge, with the nesting limit of `corral.json_depth`
(which says why there is one).

The request validator parses and checks the body once and keeps the value in the ASGI scope;
the handler takes that value instead of parsing the bytes again.
"""

from __future__ import annotations

from typing import Any

from connexion.exceptions import BadRequestProblem
from starlette.types import Scope

from corral import json_depth
from corral.json_depth import MAX_DEPTH

_PARSED = "corral.json_body"  # scope key of the parsed body


def parse(raw: bytes) -> Any:
    """The body's value (None when there are no bytes); a 400 when it is not JSON or nests
    deeper than `MAX_DEPTH`."""
    if not raw:
        return None
    try:
        return json_depth.parse(raw)
    except json_depth.TooDeep:
        raise BadRequestProblem(detail=f"body nests deeper than {MAX_DEPTH} levels") from None
    except json_depth.InvalidJson as exc:
        raise BadRequestProblem(detail=f"body is not valid JSON: {exc}") from None


def keep(scope: Scope, body: Any) -> None:
    scope[_PARSED] = body


def kept(scope: Scope) -> tuple[bool, Any]:
    """(True, the body) when the validator parsed it, else (False, None)."""
    return (True, scope[_PARSED]) if _PARSED in scope else (False, None)
