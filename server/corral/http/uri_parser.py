"""Connexion's OpenAPI URI parser with its parameter schemas looked up once.

`OpenAPIURIParser.param_schemas` is a property that rebuilds a dict on every access, and
`resolve_params` reads it once per parameter of every request (and Connexion parses each request
twice: to validate it and to build the handler's arguments). Passed as `uri_parser_class`.
"""

from __future__ import annotations

from typing import Any

from connexion.uri_parsing import OpenAPIURIParser


class URIParser(OpenAPIURIParser):  # type: ignore[misc]
    def __init__(self, param_defns: Any, body_defn: Any) -> None:
        super().__init__(param_defns, body_defn)
        self._param_schemas = {k: v.get("schema", {}) for k, v in self._param_defns.items()}

    @property
    def param_schemas(self) -> dict[str, Any]:
        return self._param_schemas
