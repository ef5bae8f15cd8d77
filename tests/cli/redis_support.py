"""Redis for the tests of processes linked through it: the shared Redis under a prefix of the
test's own, Redis servers a test starts and stops itself (to take Redis away), and what these
tests do through the API of the linked processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.exceptions import RedisError

from corral.testing.waiting import wait_for

# No process polls the database (no foreign-commit poll, no safety poll, no upkeep sweep or
# heartbeat within a test): whatever crosses between processes crossed through Redis.
NO_POLLING = {
    "CORRAL_SSE_PING_SECONDS": "1",
    "CORRAL_SSE_FOREIGN_POLL_SECONDS": "0",
    "CORRAL_REDIS_SAFETY_POLL_SECONDS": "0",
    "CORRAL_RUN_HEARTBEAT_SECONDS": "3600",
    "CORRAL_RUN_STALE_SECONDS": "7200",
}
SHARED_URL = os.environ.get("CORRAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class PrefixedRedis:
    """A Redis and the prefix of this test's channels and keys (Pub/Sub ignores db numbers,
    so the prefix is what keeps tests apart)."""

    url: str
    prefix: str
    client: redis.Redis

    def settings(self) -> dict[str, str]:
        return {"CORRAL_REDIS_URL": self.url, "CORRAL_REDIS_PREFIX": self.prefix}

    def session_channels(self) -> list[str]:
        """Channels of sessions that some process of this test listens to."""
        return list(self.client.pubsub_channels(f"{self.prefix}ev:*"))

    def listeners(self, channel: str) -> int:
        return int(self.client.pubsub_numsub(channel)[0][1])

    def connections(self) -> list[dict[str, str]]:
        """The connections of this test's processes (each names its connections after the
        prefix), as CLIENT LIST shows them."""
        return [c for c in self.client.client_list() if c["name"].startswith(self.prefix)]


def required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("CORRAL_REQUIRE_REDIS") == "1"


@contextmanager
def shared_redis() -> Iterator[PrefixedRedis]:
    """The shared Redis under a new prefix, whose keys are deleted afterwards. Unreachable:
    the test skips, or fails where Redis is required (CI=true, CORRAL_REQUIRE_REDIS=1)."""
    client = redis.Redis.from_url(SHARED_URL, decode_responses=True)
    try:
        client.ping()
    except RedisError as exc:
        client.close()
        if required():
            pytest.fail(f"Redis is required here but {SHARED_URL} is unreachable: {exc}")
        pytest.skip(f"needs Redis at {SHARED_URL} (CORRAL_TEST_REDIS_URL): {exc}")
    prefix = f"corral-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield PrefixedRedis(SHARED_URL, prefix, client)
    finally:
        if keys := list(client.scan_iter(f"{prefix}*")):
            client.delete(*keys)
        client.close()


class OwnRedis:
    """A `redis-server` of the test's own, started and killed at will. It listens on a Unix
    socket in `directory` (no TCP port to race for), which stays where it is, so processes
    pointed at it find it again."""

    def __init__(self, directory: Path) -> None:
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", "0", "--unixsocket", str(self.socket)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(unix_socket_path=str(self.socket))
        wait_for(lambda: _pings(client), what="redis-server to answer")
        client.close()

    def kill(self) -> None:
        """Gone at once, as a crash or a cut network leaves it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except RedisError:
        return False


@contextmanager
def own_redis(directory: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        if required():
            pytest.fail("Redis is required here but redis-server is not installed")
        pytest.skip("needs redis-server to start a Redis of the test's own")
    server = OwnRedis(directory)
    try:
        yield server
    finally:
        server.kill()


def new_workspace_session(api: httpx.Client) -> tuple[str, str]:
    """A new workspace and a session in it: their ids."""
    workspace = api.post("/api/v1/workspaces", json={"name": "linked", "runtime": "default"})
    assert workspace.status_code == 201, workspace.text
    workspace_id = str(workspace.json()["id"])
    session = api.post(f"/api/v1/workspaces/{workspace_id}/sessions", json={})
    assert session.status_code == 201, session.text
    return workspace_id, str(session.json()["id"])


def new_session(api: httpx.Client) -> str:
    return new_workspace_session(api)[1]


def send(api: httpx.Client, session_id: str, script: list[Any], **extra: Any) -> dict[str, Any]:
    """Post a message the scripted model answers with `script`; the 202 answer."""
    body = {"content": "go", "metadata": {"script": script}, **extra}
    resp = api.post(f"/api/v1/sessions/{session_id}/messages", json=body)
    assert resp.status_code == 202, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


def checks(api: httpx.Client) -> dict[str, str]:
    """The checks /readyz reports (`redisEvents`, `redisRunQueue`, ...)."""
    found: dict[str, str] = api.get("/readyz").json()["checks"]
    return found


def connection_ids(redis: PrefixedRedis) -> set[str]:
    return {c["id"] for c in redis.connections()}


async def open_reader(port: int, session_id: str) -> asyncio.StreamWriter:
    """A reader of the session's events, once the stream has opened."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /api/v1/sessions/{session_id}/events HTTP/1.1\r\nHost: corral\r\n\r\n"
    writer.write(request.encode())
    await reader.readuntil(b": connected\n\n")
    return writer
