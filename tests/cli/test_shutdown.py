"""`corral serve` stops when asked even while event streams are open: uvicorn waits for open
responses, and these never end on their own, so the server ends them as it shuts down."""

from __future__ import annotations

from pathlib import Path

import httpx
from processes import server_environment

from corral.testing.processes import serving


def test_sigint_with_open_event_streams_shuts_down_cleanly(tmp_path: Path) -> None:
    env = server_environment(tmp_path, CORRAL_LOG_JSON="true")
    with (
        serving(env=env) as (url, server),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        ws = api.post("/api/v1/workspaces", json={"name": "w", "runtime": "default"}).json()
        session = api.post(f"/api/v1/workspaces/{ws['id']}/sessions", json={}).json()
        with (
            api.stream("GET", f"/api/v1/sessions/{session['id']}/events") as events,
            api.stream("GET", "/api/v1/platform-models/events") as models,
        ):
            for stream in (events, models):
                assert next(stream.iter_lines()).startswith(":")  # both are open
            server.interrupt()
            assert server.wait() in (0, 130)  # 130: uvicorn re-raises SIGINT
    assert "Application shutdown complete" in server.output, server.output
    assert "graceful shutdown exceeded" not in server.output
