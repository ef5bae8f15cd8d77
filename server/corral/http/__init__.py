"""The HTTP edge: everything between uvicorn and the generated handlers (no domain logic)."""
