"""The provider-neutral transcript as types: the role bodies and content parts of
docs/contract.md#message-bodies (the AI SDK's `ModelMessage`), exactly as they are stored and sent.

They are TypedDicts, so a message stays the plain JSON dict the store holds and the events carry:
nothing is converted on the run path, and mypy checks what the core builds and what each
provider reads. Messages and parts are unions tagged by `role` and `type`: comparing the tag
narrows to the one shape. Stored content comes back from the store untyped; it was validated
against the spec (user content) or built with these types (everything the runtime writes).

Only the parts a provider acts on carry their fields; the rest (`tool-approval-*`) are listed
so that a transcript holding them is still well typed, and each provider skips them.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

JsonObject = dict[str, Any]


class AnthropicOptions(TypedDict, total=False):
    signature: str  # a thinking block's signature, replayed verbatim


class ProviderOptions(TypedDict, total=False):
    anthropic: AnthropicOptions


class TextPart(TypedDict):
    type: Literal["text"]
    text: str
    providerOptions: NotRequired[ProviderOptions]


class ImagePart(TypedDict):
    type: Literal["image"]
    image: str  # a URL, a data URL or bare base64
    mediaType: NotRequired[str]
    providerOptions: NotRequired[ProviderOptions]


class FilePart(TypedDict):
    type: Literal["file"]
    data: str  # a URL, a data URL or bare base64
    mediaType: str
    filename: NotRequired[str]
    providerOptions: NotRequired[ProviderOptions]


class ReasoningPart(TypedDict):
    type: Literal["reasoning"]
    text: str
    providerOptions: NotRequired[ProviderOptions]


class ToolCallPart(TypedDict):
    type: Literal["tool-call"]
    toolCallId: str
    toolName: str
    # The parsed arguments, or the raw text of arguments that are not a JSON object.
    input: JsonObject | str
    providerExecuted: NotRequired[bool]
    providerOptions: NotRequired[ProviderOptions]


class TextOutput(TypedDict):
    type: Literal["text", "error-text"]
    value: str


class JsonOutput(TypedDict):
    type: Literal["json", "error-json"]
    value: Any  # any JSON value


class DeniedOutput(TypedDict):
    type: Literal["execution-denied"]
    reason: NotRequired[str]


class TextItem(TypedDict):
    type: Literal["text"]
    text: str


class DataItem(TypedDict):
    type: Literal["image-data", "file-data"]
    data: str  # base64
    mediaType: str
    filename: NotRequired[str]


class UrlItem(TypedDict):
    type: Literal["image-url", "file-url"]
    url: str
    mediaType: NotRequired[str]


class OpaqueItem(TypedDict):
    """A provider-side file id or a custom item: no portable form, the model reads it as JSON."""

    type: Literal["file-id", "image-file-id", "custom"]


ContentItem = TextItem | DataItem | UrlItem | OpaqueItem


class ContentOutput(TypedDict):
    type: Literal["content"]
    value: list[ContentItem]


ToolResultOutput = TextOutput | JsonOutput | DeniedOutput | ContentOutput


class ToolResultPart(TypedDict):
    type: Literal["tool-result"]
    toolCallId: str
    toolName: str
    output: ToolResultOutput
    providerOptions: NotRequired[ProviderOptions]


class ToolApprovalRequestPart(TypedDict):
    type: Literal["tool-approval-request"]
    approvalId: str
    toolCallId: str


class ToolApprovalResponsePart(TypedDict):
    type: Literal["tool-approval-response"]
    approvalId: str
    approved: bool
    reason: NotRequired[str]
    providerExecuted: NotRequired[bool]


UserPart = TextPart | ImagePart | FilePart
AssistantPart = (
    TextPart | FilePart | ReasoningPart | ToolCallPart | ToolResultPart | ToolApprovalRequestPart
)
ToolPart = ToolResultPart | ToolApprovalResponsePart


class UserMessage(TypedDict):
    role: Literal["user"]
    content: str | list[UserPart]


class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: str | list[AssistantPart]


class ToolMessage(TypedDict):
    role: Literal["tool"]
    content: list[ToolPart]


# System messages travel in the request's system prompt, never in its messages.
ModelMessage = UserMessage | AssistantMessage | ToolMessage
