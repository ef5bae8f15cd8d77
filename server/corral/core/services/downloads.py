"""What a download request asks for: a byte range (`Range`) and revalidation (`If-None-Match`).

Deliberately narrow, as the contract says: one range `bytes=a-b`, `bytes=a-` or `bytes=-n`;
anything else (several ranges, other units, garbage) is ignored and the whole file is sent.
"""

from __future__ import annotations

import re

from corral.errors import CorralError
from corral.sandbox.entries import etags_equal

_SINGLE_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})", re.ASCII)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """`[start, end)` to send, None for the whole file; 416 when the range misses the file."""
    match = _SINGLE_RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last n bytes
        start, end = max(size - int(last), 0), size
        if int(last) == 0:
            raise _unsatisfiable(size)
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
        if last != "" and int(last) < start:
            return None  # invalid, so ignored (RFC 9110 §14.2)
    if start >= size:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> CorralError:
    return CorralError(
        "range_not_satisfiable",
        f"the range lies outside the file ({size} bytes)",
        {"sizeBytes": size},
    )


def etag_listed(header: str | None, etag: str) -> bool:
    """`If-None-Match`: `*` or a list of etags, compared weakly."""
    candidates = header.split(",") if header else []
    return any(c.strip() == "*" or etags_equal(etag, c) for c in candidates)
