"""Commands a workspace declares (an action's, a hook's), run as the Bash tool runs its own:
`/bin/sh -c` in the workspace's sandbox, with a JSON payload on stdin."""

from __future__ import annotations

from collections.abc import Mapping

from corral.errors import CorralError
from corral.sandbox.process import NOT_EXECUTABLE_EXIT, CommandOutcome, Sandbox

FAILURE_TAIL_CHARS = 500  # of stderr (else stdout) quoted when a command fails


async def run_declared(
    sandbox: Sandbox, command: str, payload: str, env: Mapping[str, str], timeout_s: float
) -> CommandOutcome:
    """The command to its end. One no process could take (a NUL byte, too long) ends like a
    command that cannot be executed, not as an error of the caller."""
    try:
        return await sandbox.run(
            ["/bin/sh", "-c", command], stdin=payload, timeout_s=timeout_s, env=dict(env)
        )
    except CorralError as exc:
        return CommandOutcome("", exc.message, NOT_EXECUTABLE_EXIT)


def exit_failure(what: str, exit_code: int, stdout: str, stderr: str) -> str | None:
    """ "the <what> exited with N: <the end of its stderr>", or None when it exited 0."""
    if exit_code == 0:
        return None
    tail = (stderr.strip() or stdout.strip())[-FAILURE_TAIL_CHARS:]
    message = f"the {what} exited with {exit_code}"
    return f"{message}: {tail}" if tail else message
