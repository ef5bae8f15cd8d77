"""The HTTP edge: everything between uvicorn and the generated handlers (no domain logic)."""

from corral.http import pinned

# Before any module of the edge subclasses a framework's internals: see corral.http.pinned.
pinned.check()
