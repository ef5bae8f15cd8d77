"""The provider-neutral transcript as OpenAI chat-completions messages.

The transcript stores every tool call as its own assistant message and every result as its own
`tool` message; the wire wants one assistant message carrying all the calls of a turn, so
consecutive assistant messages are merged. Tool messages can hold text only: media a tool
returned (an image it read) follow the results in one user message, so the model still sees them.
"""

from __future__ import annotations

import json
from typing import Any

from corral.providers.base import ToolSpec
from corral.providers.content import Media, call_input, part_media, tool_output
from corral.providers.transcript_types import AssistantPart, ModelMessage, ToolPart, UserPart


def chat_messages(system: str | None, messages: list[ModelMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    tool_media: list[Media] = []
    for message in messages:
        if message["role"] != "tool" and tool_media:
            out.append(_tool_media_message(tool_media))
            tool_media = []
        if message["role"] == "user":
            out.append({"role": "user", "content": _user_content(message["content"])})
        elif message["role"] == "assistant":
            _merge_assistant(out, message["content"])
        elif message["role"] == "tool":
            tool_media += _add_tool_results(out, message["content"])
    if tool_media:
        out.append(_tool_media_message(tool_media))
    return out


def chat_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _user_content(content: str | list[UserPart]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [
        {"type": "text", "text": p["text"]} if p["type"] == "text" else _media_part(part_media(p))
        for p in content
    ]


def _media_part(m: Media) -> dict[str, Any]:
    if m.is_image:
        return {"type": "image_url", "image_url": {"url": m.as_url()}}
    if m.data is None:  # chat completions take files inline only
        return {"type": "text", "text": f"[file {m.filename or ''} ({m.media_type}): {m.url}]"}
    return {"type": "file", "file": {"file_data": m.as_url(), "filename": m.filename or "file"}}


def _merge_assistant(out: list[dict[str, Any]], content: str | list[AssistantPart]) -> None:
    parts: list[AssistantPart] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else content
    )
    text = "".join(p["text"] for p in parts if p["type"] == "text")
    calls = [
        {
            "id": p["toolCallId"],
            "type": "function",
            "function": {"name": p["toolName"], "arguments": json.dumps(call_input(p))},
        }
        for p in parts
        if p["type"] == "tool-call" and not p.get("providerExecuted")
    ]
    if not text and not calls:  # reasoning alone cannot be replayed to chat completions
        return
    if not out or out[-1]["role"] != "assistant":
        out.append({"role": "assistant", "content": None})
    merged = out[-1]
    if text:
        merged["content"] = (merged["content"] or "") + text
    if calls:
        merged.setdefault("tool_calls", []).extend(calls)


def _add_tool_results(out: list[dict[str, Any]], content: list[ToolPart]) -> list[Media]:
    media: list[Media] = []
    for part in content:
        if part["type"] != "tool-result":
            continue
        result = tool_output(part["output"])
        out.append({"role": "tool", "tool_call_id": part["toolCallId"], "content": result.text})
        media += result.media
    return media


def _tool_media_message(media: list[Media]) -> dict[str, Any]:
    intro = {"type": "text", "text": "Media returned by the tool calls above:"}
    return {"role": "user", "content": [intro, *(_media_part(m) for m in media)]}
