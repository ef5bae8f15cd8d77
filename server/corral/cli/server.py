"""`corral serve` (the API, executing runs too unless `run_worker` is off; with `--workers N`,
N such processes on one port under a supervisor, `http/supervisor.py`) and `corral worker` (a
process that only executes runs, beside API processes started with `CORRAL_RUN_WORKER=false`;
they share the database)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

import uvloop
from pydantic import ValidationError

from corral.config import Settings
from corral.http.logs import configure_logging

log = logging.getLogger("corral.worker")


def serve(
    host: str | None,
    port: int | None,
    workers: int | None = None,
    supervised: tuple[int, int] | None = None,
) -> None:
    """Serve in this process, or supervise `workers` server processes; `supervised`: this is
    one of them, handed its listener and control socket by descriptor (`http/supervisor.py`)."""
    given = (("host", host), ("port", port), ("workers", workers))
    settings = _settings(**{k: v for k, v in given if v is not None})
    from corral.http import supervisor

    if supervised is None and settings.workers > 1:
        sys.exit(supervisor.supervise(settings))  # it imports no app: children serve it
    from corral.http.serving import serve as serve_app

    if supervised is None:
        serve_app(settings)
    else:
        serve_app(settings, *supervisor.adopt(*supervised))


def work() -> None:
    uvloop.run(_work(_settings(run_worker=True)))


async def _work(settings: Settings) -> None:
    from corral.app import SPEC
    from corral.core.container import Core

    core = Core(settings, spec_path=SPEC, process_kind="standalone")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await core.start()
    log.info(
        "worker %s executing runs (up to %d at once)",
        core.executor.worker["id"],
        settings.run_concurrency,
    )
    try:
        await stopping.wait()
    finally:
        log.info("worker stopping: runs still executing end as failed (server_shutdown)")
        await core.stop()


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        sys.exit(f"corral: invalid settings ({problems})")
    configure_logging(settings.log_level, settings.log_json)
    return settings
