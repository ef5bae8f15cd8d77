"""`corral serve --workers N`: a supervisor process binds the listening socket once and keeps N
server processes serving it, each a whole Corral API process (`http/serving.py`) with its own
core, executor (unless `run_worker` is off), worker id and metrics.

One socket bound here and handed to every child (`pass_fds`), rather than SO_REUSEPORT (each
child binding its own):
- the port is bound once, by the supervisor, before any child starts: a port in use (another
  server, a second `corral serve`) ends it at once, non-zero, saying so. With SO_REUSEPORT a
  second server of the same user would quietly share the port and take part of its connections;
- the children share one accept queue: connections waiting there when a child dies are taken
  by its siblings, where SO_REUSEPORT hashes each connection to one child's own queue and
  drops those queued at a child that dies.
What it costs: nothing assigns connections to children; whichever is free to accept first takes
the next one, so a busy child takes fewer (measured under wrk with 50 keep-alive connections on
2 cores: the two children spent 5.1 and 4.6 CPU seconds, 8.1 and 7.9 in another round).

With `--port 0` the kernel picks the port at that one bind; the children are told the port it
picked, and the supervisor prints the serving line (`http/serving_line.py`) once the first of
them serves.

Not uvicorn's own `--workers` supervisor (`uvicorn.supervisors.Multiprocess`): it pickles its
Config into spawned children, which Corral's guarded protocol (`ConnectionGuard.protocol()`, a
class built per process, its counters in that process's metrics) cannot travel in; its children
run a plain `uvicorn.Server`, which does not end the event streams at shutdown (each open stream
would hold the stop for the whole grace period); and it restarts a dead child at once, with no
back-off.

Each child gets a control socket (a socketpair) besides the listener: it writes one byte once
it serves (its core has started: migrations, orphan reaping, run recovery done), and it stops
when it reads end of file there, which is the supervisor gone (killed with SIGKILL), so no
server outlives its supervisor holding the port. Both descriptors are made non-inheritable in
the child at once: no sandbox command gets the API's socket. Children run in their own process
group, so a terminal's Ctrl-C reaches the supervisor alone, which forwards it once: SIGTERM to
every child on the first SIGINT or SIGTERM (each stops as a single server does: streams ended,
runs still executing ended as `server_shutdown`), SIGINT on a second SIGINT (uvicorn's forced
quit, as a second Ctrl-C is for one server), SIGKILL to those still alive `STOP_TIMEOUT_S` later.

A child that ends unexpectedly is replaced after a back-off (`FIRST_DELAY_S`, doubling up to
`MAX_DELAY_S` while replacements die within `STABLE_S`), logged with how it ended. A child that
ends before it serves is a start failure: before any child has served (bad settings, a data dir
it cannot use, a sandbox that cannot confine commands), or `MAX_START_FAILURES` times in a row
afterwards, the supervisor stops the others and exits 1, the child's own error just above in
the log, instead of looping.

Metrics stay per process: /metrics answers with the figures of whichever child took the
connection, as /healthz does with its worker. prometheus_client's multiprocess mode was not
taken: it changes how every metric value is kept, for the whole interpreter, from an environment
variable read at import; it needs a mode per gauge and the files of dead processes cleaned up;
and it cannot carry the connection guard's collector (live counts of one process), so one
/metrics would mix totals over all children with one child's figures.

N children starting at once on a fresh data dir is safe: each migration step re-reads the
schema version under SQLite's write lock (`store/sqlite/migrate.py`); the process-group ledger
kills only groups whose owning process has ended (`sandbox/group_ledger.py`: a sibling is alive,
and is its own owner, so its commands are spared, while a dead child's are ended by whoever
starts next); run recovery takes, in one write, only runs whose worker process has ended or
whose heartbeat is stale, so a sibling's runs are left alone and a dead child's are recovered
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys

from corral.config import Settings
from corral.http.serving_line import address, announce

BACKLOG = 2048  # uvicorn's default
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
STABLE_S = 60.0  # a child that served this long before it ended starts the back-off anew
MAX_START_FAILURES = 3
# After SIGTERM, a child's stop may take the server's grace for open requests (5 s), its runs'
# ending (10 s), the Redis link's tasks (2 x 10 s) and last announcements (2 s): more than that
# is a hang, and only then is it killed.
STOP_TIMEOUT_S = 45.0
READY = b"r"  # sent by a child once it serves

log = logging.getLogger("corral.supervisor")


def supervise(settings: Settings) -> int:
    """Serve with `settings.workers` processes until SIGINT or SIGTERM; the exit status."""
    try:
        listener = _listen(settings.host, settings.port)
    except OSError as exc:
        log.error(
            "cannot listen on %s: %s", address(settings.host, settings.port), exc.strerror or exc
        )
        return 1
    with listener:
        bound = address(*listener.getsockname()[:2])
        log.info("serving %s with %d processes", bound, settings.workers)
        return asyncio.run(_Supervisor(settings, listener).run())


def adopt(listen_fd: int, control_fd: int) -> tuple[socket.socket, socket.socket]:
    """In a child: the listener and control socket its supervisor handed down."""
    sockets = socket.socket(fileno=listen_fd), socket.socket(fileno=control_fd)
    for sock in sockets:
        sock.set_inheritable(False)
    return sockets


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


class _Supervisor:
    def __init__(self, settings: Settings, listener: socket.socket) -> None:
        self.settings = settings
        self.listener = listener
        self.port: int = listener.getsockname()[1]  # the one bound: `--port 0` asks for any
        self.children: dict[int, asyncio.subprocess.Process] = {}  # alive, by number
        self.stopping = asyncio.Event()
        self.served = False  # some child has served
        self.failed = False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        slots = [asyncio.create_task(self._keep(n)) for n in range(1, self.settings.workers + 1)]
        await self.stopping.wait()
        # Closed here, the socket goes once the last child has closed its copy: connections
        # are refused from then on instead of waiting in a queue nobody accepts from.
        self.listener.close()
        self._signal_all(signal.SIGTERM)
        _, alive = await asyncio.wait(slots, timeout=STOP_TIMEOUT_S)
        if alive:
            log.error(
                "server processes still running %.0f s after SIGTERM: killing them", STOP_TIMEOUT_S
            )
            self._signal_all(signal.SIGKILL)
            await asyncio.wait(alive)
        return 1 if self.failed else 0

    def _on_signal(self, signum: int) -> None:
        if not self.stopping.is_set():
            log.info("%s: stopping the server processes", signal.Signals(signum).name)
            self.stopping.set()
        elif signum == signal.SIGINT:
            log.warning("SIGINT again: the server processes quit without waiting")
            self._signal_all(signal.SIGINT)

    def _signal_all(self, signum: int) -> None:
        for process in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def _fail(self, why: str) -> None:
        log.error("%s: stopping", why)
        self.failed = True
        self.stopping.set()

    async def _keep(self, number: int) -> None:
        """Keep child `number` serving until the supervisor stops."""
        try:
            await self._keep_serving(number)
        except Exception:
            log.exception("supervising server process %d failed", number)
            self._fail(f"server process {number} cannot be supervised")

    async def _keep_serving(self, number: int) -> None:
        loop = asyncio.get_running_loop()
        delay, start_failures = FIRST_DELAY_S, 0
        while not self.stopping.is_set():
            began = loop.time()
            process, served, ended = await self._serve_once(number)
            if self.stopping.is_set():
                return
            what = f"server process {number} (pid {process.pid}) {ended}"
            if served:
                start_failures = 0
                if loop.time() - began >= STABLE_S:
                    delay = FIRST_DELAY_S
            else:
                start_failures += 1
                what += " before it served"
                if not self.served:
                    self._fail(what)
                    return
                if start_failures >= MAX_START_FAILURES:
                    self._fail(f"{what}, {start_failures} times in a row")
                    return
            log.error("%s; starting another in %.1f s", what, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, MAX_DELAY_S)

    async def _serve_once(self, number: int) -> tuple[asyncio.subprocess.Process, bool, str]:
        """Start child `number` and wait for its end: the process, whether it served, how it
        ended."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            fds = (self.listener.fileno(), theirs.fileno())
            s = self.settings
            process = await asyncio.create_subprocess_exec(
                # -P: the working directory is not searched first (a `corral` there is not us).
                *(sys.executable, "-P", "-m", "corral", "serve"),
                *("--host", s.host, "--port", str(self.port)),
                *("--listen-fd", str(fds[0]), "--control-fd", str(fds[1])),
                stdin=subprocess.DEVNULL,
                pass_fds=fds,
                process_group=0,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.children[number] = process
        if self.stopping.is_set():  # the stop came while it was being started
            process.send_signal(signal.SIGTERM)
        try:
            ours.setblocking(False)
            served = False
            with contextlib.suppress(OSError):
                served = await loop.sock_recv(ours, 1) == READY  # or b"": it ended
            if served:
                if not self.served:
                    announce(self.listener)
                self.served = True
                log.info("server process %d (pid %d) serves", number, process.pid)
            code = await process.wait()
        finally:
            ours.close()
            del self.children[number]
        return process, served, _ending(code)


def _ending(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"
