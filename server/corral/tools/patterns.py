"""Glob patterns as the search tools read them, over "/"-separated relative paths.

`*` and `?` match within one name (dot files included), `**` as a whole name matches any number
of directories (`a/**/b` also matches `a/b`), `[...]` is a class (`[!...]` negated), and
`{x,y}` lists alternatives, nested or not (`*.{ts,tsx}`). Python 3.11's `fnmatch` and
`PurePath.match` know neither `**` nor braces.
"""

from __future__ import annotations

import re
from functools import lru_cache

from corral.tools.base import ToolError

MAX_ALTERNATIVES = 256  # brace expansion multiplies: {a,b}{c,d}{e,f}...
_MAGIC = re.compile(r"[*?\[{]")


def has_magic(name: str) -> bool:
    return _MAGIC.search(name) is not None


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex whose `fullmatch` tells the paths `pattern` matches."""
    alternatives = _expand_braces(pattern)
    if len(alternatives) > MAX_ALTERNATIVES:
        raise ToolError(
            "invalid_tool_input", f"the glob {pattern!r} expands to too many alternatives"
        )
    return re.compile("|".join(f"(?:{_translate(a)})" for a in alternatives), re.DOTALL)


def split_pattern(pattern: str) -> tuple[str, str]:
    """The leading directories of `pattern` without wildcards, and the rest: `src/**/*.py`
    gives (`src`, `**/*.py`), so a search walks `src` only. The last name always stays in
    the rest; `/` is kept for a pattern under the file system root."""
    parts = pattern.split("/")
    n = 0
    while n < len(parts) - 1 and not has_magic(parts[n]):
        n += 1
    base = "/".join(parts[:n])
    if pattern.startswith("/") and not base:
        base = "/"
    return base, "/".join(parts[n:])


def _expand_braces(pattern: str) -> list[str]:
    start = pattern.find("{")
    while start != -1:
        found = _brace_options(pattern, start)
        if found is not None:
            end, options = found
            head, tails = pattern[:start], _expand_braces(pattern[end + 1 :])
            return [
                head + o + t for option in options for o in _expand_braces(option) for t in tails
            ]
        start = pattern.find("{", start + 1)
    return [pattern]


def _brace_options(pattern: str, start: int) -> tuple[int, list[str]] | None:
    """The index of the `}` closing the brace at `start` and the options between them split
    at their own commas; None when it is not closed or has no comma (then it is literal)."""
    depth, options, begin = 0, [], start + 1
    for i in range(start + 1, len(pattern)):
        ch = pattern[i]
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == "}":
            options.append(pattern[begin:i])
            return (i, options) if len(options) > 1 else None
        elif ch == "," and not depth:
            options.append(pattern[begin:i])
            begin = i + 1
    return None


def _translate(pattern: str) -> str:
    names = pattern.split("/")
    out = []
    for i, name in enumerate(names):
        last = i == len(names) - 1
        if name == "**":
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_translate_name(name) + ("" if last else "/"))
    return "".join(out)


def _translate_name(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and (close := _class_end(name, i)) != -1:
            body = name[i:close].replace("\\", "\\\\")
            if body[0] in "!^":
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = close + 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _class_end(name: str, start: int) -> int:
    """The index of the `]` closing a class whose body starts at `start` (a `]` first in the
    body, after an optional `!`, is a member), or -1."""
    i = start + 1 if start < len(name) and name[start] in "!^" else start
    return name.find("]", i + 1)
