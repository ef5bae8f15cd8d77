"""Lint openapi.yaml: it validates as OpenAPI 3.1, every $ref resolves, every operation loads.

Also enforces the house conventions the generators rely on: camelCase operationIds, exactly one
declared tag per operation, and a `default` error response everywhere; and keeps the error codes
one list: every code the document names (in an error response's description, or after a status
anywhere: "409 `session_busy`") is in the `ErrorCode` schema, and every code listed there is
documented with exactly one status (in an error response's description or in its own), which
every "409 `session_busy`" elsewhere agrees with: the server's error statuses are generated from
it (`gen_server.documented_statuses`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import schemathesis
import yaml
from gen_server import documented_statuses
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "put", "post", "delete", "patch")


def conventions(doc: dict) -> list[str]:
    problems = []
    tags = {t["name"] for t in doc.get("tags", [])}
    seen: set[str] = set()
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{method.upper()} {path}"
            op_id = op.get("operationId", "")
            if not re.fullmatch(r"[a-z][A-Za-z0-9]*", op_id):
                problems.append(f"{where}: operationId {op_id!r} is not camelCase")
            if op_id in seen:
                problems.append(f"{where}: duplicate operationId {op_id}")
            seen.add(op_id)
            if len(op.get("tags", [])) != 1 or op["tags"][0] not in tags:
                problems.append(f"{where}: needs exactly one declared tag")
            if "default" not in op.get("responses", {}):
                problems.append(f"{where}: no `default` error response")
    return problems


STATUS_AND_CODE = re.compile(r"\b([1-5]\d\d) `([a-z][a-z0-9_]*)`")
ANY_STATUS = {"http_error"}  # the edge's code for a status no other code names


def error_codes(doc: dict) -> list[str]:
    codes = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    documented = documented_statuses(doc)
    mentioned = {
        (code, int(status))
        for text in _descriptions(doc)
        for status, code in STATUS_AND_CODE.findall(text)
    }
    named = set(documented) | {code for code, _ in mentioned}
    problems = [
        f"error code `{c}` is named but not listed in ErrorCode" for c in sorted(named - codes)
    ]
    for code in sorted(codes):
        statuses = sorted(documented.get(code, set()))
        if len(statuses) != 1 and not (code in ANY_STATUS and code in documented):
            problems.append(f"ErrorCode `{code}` needs exactly one documented status: {statuses}")
    problems += [
        f"{status} `{code}` disagrees with its documented status {sorted(documented[code])}"
        for code, status in sorted(mentioned)
        if code in documented and code not in ANY_STATUS and documented[code] != {status}
    ]
    return problems


def _descriptions(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["description"]] if isinstance(node.get("description"), str) else []
        return found + [text for value in node.values() for text in _descriptions(value)]
    if isinstance(node, list):
        return [text for value in node for text in _descriptions(value)]
    return []


def links(doc: dict) -> list[str]:
    """Every response link names an operation that exists and only parameters it takes (the fuzz
    run's stateful phase follows them, and takes a `path.x` it does not have without a word)."""
    takes: dict[str, set[str]] = {}
    for item in doc["paths"].values():
        for method in METHODS:
            if method in item:
                params = [*item.get("parameters", []), *item[method].get("parameters", [])]
                takes[item[method]["operationId"]] = {
                    f"{p['in']}.{p['name']}" for p in (_resolved(doc, p) for p in params)
                }
    problems = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                for name, link in _resolved(doc, response).get("links", {}).items():
                    where = f"{method.upper()} {path} {status} link {name}"
                    target = link.get("operationId")
                    if target not in takes:
                        problems.append(f"{where}: no operation {target!r}")
                        continue
                    for key in link.get("parameters", {}):
                        if key not in takes[target] and not any(
                            taken.endswith(f".{key}") for taken in takes[target]
                        ):
                            problems.append(f"{where}: {target} takes no parameter {key!r}")
    return problems


def _resolved(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        target = doc
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = target
    return node


def main() -> int:
    path = ROOT / "openapi.yaml"
    doc = yaml.safe_load(path.read_text())
    if not str(doc.get("openapi", "")).startswith("3.1"):
        print("openapi.yaml must be OpenAPI 3.1", file=sys.stderr)
        return 1
    validate(doc)  # raises on any schema violation or unresolvable $ref
    problems = conventions(doc) + error_codes(doc) + links(doc)
    schema = schemathesis.openapi.from_path(str(path))
    count = 0
    for result in schema.get_all_operations():
        count += 1
        if not hasattr(result, "ok"):
            problems.append(f"schemathesis cannot load an operation: {result!r}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"openapi.yaml: OpenAPI 3.1, {count} operations, all $refs resolve")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
