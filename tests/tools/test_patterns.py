"""Glob patterns: what matches, and how a pattern is split for the walk."""

from __future__ import annotations

import pytest

from corral.tools.base import ToolError
from corral.tools.patterns import glob_regex, split_pattern

CASES = [
    ("*.py", ["a.py", ".hidden.py", "py.py"], ["a.pyc", "d/a.py", "a.py/x"]),
    ("**/*.py", ["a.py", "d/a.py", "d/e/f/a.py"], ["a.pyc", "d/a.txt"]),
    ("src/**/test_*.py", ["src/test_a.py", "src/x/y/test_b.py"], ["test_a.py", "src/a.py"]),
    ("a/**", ["a/b", "a/b/c"], ["a", "ab/c"]),
    ("**", ["a", "a/b/c"], []),
    ("?.md", ["a.md"], ["ab.md", "/.md"]),
    ("[ab]*.txt", ["a1.txt", "b.txt"], ["c.txt"]),
    ("[!ab]*.txt", ["c.txt"], ["a.txt"]),
    ("[]x].c", ["].c", "x.c"], ["y.c"]),
    ("*.{ts,tsx}", ["a.ts", "a.tsx"], ["a.t", "a.{ts,tsx}"]),
    ("{src,lib}/**/*.{c,h}", ["src/a.c", "lib/x/b.h"], ["doc/a.c"]),
    ("x{a,{b,c}}y", ["xay", "xby", "xcy"], ["xy"]),
    ("{single}.txt", ["{single}.txt"], ["single.txt"]),
    ("unclosed[.txt", ["unclosed[.txt"], ["unclosedx.txt"]),
    ("a+b(c).txt", ["a+b(c).txt"], ["aab(c).txt"]),
    ("**/*", ["a", "b/c"], []),
]


@pytest.mark.parametrize(("pattern", "matching", "other"), CASES)
def test_glob_regex(pattern: str, matching: list[str], other: list[str]) -> None:
    regex = glob_regex(pattern)
    for path in matching:
        assert regex.fullmatch(path), (pattern, path)
    for path in other:
        assert not regex.fullmatch(path), (pattern, path)


def test_brace_bombs_are_refused() -> None:
    with pytest.raises(ToolError) as caught:
        glob_regex("{a,b}" * 12)
    assert caught.value.code == "invalid_tool_input"


@pytest.mark.parametrize(
    ("pattern", "base", "rest"),
    [
        ("**/*.py", "", "**/*.py"),
        ("*.py", "", "*.py"),
        ("src/lib/*.py", "src/lib", "*.py"),
        ("src/**/x/*.py", "src", "**/x/*.py"),
        ("src/main.py", "src", "main.py"),
        ("/workspace/src/*.py", "/workspace/src", "*.py"),
        ("/*.py", "/", "*.py"),
        ("../*.py", "..", "*.py"),
    ],
)
def test_split_pattern(pattern: str, base: str, rest: str) -> None:
    assert split_pattern(pattern) == (base, rest)
