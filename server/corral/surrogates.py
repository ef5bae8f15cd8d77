"""Text from outside the server made storable: every surrogate code point becomes U+FFFD.

A Python `str` may hold surrogates, which no UTF-8 encoder takes: a JSON parser makes one of an
escaped `\\ud800` (the model SDKs' parsers do), the OS one of each byte of a file name that is
not UTF-8 (`surrogateescape`). Kept, such text fails the write that stores it (a run failed as
`internal_error`, or never ended) or the response that serves it (a 500). So it is replaced
where it enters: model stream events and provider errors (`corral.providers.base`), tool
outcomes (`corral.tools.registry`), listed workspace entries (`corral.core.services.sandboxes`) and
catalog warnings (`corral.core.workspace.catalog`).

Where text is parsed rather than streamed, surrogates are refused instead: request bodies and
tool arguments (orjson refuses them) and workspace YAML
(`corral.core.workspace.config_files`). Process output is decoded with `errors="replace"`.

ASCII text, nearly all of it, is passed at the cost of `str.isascii` (constant time).
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with each surrogate replaced by U+FFFD; `text` itself when it has none."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def storable_json(value: Any) -> Any:
    """A JSON value (dicts, lists, scalars) with `storable` strings, keys included."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_json(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value
