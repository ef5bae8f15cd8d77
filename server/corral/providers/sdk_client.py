"""What the two official SDK clients are given alike."""

from __future__ import annotations

from typing import Any

import httpx2

from corral.providers.config import ProviderConfig


def sdk_client_options(config: ProviderConfig) -> dict[str, Any]:
    read_s = config.read_timeout_s
    return {
        "base_url": config.base_url,
        "max_retries": 0,  # corral.providers.retry decides, knowing what was already streamed
        "timeout": httpx2.Timeout(read_s, connect=min(read_s, 10.0)),
    }
