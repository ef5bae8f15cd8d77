"""Reads of one statement without a transaction around them, for every SQL backend.

A single statement already reads one consistent snapshot (its implicit transaction), so a read
fn first runs on a bare connection: no BEGIN and no ROLLBACK, which on SQLite is a quarter of an
inline point read (~4.5 of ~18 us) and on PostgreSQL two of its three round trips. Its second
statement stops it (`SecondStatement`) and the fn reruns inside a real read transaction (read fns
are side-effect free); fns seen doing that (by code object) start there next time, and so do
callables without a code object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..base import Tx
from .units import checked

T = TypeVar("T")


class SecondStatement(BaseException):  # not Exception: a fn's own handlers must not catch it
    """A read fn issued a second statement outside a transaction."""


class OneStatement:
    """Counts a bare read's statements: a backend's single-statement Tx calls `next()` before
    each one."""

    __slots__ = ("_issued",)

    def __init__(self) -> None:
        self._issued = False

    def next(self) -> None:
        if self._issued:
            raise SecondStatement
        self._issued = True


class SnapshotReads:
    def __init__(self) -> None:
        self._multi_statement: set[object] = set()  # read fns' __code__ that needed BEGIN

    def run(self, fn: Callable[[Tx], T], bare: Callable[[], Tx], begun: Callable[[], Tx]) -> T:
        """fn in one consistent snapshot: on `bare()` (a Tx whose second statement raises
        SecondStatement) first when it may be a single statement, else on `begun()` (a Tx in a
        read transaction begun for it). The caller ends that transaction, if any."""
        code = getattr(fn, "__code__", None)  # other callables: no stable identity, no guessing
        if code is not None and code not in self._multi_statement:
            try:
                return checked(fn(bare()))
            except SecondStatement:
                self._multi_statement.add(code)
        return checked(fn(begun()))
