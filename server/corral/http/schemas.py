"""JSON Schema validators compiled once per schema object, for bodies and parameters."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

# Connexion builds a validator object per request; compiling the schema is what costs, so the
# compiled validator is kept per schema object (its identity is stable once the spec is loaded).
_compiled: dict[int, tuple[Any, jsonschema_rs.Draft202012Validator]] = {}


def compiled(schema: dict[str, Any]) -> jsonschema_rs.Draft202012Validator:
    hit = _compiled.get(id(schema))
    if hit is None or hit[0] is not schema:
        plain = detached(schema)
        hit = (schema, jsonschema_rs.Draft202012Validator(plain, validate_formats=False))
        _compiled[id(schema)] = hit
    return hit[1]


def detached(node: Any) -> Any:
    """A copy without the `components` Connexion grafts onto response schemas.

    Connexion resolves every $ref in place, so schemas are shared objects, then attaches the
    spec's components to a response schema (`with_definitions`): a shared schema ends up
    containing itself. Refs are already inlined, so the graft carries nothing a validator needs.
    """
    if isinstance(node, dict):
        return {
            k: detached(v)
            for k, v in node.items()
            if not (k == "components" and isinstance(v, dict) and "schemas" in v)
        }
    if isinstance(node, list):
        return [detached(v) for v in node]
    return node
