"""Reading the provider-neutral transcript the same way for every provider.

Media (`image`, `file` parts and media in tool results) may be a URL, a data URL or bare base64,
as in the AI SDK; `Media` says which. A tool result's output becomes text and media pieces plus
an error flag, which each provider then lays out in its own wire format.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from corral import json_depth
from corral.providers.base import ToolCall
from corral.providers.transcript_types import (
    AssistantPart,
    ContentItem,
    FilePart,
    ImagePart,
    JsonObject,
    ToolCallPart,
    ToolResultOutput,
    UserPart,
)

# Leading base64 characters of the image formats models accept, for parts without a mediaType.
_IMAGE_SIGNATURES = {
    "iVBORw0KGgo": "image/png",
    "/9j/": "image/jpeg",
    "R0lGOD": "image/gif",
    "UklGR": "image/webp",
}


@dataclass(frozen=True, slots=True)
class Media:
    media_type: str
    url: str | None = None  # a remote http(s) URL
    data: str | None = None  # inline base64
    filename: str | None = None

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    def as_url(self) -> str:
        return self.url or f"data:{self.media_type};base64,{self.data}"


def media(value: str, media_type: str | None, filename: str | None = None) -> Media:
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        declared = header[5:].split(";")[0] or media_type or "application/octet-stream"
        if ";base64" not in header:
            payload = base64.b64encode(unquote_to_bytes(payload)).decode()
        return Media(declared, data=payload, filename=filename)
    if value.startswith(("http://", "https://")):
        return Media(media_type or "application/octet-stream", url=value, filename=filename)
    sniffed = next((t for sig, t in _IMAGE_SIGNATURES.items() if value.startswith(sig)), None)
    return Media(media_type or sniffed or "application/octet-stream", data=value, filename=filename)


def part_media(part: ImagePart | FilePart) -> Media:
    """The media of an `image` or `file` content part."""
    if part["type"] == "image":
        return media(str(part["image"]), part.get("mediaType"))
    return media(str(part["data"]), part.get("mediaType"), part.get("filename"))


@dataclass
class PendingToolCall:
    """A streamed tool call, its arguments arriving as fragments of JSON text."""

    id: str = ""
    name: str = ""
    arguments: str = ""

    def complete(self) -> ToolCall:
        try:
            return ToolCall(self.id, self.name, parse_tool_input(self.arguments))
        except ValueError as exc:  # often arguments cut short by the output limit
            problem = (
                f"The arguments for {self.name} are not a JSON object ({exc}): "
                f"{self.arguments[:200]!r}. Call the tool again with valid arguments."
            )
            return ToolCall(self.id, self.name, self.arguments, input_error=problem)


@dataclass(frozen=True, slots=True)
class ToolOutput:
    pieces: list[str | Media]
    is_error: bool

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.pieces if isinstance(p, str))

    @property
    def media(self) -> list[Media]:
        return [p for p in self.pieces if isinstance(p, Media)]


def tool_output(output: ToolResultOutput) -> ToolOutput:
    if output["type"] == "text" or output["type"] == "error-text":
        return ToolOutput([str(output["value"])], output["type"] == "error-text")
    if output["type"] == "json" or output["type"] == "error-json":
        return ToolOutput([json.dumps(output["value"])], output["type"] == "error-json")
    if output["type"] == "execution-denied":
        reason = output.get("reason")
        return ToolOutput([f"Tool execution denied{': ' + reason if reason else '.'}"], True)
    if output["type"] == "content":
        return ToolOutput([_content_item(item) for item in output["value"] or []], False)
    return ToolOutput([json.dumps(output)], False)  # a type this server does not know


def _content_item(item: ContentItem) -> str | Media:
    if item["type"] == "text":
        return str(item.get("text", ""))
    if item["type"] == "image-data" or item["type"] == "file-data":
        return media(str(item["data"]), item.get("mediaType"), item.get("filename"))
    if item["type"] == "image-url" or item["type"] == "file-url":
        return media(str(item["url"]), item.get("mediaType"))
    # Provider-side file ids and custom items have no portable form: the model reads them as JSON.
    return json.dumps(item)


def text_of(content: str | list[UserPart] | list[AssistantPart]) -> str:
    """The text of a message's content, its text parts joined."""
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p["type"] == "text")


def parse_tool_input(raw: str) -> dict[str, Any]:
    """Tool arguments streamed as JSON text; a call without arguments has the empty object.
    Raises ValueError saying why text is not a JSON object (nesting past the limit of
    `corral.json_depth` included: such a value could be stored but never sent again)."""
    if not raw.strip():
        return {}
    parsed = json_depth.parse(raw)
    if not isinstance(parsed, dict):
        raise ValueError(f"a JSON {_JSON_TYPES.get(type(parsed), 'value')}")
    return parsed


_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def call_input(part: ToolCallPart) -> JsonObject:
    """A stored tool-call part's input as providers take it back: arguments the model got
    wrong (kept as their raw text) replay as the empty object; its error result says more."""
    value = part.get("input")
    return value if isinstance(value, dict) else {}
