"""`corral serve --port 0`: the kernel picks the port as the server binds it, and the server
says which in Corral's serving line, `corral serving on http://HOST:PORT`: on stdout, alone
there, once, whatever the log level; under `--workers N` its supervisor prints it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from processes import server_environment

from corral.testing.processes import CORRAL, ready, running, serving

MODES = [(), ("--workers", "2")]


@pytest.mark.parametrize("args", MODES)
@pytest.mark.parametrize("level", ["info", "warning"])
def test_the_serving_line_is_alone_on_stdout_and_names_where_it_answers(
    tmp_path: Path, args: tuple[str, ...], level: str
) -> None:
    env = server_environment(tmp_path, CORRAL_LOG_LEVEL=level)
    without_logs = 'exec "$0" serve --port 0 "$@" 2>/dev/null'  # stdout only
    with running("-c", without_logs, CORRAL, *args, env=env, program="sh") as server:
        url = ready(server)
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", url), url
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    assert server.output == f"corral serving on {url}\n"


def test_uvicorn_says_the_same_address_in_its_own_line(tmp_path: Path) -> None:
    with serving(env=server_environment(tmp_path)) as (url, server):
        server.expect(f"Uvicorn running on {url} ")
