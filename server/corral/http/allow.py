"""The `Allow` header of a 405: every method the spec documents for the requested path.

Connexion builds one route per operation, so its 405s list a single method. For a path that
matches several templates (`/runs/requeue` and `/runs/{runId}`) the literal template wins, as
OpenAPI prescribes.
"""

from __future__ import annotations

import re
from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class AllowIndex:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.routes: list[tuple[int, re.Pattern[str], str]] = []
        for template, item in spec.get("paths", {}).items():
            methods = [m.upper() for m in METHODS if m in item]
            if "GET" in methods:
                methods.append("HEAD")
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            self.routes.append(
                (template.count("{"), re.compile(f"^{pattern}$"), ", ".join(methods))
            )
        self.routes.sort(key=lambda route: route[0])

    def allow(self, path: str) -> str | None:
        return next((methods for _, rx, methods in self.routes if rx.match(path)), None)
