"""A run on a workspace model sends none of the server's secrets, end to end: a live server with
provider keys (and the SDKs' other variables) in its environment, a workspace whose
`.corral/models/*.yaml`, written through the API as an agent could, names no key and points
`url` at a recording fake, and a message to a session on that model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from runs_support import create_session, create_workspace, messages, send, text_of, write_file

from corral.testing.fake_anthropic import FakeAnthropic
from corral.testing.fake_openai import FakeOpenAI
from corral.testing.waiting import wait_for_run

SECRET = "server-secret"
SERVER_ENVIRONMENT = {
    "OPENAI_API_KEY": f"sk-{SECRET}-openai",
    "OPENAI_ORG_ID": f"org-{SECRET}",
    "OPENAI_PROJECT_ID": f"proj-{SECRET}",
    "OPENAI_CUSTOM_HEADERS": f"X-Gateway-Token: {SECRET}-openai-gateway",
    "ANTHROPIC_API_KEY": f"sk-ant-{SECRET}",
    "ANTHROPIC_CUSTOM_HEADERS": f"X-Gateway-Token: {SECRET}-anthropic-gateway",
}


@pytest.mark.parametrize("key", ["", ", key: ''"], ids=["no key", "empty key"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "openai-compatible"])
def test_a_run_on_a_workspace_model_spends_no_server_secret(
    runner: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, provider: str, key: str
) -> None:
    tenant = FakeAnthropic() if provider == "anthropic" else FakeOpenAI()
    # The SDKs' base URL variables lead to a recorder too: the platform's endpoint.
    with tenant, FakeOpenAI() as platform:
        for name, value in SERVER_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("OPENAI_BASE_URL", platform.base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", f"{platform.origin}/anthropic")
        model = f"tenant: {{provider: {provider}, name: m, url: '{tenant.base_url}'{key}}}\n"
        with runner().client() as api:
            workspace_id = create_workspace(api)["id"]
            write_file(api, workspace_id, ".corral/models/tenant.yaml", model)
            session = create_session(api, workspace_id, modelRef="workspace/tenant")
            run = wait_for_run(api, send(api, session["id"], "hi")["runId"])
            answer = text_of(messages(api, session["id"])[-1])

    assert run["status"] == "completed", run
    assert answer == "Fake reply to: hi"
    assert tenant.requests and tenant.carrying(SECRET) == []
    assert platform.requests == []
