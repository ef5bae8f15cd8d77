"""The models endpoints against a live server: platform models listed, refreshed and watched,
and the loopback gateway generating and streaming text through the real providers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral import models
from corral.core.services.event_stream import RETRY_MS
from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.fake_provider import FakeReply, FakeUsage
from corral.testing.waiting import wait_for

GENERATE = "/internal/v1/models/generate"
STREAM = "/internal/v1/models/stream"

MODELS_YAML = """\
echo:
  provider: scripted
  contextWindowTokens: 4096
  metadata: {tier: demo}
scripted:
  provider: scripted
  default: true
  options: {script: ["Bonjour tout le monde !"]}
broken:
  provider: scripted
  options: {script: [{error: {message: "model overloaded", retryable: false}}]}
secret:
  provider: openai
  name: gpt-4.1
  key: sk-never-shown
  url: http://127.0.0.1:9/v1
"""


CHAT = {
    "temperature": 0.5,
    "maxTokens": 32,
    "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hello"}],
}


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model follows the server's environment: keep this machine's keys out."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "platform-models"
    directory.mkdir()
    (directory / "models.yaml").write_text(MODELS_YAML)
    return directory


@pytest.fixture
def api(start_server: Callable[..., Any], models_dir: Path) -> Iterator[httpx.Client]:
    with gateway(start_server(models_dir=models_dir)) as client:
        yield client


def gateway(server: Any) -> httpx.Client:
    """A client of `server` that the model gateway (`/internal/v1`) lets in."""
    return server.client(server.core.internal_token)


def sse_frames(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Parsed frames (`{"event", "data", "id"?}`); comment lines are skipped."""
    frame: dict[str, str] = {}
    for line in lines:
        if not line:
            if frame:
                yield frame
            frame = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            frame[field] = value


def test_lists_platform_models_without_their_keys(api: httpx.Client) -> None:
    resp = api.get("/api/v1/platform-models")

    assert resp.status_code == 200, resp.text
    assert "sk-never-shown" not in resp.text
    assert resp.json()["items"] == [
        {
            "id": "broken",
            "provider": "scripted",
            "modelName": "broken",
            "hasKey": False,
            "isDefault": False,
        },
        {
            "id": "echo",
            "provider": "scripted",
            "modelName": "echo",
            "hasKey": False,
            "contextWindowTokens": 4096,
            "metadata": {"tier": "demo"},
            "isDefault": False,
        },
        {
            "id": "scripted",
            "provider": "scripted",
            "modelName": "scripted",
            "hasKey": False,
            "isDefault": True,
        },
        {
            "id": "secret",
            "provider": "openai",
            "modelName": "gpt-4.1",
            "url": "http://127.0.0.1:9/v1",
            "hasKey": True,
            "isDefault": False,
        },
    ]


def test_without_models_the_default_is_the_scripted_model(
    start_server: Callable[..., Any], tmp_path: Path
) -> None:
    with gateway(start_server(models_dir=tmp_path / "none")) as api:
        items = api.get("/api/v1/platform-models").json()["items"]
        reply = api.post(GENERATE, json={"prompt": "ping"}).json()

    assert items == [
        {
            "id": "default",
            "provider": "scripted",
            "modelName": "scripted",
            "hasKey": False,
            "isDefault": True,
        }
    ]
    assert reply["model"] == "default"
    assert reply["text"].endswith("You said: ping")


def test_refresh_reloads_and_the_event_stream_follows(api: httpx.Client, models_dir: Path) -> None:
    watcher = httpx.Client(base_url=str(api.base_url), timeout=10)
    with watcher, watcher.stream("GET", "/api/v1/platform-models/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache, no-transform"
        frames = sse_frames(stream.iter_lines())
        first = next(frames)

        unchanged = api.post("/api/v1/platform-models/refresh")
        (models_dir / "more.yml").write_text("extra: {provider: anthropic}\n")
        changed = api.post("/api/v1/platform-models/refresh")
        second = next(frames)

    assert (unchanged.status_code, unchanged.json()["revision"]) == (200, 0)
    assert changed.status_code == 200
    assert changed.json()["revision"] == 1
    assert "extra" in [m["id"] for m in changed.json()["items"]]
    assert (first["event"], first["id"]) == ("platform-models.snapshot", "0")
    assert (second["event"], second["id"]) == ("platform-models.updated", "1")
    snapshot = models.PlatformModelSnapshot.model_validate_json(second["data"])
    assert snapshot.model_dump(by_alias=True, exclude_none=True) == changed.json()
    assert len(models.PlatformModelSnapshot.model_validate_json(first["data"]).items) == 4


def test_the_model_stream_suggests_a_retry_and_keeps_alive_as_configured(
    start_server: Callable[..., Any], tmp_path: Path
) -> None:
    """`sse_ping_seconds` reaches this stream too: at the default 15 s no keep-alive would come
    before the client's read timeout (10 s) and this test would fail."""
    server = start_server(models_dir=tmp_path / "none", sse_ping_seconds=0.05)
    with server.client() as api, api.stream("GET", "/api/v1/platform-models/events") as stream:
        lines = []
        for line in stream.iter_lines():
            lines.append(line)
            if line == ": ping":
                break

    assert lines[-1] == ": ping"  # the stream did not just end
    assert lines[:2] == [": connected", ""]
    fields = [line for line in lines if line.startswith(("id:", "retry:", "event:"))]
    assert fields == ["id: 0", f"retry: {RETRY_MS}", "event: platform-models.snapshot"]


def test_generate_with_the_default_model(api: httpx.Client) -> None:
    resp = api.post(GENERATE, json={"prompt": "Say hello in French.", "maxTokens": 32})

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["model"], body["text"], body["finishReason"]) == (
        "scripted",
        "Bonjour tout le monde !",
        "stop",
    )
    usage = body["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_generate_with_chat_messages(api: httpx.Client) -> None:
    resp = api.post(
        GENERATE,
        json={
            "model": "echo",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "second"},
            ],
            "prompt": "third",
        },
    )

    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "echo"
    assert resp.json()["text"].endswith("You said: third")


def test_stream_text_deltas(api: httpx.Client) -> None:
    with api.stream("POST", STREAM, json={"prompt": "hi"}) as stream:
        assert stream.status_code == 200
        frames = list(sse_frames(stream.iter_lines()))

    events = [f["event"] for f in frames]
    assert events[0] == "response.started" and events[-1] == "response.completed"
    assert set(events[1:-1]) == {"text.delta"} and len(events) > 3  # one delta per word
    data = [json.loads(f["data"]) for f in frames]
    assert data[0] == {"model": "scripted"}
    assert "".join(d["delta"] for d in data[1:-1]) == "Bonjour tout le monde !"
    assert data[-1]["model"] == "scripted" and data[-1]["finishReason"] == "stop"
    assert data[-1]["usage"]["outputTokens"] > 0


def test_a_provider_failure(api: httpx.Client) -> None:
    resp = api.post(GENERATE, json={"model": "broken", "prompt": "hi"})
    with api.stream("POST", STREAM, json={"model": "broken", "prompt": "hi"}) as stream:
        frames = list(sse_frames(stream.iter_lines()))

    assert resp.status_code == 502
    error = resp.json()["error"]
    assert (error["code"], error["message"]) == ("model_stream_failed", "model overloaded")
    assert error["details"] == {"model": "broken"}
    assert [f["event"] for f in frames] == ["response.started", "response.failed"]
    assert json.loads(frames[1]["data"]) == {"model": "broken", "message": "model overloaded"}


@pytest.mark.parametrize("path", [GENERATE, STREAM])
def test_an_unknown_model_is_a_404_before_any_stream(api: httpx.Client, path: str) -> None:
    resp = api.post(path, json={"model": "nope", "prompt": "hi"})

    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["code"] == "model_not_found"


# -- real providers through their SDKs, against the fakes ----------------------------------


def test_an_openai_platform_model_at_its_url(
    start_server: Callable[..., Any], tmp_path: Path
) -> None:
    with FakeOpenAI(api_key="sk-test") as fake:
        (tmp_path / "m.yaml").write_text(
            f"gpt: {{provider: openai, name: gpt-fake, key: sk-test, url: '{fake.base_url}'}}\n"
        )
        fake.reply(
            FakeReply(text="Bonjour !", usage=FakeUsage(input_tokens=14, output_tokens=3)),
            "Salut",
            FakeReply.error(400, "the model does not exist"),
        )
        with gateway(start_server(models_dir=tmp_path)) as api:
            generated = api.post(GENERATE, json=CHAT | {"model": "gpt"})
            with api.stream("POST", STREAM, json={"model": "gpt", "prompt": "Hi"}) as stream:
                frames = list(sse_frames(stream.iter_lines()))
            failed = api.post(GENERATE, json={"model": "gpt", "prompt": "Hi"})

    assert generated.status_code == 200, generated.text
    assert generated.json() == {
        "model": "gpt",
        "text": "Bonjour !",
        "finishReason": "stop",
        "usage": {"inputTokens": 14, "outputTokens": 3, "totalTokens": 17},
    }
    sent = fake.requests[0]
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-fake"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hello"},
    ]
    assert (sent.body["temperature"], sent.body["max_completion_tokens"]) == (0.5, 32)
    deltas = [json.loads(f["data"])["delta"] for f in frames if f["event"] == "text.delta"]
    assert "".join(deltas) == "Salut"
    assert frames[-1]["event"] == "response.completed"
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "model_stream_failed"
    assert "the model does not exist" in failed.json()["error"]["message"]


@pytest.mark.parametrize("fake_server", [FakeOpenAI, FakeAnthropic])
def test_the_default_model_follows_the_provider_key_in_the_environment(
    start_server: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_server: type[FakeOpenAI | FakeAnthropic],
) -> None:
    with fake_server() as fake:
        for name, value in fake.env().items():  # the key, and the base URL the SDK reads
            monkeypatch.setenv(name, value)
        fake.reply("From the environment's provider.")
        server = start_server(
            models_dir=tmp_path / "none",
            default_openai_model="gpt-env",
            default_anthropic_model="claude-env",
        )
        with gateway(server) as api:
            listed = api.get("/api/v1/platform-models").json()["items"]
            generated = api.post(GENERATE, json={"prompt": "Hi"})

    provider, model_name = (
        ("openai", "gpt-env")
        if fake_server is FakeOpenAI
        else (
            "anthropic",
            "claude-env",
        )
    )
    assert listed == [
        {
            "id": "default",
            "provider": provider,
            "modelName": model_name,
            "hasKey": True,
            "isDefault": True,
        }
    ]
    assert generated.json()["text"] == "From the environment's provider."
    assert fake.requests[0].body["model"] == model_name


def test_a_client_that_leaves_the_stream_stops_the_provider_request(
    start_server: Callable[..., Any], tmp_path: Path
) -> None:
    with FakeOpenAI() as fake:
        (tmp_path / "m.yaml").write_text(
            f"gpt: {{provider: openai, key: sk-test, url: '{fake.base_url}'}}\n"
        )
        fake.reply(FakeReply(text="word " * 50, chunk_delay_s=0.2))
        with gateway(start_server(models_dir=tmp_path)) as api:
            with api.stream("POST", STREAM, json={"model": "gpt", "prompt": "Hi"}) as stream:
                frames = sse_frames(stream.iter_lines())
                assert next(frames)["event"] == "response.started"
                assert next(frames)["event"] == "text.delta"

            wait_for(lambda: fake.disconnects == 1)
