"""The line `corral serve` prints once it serves: `corral serving on http://HOST:PORT`, the
address it is bound to, so whoever started it with `--port 0` (the kernel picks a free port,
nobody races for it) learns where it is.

It is Corral's own line, printed on stdout, once per `corral serve`: by the single server once
uvicorn has started (core started, socket bound), by the supervisor of `--workers N` once its
first server process serves. Not a log record: logs go to stderr, as JSON lines or not, and
are filtered by `log_level` (benchmarks and the fuzz runner keep them at `warning`); this line
is there whatever the logging settings. uvicorn's own "Uvicorn running on ..." stays as it is,
but it is uvicorn's wording, an `info` record, and absent under the supervisor (its children
serve a socket handed to them).
"""

from __future__ import annotations

import re
import socket
import sys

SERVING_LINE = re.compile(r"corral serving on (?P<url>http://\S+)")


def address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(listener: socket.socket) -> None:
    """Print the serving line for `listener`'s bound address, in one write (so it is never cut
    by a log line written to the same pipe)."""
    host, port = listener.getsockname()[:2]
    sys.stdout.write(f"corral serving on {address(host, port)}\n")
    sys.stdout.flush()
