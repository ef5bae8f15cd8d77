"""Per-request context the edge middleware resolves before a handler runs."""

from __future__ import annotations

from contextvars import ContextVar

from corral.caller import ANONYMOUS, Caller

_caller: ContextVar[Caller] = ContextVar("corral_caller", default=ANONYMOUS)


def bind_caller(caller: Caller) -> None:
    _caller.set(caller)


def current_caller() -> Caller:
    return _caller.get()
