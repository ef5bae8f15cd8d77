"""Connexion's OpenAPI URI parser with its parameter schemas looked up once, and an empty
optional query parameter read as absent.

`OpenAPIURIParser.param_schemas` is a property that rebuilds a dict on every access, and
`resolve_params` reads it once per parameter of every request (and Connexion parses each request
twice: to validate it and to build the handler's arguments). Passed as `uri_parser_class`.

OAH's clients and contract send optional parameters empty (`?cursor=`, `?runId=`, `?ifMatch=`)
to mean "none": an optional parameter whose schema admits the empty string is dropped when sent
empty, before validation, so it takes its default. Any other parameter sent empty (an integer, an
enum, a required path) is still checked, and rejected by its schema.
"""

from __future__ import annotations

from typing import Any

from connexion.uri_parsing import OpenAPIURIParser

from corral.http.schemas import compiled


class URIParser(OpenAPIURIParser):  # type: ignore[misc]
    def __init__(self, param_defns: Any, body_defn: Any) -> None:
        super().__init__(param_defns, body_defn)
        self._param_schemas = {k: v.get("schema", {}) for k, v in self._param_defns.items()}
        self._empty_is_absent = {
            name
            for name, defn in self._param_defns.items()
            if defn["in"] == "query"
            and not defn.get("required", False)
            and compiled(defn.get("schema", {})).is_valid("")
        }

    @property
    def param_schemas(self) -> dict[str, Any]:
        return self._param_schemas

    def resolve_query(self, query_data: dict[str, list[str]]) -> dict[str, Any]:
        if any(not any(values) for values in query_data.values()):
            query_data = {
                name: values
                for name, values in query_data.items()
                if any(values) or name not in self._empty_is_absent
            }
        resolved: dict[str, Any] = super().resolve_query(query_data)
        return resolved
