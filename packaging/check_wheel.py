"""Build corral's wheel, install it alone into a clean virtual environment (its dependencies at
the project's pins) and start `corral serve` from there: it must serve its spec, its docs page
with their assets, and make a workspace from the default runtime. So the package carries all a
server reads (spec, migrations, templates) instead of borrowing it from a checkout.

`make wheel-check` runs it, and `make test` (so CI) before pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

import httpx
import yaml

from corral.testing.processes import clean_environ, serving

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "openapi.yaml", "server")


def build_wheel(work: Path) -> Path:
    """From a copy of the sources with their symlinks, as a fresh clone has them: a stale
    build/ or egg-info of this checkout never reaches the wheel."""
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
            shutil.copytree(path, source / name, symlinks=True, ignore=junk)
        else:
            shutil.copy2(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", work, source], check=True)
    (wheel,) = work.glob("corral-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("corral/openapi.yaml")
    if shipped != (source / "openapi.yaml").read_bytes():
        sys.exit("the wheel's corral/openapi.yaml is not the repository's openapi.yaml")
    return wheel


def install(wheel: Path, place: Path) -> Path:
    """A venv holding nothing but the wheel and its dependencies at constraints.txt's pins."""
    venv.create(place, with_pip=False)
    python = place / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--quiet",
            "--python",
            python,
            "install",
            "-c",
            ROOT / "constraints.txt",
            wheel,
        ],
        check=True,
    )
    found = subprocess.run(
        [python, "-c", "import corral; print(corral.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=place,
    )
    if not Path(found.stdout.strip()).is_relative_to(place):
        sys.exit(f"the clean venv imports corral from {found.stdout.strip()}, not the wheel")
    return place / "bin" / "corral"


def exercise(url: str, spec_text: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        spec = http.get("/openapi.json")
        spec.raise_for_status()
        if spec.json() != yaml.safe_load(spec_text):
            raise RuntimeError("/openapi.json is not the repository's openapi.yaml")
        docs = http.get("/docs")
        docs.raise_for_status()
        if "swagger-ui" not in docs.text:
            raise RuntimeError("/docs is not the Swagger UI page")
        http.get("/docs/assets/swagger-ui-bundle.js").raise_for_status()
        http.post(
            "/api/v1/workspaces", json={"name": "wheel", "runtime": "default"}
        ).raise_for_status()


def serve(corral: Path, work: Path) -> None:
    """`corral serve` from the clean venv, outside the checkout (so nothing there can stand in
    for what the wheel lacks), with its state in `work`: it must print its serving line and
    answer there; fails with its log when it does not serve what it must."""
    env = clean_environ(CORRAL_DATA_DIR=str(work / "data"))
    env.pop("PYTHONPATH", None)
    failure: Exception | None = None
    # One that does not start fails here, its log in the error.
    with serving(env=env, program=str(corral), cwd=work) as (url, server):
        try:
            exercise(url, (work / "source" / "openapi.yaml").read_text())
        except (RuntimeError, httpx.HTTPError) as exc:
            failure = exc
    if failure is not None:
        sys.stderr.write(server.output)
        sys.exit(f"wheel check failed: {failure}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="corral-wheel-") as temp:
        work = Path(temp)
        wheel = build_wheel(work)
        serve(install(wheel, work / "venv"), work)
        print(
            f"wheel check: {wheel.name}, alone in a clean venv, serves /openapi.json, /docs "
            "and the default runtime"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
