"""The error codes are one list, the `ErrorCode` schema of openapi.yaml: the server cannot
answer a code the list lacks (its domain error and error envelope take the generated
`ErrorCode` type, which mypy holds them to), and the list holds no code the server never
answers (each is written somewhere in its source). A code's status comes from one table
(`STATUS`, generated from where the spec documents the code), which the edge's status-to-code
table agrees with."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml
from mypy import api as mypy

from corral.error_codes import STATUS
from corral.http.errors import CODES

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "server" / "corral"
GENERATED = {SERVER / "models.py", SERVER / "services.py", SERVER / "error_codes.py"}


def listed_codes() -> list[str]:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    codes: list[str] = spec["components"]["schemas"]["ErrorCode"]["enum"]
    return codes


CALLS = [
    'CorralError("{code}", "m")',
    'CorralError.not_found("{code}", "thing", "x")',
    'envelope_body("{code}", "m")',
    'envelope_response("{code}", "m")',
]


def test_a_code_the_contract_does_not_list_fails_the_type_check() -> None:
    """mypy, strict as `make check` runs it, on each way of answering an error: a listed code
    passes, the same call with an unlisted code is the only error reported."""
    lines = [
        "from corral.errors import CorralError",
        "from corral.http.envelope import envelope_body, envelope_response",
    ]
    for call in CALLS:
        lines += [call.format(code="session_busy"), call.format(code="session_busy_now")]
    report, _, status = mypy.run(
        [
            "--strict",
            "--no-incremental",
            "--follow-imports",
            "silent",
            "--config-file",
            "",
            "--python-version",
            "3.11",
            "-c",
            "\n".join(lines),
        ]
    )
    rejected = [line for line in report.splitlines() if ": error: " in line]
    expected = [n for n, line in enumerate(lines, 1) if "session_busy_now" in line]
    assert status == 1 and [int(line.split(":")[1]) for line in rejected] == expected, report
    assert all("Literal['session_busy_now']" in line for line in rejected), report


def test_every_listed_code_is_one_the_server_answers() -> None:
    written: set[str] = set()
    for path in SERVER.rglob("*.py"):
        if path in GENERATED or {"api", "testing"} & set(path.relative_to(SERVER).parts):
            continue  # generated from the list, or not the server
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                written.add(node.value)
    assert [code for code in listed_codes() if code not in written] == []


def test_the_code_answering_an_http_status_has_that_status() -> None:
    """An HTTP exception of status S is answered with `CODES[S]`, whose own status is S."""
    assert {status: STATUS[code] for status, code in CODES.items()} == {s: s for s in CODES}
    assert "http_error" not in STATUS  # the one code without a status of its own
