"""Fixtures of the sandbox file tests: one live server for the whole directory (every test
works in a sandbox of its own) and a sandbox whose root is on disk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from corral.config import Settings
from corral.testing.live_server import live_server

T = TypeVar("T")
ADMIN_TOKEN = "sandbox-admin-token"
LIMITED_TOKEN = "sandbox-limited-token"  # reaches only the workspace ws_other


@dataclass
class Served:
    url: str
    data_dir: Path
    port: int


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("sandbox-server")
    tokens = [{"token": ADMIN_TOKEN}, {"token": LIMITED_TOKEN, "workspaces": ["ws_other"]}]
    # A limited token needs confined commands unless isolation is none on purpose; these
    # tests run no command, and must run where bwrap is missing.
    settings = Settings(
        data_dir=data_dir, validate_responses=True, api_tokens=tokens, sandbox_isolation="none"
    )
    with live_server(settings) as running:
        yield Served(running.url, data_dir, running.port)


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30, headers=auth(ADMIN_TOKEN)) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def all_at_once(count: int, task: Callable[[int], T]) -> list[T]:
    """`task(0)` … `task(count - 1)` in threads released together; their results in order."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T:
        barrier.wait()
        return task(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@dataclass
class Box:
    """A sandbox on a live server: its id, its root on disk, and a client for its routes."""

    id: str
    root: Path
    api: httpx.Client

    @property
    def base(self) -> str:
        return f"/api/v1/sandboxes/{self.id}"

    def get(self, route: str, **params: Any) -> httpx.Response:
        return self.api.get(f"{self.base}/{route}", params=params)

    def write(self, path: str, content: str, **extra: Any) -> httpx.Response:
        return self.api.put(
            f"{self.base}/files/content", json={"path": path, "content": content, **extra}
        )

    def upload(self, path: str, data: bytes, **params: Any) -> httpx.Response:
        return self.api.put(
            f"{self.base}/files/upload",
            params={"path": path, **params},
            content=data,
            headers={"content-type": "application/octet-stream"},
        )


def new_box(api: httpx.Client, name: str = "box") -> Box:
    """A sandbox of the default runtime with `real.txt` and `sub/` in its root."""
    return _furnished(api, api.post("/api/v1/sandboxes", json={"name": name, "runtime": "default"}))


def read_only_box(api: httpx.Client, served: Served, name: str) -> Box:
    """A directory imported read-only (`readOnly`), with `real.txt` and `sub/` in its root: the
    workspace Corral never writes in. The test itself may still change it on disk."""
    root = served.data_dir / "workspaces" / name
    root.mkdir(parents=True)
    body = {"rootPath": str(root), "readOnly": True}
    box = _furnished(api, api.post("/api/v1/sandboxes", json=body))
    assert api.get(f"/api/v1/workspaces/{box.id}").json()["readOnly"] is True
    return box


def _furnished(api: httpx.Client, created: httpx.Response) -> Box:
    assert created.status_code == 201, created.text
    sandbox_id = created.json()["id"]
    workspace = api.get(f"/api/v1/workspaces/{sandbox_id}").json()
    box = Box(sandbox_id, Path(workspace["rootPath"]), api)
    (box.root / "real.txt").write_text("real")
    (box.root / "sub").mkdir()
    return box


@pytest.fixture
def box(api: httpx.Client) -> Box:
    return new_box(api)


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A directory outside every workspace holding a secret, checked unchanged afterwards."""
    place = tmp_path / "outside"
    place.mkdir()
    (place / "secret.txt").write_text("top secret")
    (place / "sub").mkdir()
    before = snapshot(place)
    yield place
    assert snapshot(place) == before, "something outside the workspace changed"


def snapshot(place: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under `place` with its mode, mtime and (for files) content."""
    found: dict[str, tuple[int, int, bytes]] = {str(place): (place.lstat().st_mode, 0, b"")}
    for path in sorted(place.rglob("*")):
        st = path.lstat()
        content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
        found[str(path)] = (st.st_mode, st.st_mtime_ns, content)
    return found
