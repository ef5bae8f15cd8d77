"""The provider-neutral transcript as Anthropic Messages content blocks.

Every message becomes a turn of blocks and adjacent turns of the same role are merged: the
separate tool-call messages join their assistant turn, and tool results (role `user` on
this wire) share one user turn with each other and with any user text that follows. Thinking is
replayed only with its signature (`providerOptions.anthropic`), which the API checks.
"""

from __future__ import annotations

import base64
from typing import Any

from corral.providers.base import ToolSpec
from corral.providers.content import Media, call_input, part_media, tool_output
from corral.providers.transcript_types import (
    AssistantPart,
    ModelMessage,
    ReasoningPart,
    ToolPart,
    ToolResultPart,
    UserPart,
)


def anthropic_messages(messages: list[ModelMessage]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message["role"] == "assistant" else "user"
        blocks = _blocks(message["role"], message["content"])
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


def _blocks(
    role: str, content: str | list[UserPart] | list[AssistantPart] | list[ToolPart]
) -> list[dict[str, Any]]:
    if isinstance(content, str):  # the API rejects empty text blocks
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if part["type"] == "text":
            if part["text"]:  # the API rejects empty text blocks
                blocks.append({"type": "text", "text": part["text"]})
        elif part["type"] == "image" or part["type"] == "file":
            if role == "user":
                blocks.append(_media_block(part_media(part)))
        elif part["type"] == "reasoning":
            if replayed := _thinking_block(part):
                blocks.append(replayed)
        elif part["type"] == "tool-call" and not part.get("providerExecuted"):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part["toolCallId"],
                    "name": part["toolName"],
                    "input": call_input(part),
                }
            )
        elif part["type"] == "tool-result" and role == "tool":
            blocks.append(_tool_result_block(part))
    return blocks


def _thinking_block(part: ReasoningPart) -> dict[str, Any] | None:
    signature = part.get("providerOptions", {}).get("anthropic", {}).get("signature")
    if not signature:
        return None
    return {"type": "thinking", "thinking": part["text"], "signature": signature}


def _tool_result_block(part: ToolResultPart) -> dict[str, Any]:
    result = tool_output(part["output"])
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part["toolCallId"]}
    if result.media:
        block["content"] = [
            {"type": "text", "text": p} if isinstance(p, str) else _media_block(p)
            for p in result.pieces
            if p
        ]
    else:
        block["content"] = result.text
    if result.is_error:
        block["is_error"] = True
    return block


def _media_block(m: Media) -> dict[str, Any]:
    source: dict[str, Any]
    if m.url is not None:
        source = {"type": "url", "url": m.url}
    elif m.media_type.startswith("text/"):
        text = base64.b64decode(m.data or "").decode("utf-8", errors="replace")
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        source = {"type": "base64", "media_type": m.media_type, "data": m.data}
    block: dict[str, Any] = {"type": "image" if m.is_image else "document", "source": source}
    if m.filename and not m.is_image:
        block["title"] = m.filename
    return block
