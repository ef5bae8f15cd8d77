"""A fake OpenAI chat-completions server, for tests and smoke runs without a network.

    with FakeOpenAI() as fake:
        fake.reply("Hello!", FakeReply(tool_calls=[FakeToolCall("Read", {"path": "a"})]))
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")

The wire is OpenAI's: `base_url` ends in `/v1`; a stream is `data: <chunk>` lines with no
`event:` line, ending in `data: [DONE]`; tool-call arguments arrive as string fragments; usage
comes last, in a chunk without choices, when `stream_options.include_usage` asks for it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from corral.providers.scripted import word_chunks
from corral.testing.fake_provider import FakeProviderServer, FakeReply, fragments

_ERROR_TYPES = {429: "rate_limit_exceeded", 401: "invalid_api_key"}


class FakeOpenAI(FakeProviderServer):
    def __init__(self, api_key: str | None = None, models: tuple[str, ...] = ("gpt-fake",)):
        super().__init__(api_key)
        self.models = models

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def env(self) -> dict[str, str]:
        """What points the SDK (and so a Corral server) at this fake."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self.api_key or "sk-fake"}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self.answer, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    async def _models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    def unanswered_tool_calls(self, body: dict[str, Any]) -> str | None:
        messages = body.get("messages") or []
        for i, message in enumerate(messages):
            if message.get("role") != "assistant" or not message.get("tool_calls"):
                continue
            answered = set()
            for follower in messages[i + 1 :]:
                if follower.get("role") != "tool":
                    break
                answered.add(follower.get("tool_call_id"))
            ids = [call.get("id") for call in message["tool_calls"]]
            if missing := [call_id for call_id in ids if call_id not in answered]:
                return (
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                    f"response messages: {', '.join(map(str, missing))}"
                )
        return None

    def error_body(self, status: int, message: str, error_type: str | None) -> dict[str, Any]:
        kind = (
            error_type
            or _ERROR_TYPES.get(status)
            or ("server_error" if status >= 500 else "invalid_request_error")
        )
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def stream_error_frame(self, reply: FakeReply) -> str:
        error = {"message": reply.error_message, "type": reply.error_type or "server_error"}
        return f"data: {json.dumps({'error': error})}\n\n"

    def stream_frames(self, reply: FakeReply, body: dict[str, Any], n: int) -> list[str]:
        head = _head(body, n, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**head, "choices": [choice]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"reasoning_content": w}) for w in word_chunks(reply.reasoning)]
        chunks += [chunk({"content": w}) for w in word_chunks(reply.text)]
        for i, call in enumerate(_tool_calls(reply, n)):
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            opening = {**call, "index": i, "function": {"name": name, "arguments": ""}}
            chunks.append(chunk({"tool_calls": [opening]}))
            chunks += [
                chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                for piece in fragments(arguments, reply.fragment_chars)
            ]
        chunks.append(chunk({}, _finish_reason(reply)))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**head, "choices": [], "usage": _usage(reply)})
        return [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]

    def completion(self, reply: FakeReply, body: dict[str, Any], n: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = _tool_calls(reply, n)
        choice = {"index": 0, "message": message, "logprobs": None}
        choice["finish_reason"] = _finish_reason(reply)
        return {**_head(body, n, "chat.completion"), "choices": [choice], "usage": _usage(reply)}


def _head(body: dict[str, Any], n: int, kind: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-fake{n}", "object": kind, "created": 0, "model": body.get("model")}


def _tool_calls(reply: FakeReply, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or f"call_fake{n}_{i}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json()},
        }
        for i, call in enumerate(reply.tool_calls)
    ]


def _finish_reason(reply: FakeReply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _usage(reply: FakeReply) -> dict[str, Any]:
    u = reply.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
    }
