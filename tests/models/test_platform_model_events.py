"""The platform model event stream as the service produces it: a snapshot (with the reconnection
hint), keep-alives while nothing changes, and an update for every change."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.caller import ANONYMOUS, Caller
from corral.config import Settings
from corral.core.llm.platform_models import ModelRegistry
from corral.core.services.event_stream import RETRY_MS
from corral.core.services.models import ModelsService
from corral.errors import CorralError
from corral.models import PlatformModelSnapshot
from corral.results import SseFrame


async def test_keepalives_while_idle_then_the_update(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path), {})
    service = ModelsService(registry, ping_seconds=0.01)
    frames = await service.stream_platform_model_events(ANONYMOUS)

    first = await anext(frames)
    idle = await anext(frames)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.yaml").write_text("gpt: {provider: openai}\n")
    await registry.refresh()
    after = [await anext(frames) for _ in range(2)]
    await frames.aclose()

    assert (first.event, first.id) == ("platform-models.snapshot", "0")
    assert first.retry_ms == RETRY_MS
    assert PlatformModelSnapshot.model_validate_json(first.data).revision == 0
    assert idle == SseFrame.keepalive()
    update = next(f for f in after if f.event)  # a keep-alive may come first
    assert (update.event, update.id, update.retry_ms) == ("platform-models.updated", "1", None)
    assert [m.id for m in PlatformModelSnapshot.model_validate_json(update.data).items] == [
        "default",
        "gpt",
    ]


async def test_only_unrestricted_callers_reload(tmp_path: Path) -> None:
    service = ModelsService(ModelRegistry(Settings(data_dir=tmp_path), {}), ping_seconds=15)
    limited = Caller("token:team", "token", frozenset({"ws_1"}))

    with pytest.raises(CorralError) as caught:
        await service.refresh_platform_models(limited)

    assert caught.value.code == "workspace_access_denied"
    assert (await service.refresh_platform_models(ANONYMOUS)).revision == 0
