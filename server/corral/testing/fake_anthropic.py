"""A fake Anthropic Messages server, for tests and smoke runs without a network.

    with FakeAnthropic() as fake:
        fake.reply(FakeReply(reasoning="Let me look.", tool_calls=[FakeToolCall("LS", {})]))
        client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="sk-ant-test")

The wire is Anthropic's: `base_url` is the origin (the SDK adds `/v1/messages`); every stream
event has an `event: <type>` line matching its data's `type` (the SDK drops events without
one), and there is no `[DONE]`: `message_stop` ends the stream. Tool input arrives as
`input_json_delta` fragments; a thinking block ends with its `signature_delta`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.routing import BaseRoute, Route

from corral.providers.scripted import word_chunks
from corral.testing.fake_provider import FakeProviderServer, FakeReply, FakeToolCall, fragments

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeProviderServer):
    @property
    def base_url(self) -> str:
        return self.origin

    def env(self) -> dict[str, str]:
        """What points the SDK (and so a Corral server) at this fake."""
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": self.api_key or "fake"}

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/messages", self.answer, methods=["POST"])]

    def unanswered_tool_calls(self, body: dict[str, Any]) -> str | None:
        messages = body.get("messages") or []
        for i, message in enumerate(messages):
            used = [b.get("id") for b in _blocks_of(message, "assistant", "tool_use")]
            if not used:
                continue
            following = messages[i + 1] if i + 1 < len(messages) else {}
            answered = {b.get("tool_use_id") for b in _blocks_of(following, "user", "tool_result")}
            if missing := [u for u in used if u not in answered]:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message."
                )
        return None

    def error_body(self, status: int, message: str, error_type: str | None) -> dict[str, Any]:
        kind = (
            error_type
            or _ERROR_TYPES.get(status)
            or ("api_error" if status >= 500 else "invalid_request_error")
        )
        return {"type": "error", "error": {"type": kind, "message": message}}

    def stream_error_frame(self, reply: FakeReply) -> str:
        body = self.error_body(500, reply.error_message, reply.error_type or "overloaded_error")
        return _event(body)

    def stream_frames(self, reply: FakeReply, body: dict[str, Any], n: int) -> list[str]:
        message = {**self.completion(reply, body, n), "content": [], "stop_reason": None}
        message["usage"] = {**message["usage"], "output_tokens": 1}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
        events.append({"type": "ping"})
        blocks = _blocks(reply, n)
        # The tool blocks come last, one for each of the reply's calls.
        calls: list[FakeToolCall | None] = [None] * (len(blocks) - len(reply.tool_calls))
        calls += reply.tool_calls
        for index, (block, call) in enumerate(zip(blocks, calls, strict=True)):
            events += _block_events(index, block, reply.fragment_chars, call)
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": reply.usage.output_tokens},
            }
        )
        events.append({"type": "message_stop"})
        return [_event(e) for e in events]

    def completion(self, reply: FakeReply, body: dict[str, Any], n: int) -> dict[str, Any]:
        u = reply.usage
        return {
            "id": f"msg_fake{n}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": _blocks(reply, n),
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_read_input_tokens": u.cache_read_tokens,
                "cache_creation_input_tokens": u.cache_write_tokens,
            },
        }


def _blocks(reply: FakeReply, n: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.reasoning:
        blocks.append(
            {"type": "thinking", "thinking": reply.reasoning, "signature": reply.signature}
        )
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    blocks += [
        {"type": "tool_use", "id": c.id or f"toolu_fake{n}_{i}", "name": c.name, "input": c.input}
        for i, c in enumerate(reply.tool_calls)
    ]
    return blocks


def _blocks_of(message: dict[str, Any], role: str, kind: str) -> list[dict[str, Any]]:
    content = message.get("content") if message.get("role") == role else None
    return [b for b in content if b.get("type") == kind] if isinstance(content, list) else []


def _block_events(
    index: int, block: dict[str, Any], fragment_chars: int, call: FakeToolCall | None
) -> list[dict[str, Any]]:
    """A whole content block as the stream sends it: an empty start, deltas, a stop."""
    kind = block["type"]
    start: dict[str, Any]
    deltas: list[dict[str, Any]]
    if kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": w} for w in word_chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": w} for w in word_chunks(block["text"])]
    else:
        start = {**block, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in fragments(call.arguments_json() if call else "{}", fragment_chars)
        ]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _stop_reason(reply: FakeReply) -> str:
    return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")


def _event(data: dict[str, Any]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"
