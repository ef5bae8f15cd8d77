"""`make bench-files`: upload and download of a 200 MB file through the API against a plain
`cp` of the same file on the same disk, in one run, with the server's memory during the upload.

The server is `corral serve` (one process: uvloop, httptools, no access log) with its data dir
in a temporary directory; the source file, the workspace and the `cp` target all live on that disk.
The client is curl (`-T` streams the upload; the download is written to a file), so a Python
client's own cost does not count against the server. Each figure is the best of ROUNDS runs, as
other work on the machine only ever slows a run down.

Reported: throughput of each way and its ratio to `cp` (targets: >= 0.5), the ratio to
`cp` + fsync as well (an upload fsyncs before its rename; cp does not, and GNU cp copies with
copy_file_range inside the kernel's page cache, a speed no user-space HTTP path can approach),
the server's RSS growth while uploading (sampled from /proc every 5 ms; target < 20 MB), and
the cost of a 4 KiB write+fsync on this disk, which is what the fsync of an upload is made of.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_support import ROOT, fsync_ms

from corral.testing.processes import clean_environ, serving

SIZE = int(os.environ.get("BENCH_FILE_MB", "200")) * 1_000_000
CHUNK = 1 << 20
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, rss_kib(pid), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.005)


def make_source(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for _ in range(SIZE // CHUNK):
            block = os.urandom(CHUNK)
            digest.update(block)
            f.write(block)
        tail = os.urandom(SIZE % CHUNK)
        digest.update(tail)
        f.write(tail)
        os.fsync(f.fileno())
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def timed_curl(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run(["curl", "-sSf", *args], check=True)
    return time.perf_counter() - start


def timed_cp(source: Path, target: Path, *, fsync: bool) -> float:
    start = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    if fsync:
        fd = os.open(target, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="corral-bench-files-") as tmp:
        work = Path(tmp)
        source, target = work / "source.bin", work / "downloaded.bin"
        print(f"making a {SIZE / 1e6:.0f} MB random file in {work} ...", flush=True)
        source_digest = make_source(source)
        env = clean_environ(CORRAL_DATA_DIR=str(work / "data"), CORRAL_LOG_LEVEL="warning")
        with serving(env=env, cwd=ROOT) as (base, server):
            created = httpx.post(
                f"{base}/api/v1/sandboxes", json={"name": "bench", "runtime": "default"}
            )
            created.raise_for_status()
            files = f"{base}/api/v1/sandboxes/{created.json()['id']}/files"
            upload = [
                f"{files}/upload?path=big.bin",
                "-T",
                str(source),
                "-o",
                "/dev/null",
                "-H",
                "Content-Type: application/octet-stream",
            ]
            download = [f"{files}/download?path=big.bin", "-o", str(target)]
            timed_curl(*upload)  # warm-up: first request, first file

            cp_s = min(timed_cp(source, work / "copy.bin", fsync=False) for _ in range(ROUNDS))
            cp_sync_s = min(timed_cp(source, work / "copy.bin", fsync=True) for _ in range(ROUNDS))
            sampler = RssSampler(server.popen.pid)
            rss_before = sampler.peak
            sampler.start()
            upload_s = min(timed_curl(*upload) for _ in range(ROUNDS))
            sampler.running = False
            sampler.join()
            download_s = min(timed_curl(*download) for _ in range(ROUNDS))
            assert sha256(target) == source_digest, "the downloaded file differs"
            uploaded = next((work / "data" / "workspaces").glob("bench*/big.bin"))
            assert sha256(uploaded) == source_digest, "the uploaded file differs"
            fsync_cost = fsync_ms(work)
    mb = SIZE / 1e6
    rows = [
        ("cp", cp_s),
        ("cp + fsync", cp_sync_s),
        ("upload (API)", upload_s),
        ("download (API)", download_s),
    ]
    print(f"\n{'':16}{'seconds':>9}{'MB/s':>9}")
    for name, seconds in rows:
        print(f"{name:16}{seconds:9.3f}{mb / seconds:9.1f}")
    print(f"\nupload / cp            {cp_s / upload_s:5.2f}   (target >= 0.5)")
    print(f"upload / (cp + fsync)  {cp_sync_s / upload_s:5.2f}")
    print(f"download / cp          {cp_s / download_s:5.2f}   (target >= 0.5)")
    growth = (sampler.peak - rss_before) / 1024
    print(
        f"server RSS during {ROUNDS} uploads: {rss_before / 1024:.1f} MB before, peak growth "
        f"{growth:.1f} MB (target < 20 MB)"
    )
    print(
        f"fsync of 4 KiB on this disk: {fsync_cost:.2f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    ok = min(cp_s / upload_s, cp_s / download_s) >= 0.5 and growth < 20
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    if not (shutil.which("cp") and shutil.which("curl")):
        sys.exit("bench-files needs cp and curl")
    sys.exit(main())
