"""The exact Connexion and uvicorn releases the edge was written against, checked before use.

Several modules subclass or patch those frameworks' internals: private names, the order of their
per-request work, the shape of their routers, a protocol's callbacks. Any release may change
them without notice, and what breaks then is silent (a request routed or validated
differently), not an import error. So `corral.http` compares the installed versions (the
distributions' metadata) with the pins below before any of these modules is imported, and
refuses to start with the modules to re-read.

Upgrading one: re-read each module listed with it against the new release and run the tests
(tests/api/test_routing.py holds the fast routing to Connexion's own for every path and method
of the spec; tests/cli/test_connection_guard.py drives the uvicorn protocol through real
sockets), then change the version here and in pyproject.toml, requirements/runtime.txt and
constraints.txt (tests/api/test_pinned.py keeps the four equal and the module lists complete).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import NamedTuple


class Pin(NamedTuple):
    version: str
    modules: tuple[str, ...]  # what reaches into that release's internals


PINS = {
    "connexion": Pin(
        "3.3.0",
        (
            "corral.app",  # TagResolver reads the operation's raw spec (`_operation`)
            "corral.http.connexion_speedups",
            "corral.http.fast_routing",
            "corral.http.oas31",
            "corral.http.request",
            "corral.http.request_validation",
            "corral.http.uri_parser",
        ),
    ),
    "uvicorn": Pin("0.54.0", ("corral.http.connection_guard", "corral.http.serving")),
}


def check() -> None:
    """Raise, naming the modules to re-check, if an installed version is not its pin."""
    problems = [
        f"{name} {installed} is installed, but {', '.join(pin.modules)} subclass or patch "
        f"{name} {pin.version} internals: re-check them against {installed}, then update the "
        "pin in corral/http/pinned.py"
        for name, pin in PINS.items()
        if (installed := version(name)) != pin.version
    ]
    if problems:
        raise RuntimeError("; ".join(problems))
