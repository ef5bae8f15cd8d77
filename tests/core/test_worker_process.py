"""Whether the process a run's worker record names has ended, told from /proc and real
processes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corral.core.runs.worker_process import has_ended, identity

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _exited_worker() -> dict[str, object]:
    """The worker record of a process that has since ended (and been reaped)."""
    code = "import json, corral.core.runs.worker_process as w; print(json.dumps(w.identity()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    return dict(json.loads(done.stdout))


def test_a_live_process_has_not_ended() -> None:
    me = identity()
    assert {"pid", "pidStart", "pidSpace"} <= me.keys()
    assert not has_ended(me)


def test_an_exited_process_has_ended() -> None:
    assert has_ended(_exited_worker())


def test_a_reused_pid_is_told_apart_by_its_start_time() -> None:
    me = identity()
    assert has_ended({**me, "pidStart": int(me["pidStart"]) - 1})


def test_without_a_shared_pid_space_nothing_is_known_to_have_ended() -> None:
    gone = _exited_worker()
    assert not has_ended({**gone, "pidSpace": "another-boot/pid:[1]"})
    assert not has_ended({k: v for k, v in gone.items() if k != "pidSpace"})
    assert not has_ended({**gone, "pid": 0}) and not has_ended(None)
