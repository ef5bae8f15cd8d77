import random
import stat
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from corral.core.workspace import runtime_library
from corral.core.workspace.runtime_library import BUILTIN_RUNTIMES_DIR, RuntimeInfo, RuntimeLibrary
from corral.errors import CorralError

Entries = dict[str, bytes]
AGENT = b"---\nmode: primary\n---\nHelp.\n"


def make_zip(path: Path, entries: Entries) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def add_entry(path: Path, info: zipfile.ZipInfo, data: bytes = b"x") -> Path:
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(info, data)
    return path


@pytest.fixture
def library(tmp_path: Path) -> RuntimeLibrary:
    builtin = tmp_path / "builtin"
    (builtin / "basic" / ".corral").mkdir(parents=True)
    (builtin / "basic" / ".corral" / "settings.yaml").write_text("description: Basic\n")
    (builtin / "__pycache__").mkdir()
    return RuntimeLibrary(builtin, tmp_path / "data" / "runtimes")


def valid_zip(tmp_path: Path, marker: str = "one") -> Path:
    return make_zip(
        tmp_path / f"{marker}.zip",
        {"AGENTS.md": marker.encode(), ".corral/agents/assistant.md": AGENT},
    )


@contextmanager
def raises(code: str, status: int) -> Iterator[None]:
    with pytest.raises(CorralError) as caught:
        yield
    assert (caught.value.code, caught.value.status) == (code, status), caught.value.message


def leftovers(library: RuntimeLibrary) -> list[str]:
    """Anything in the user dir besides runtimes and the lock file."""
    return [
        p.name for p in library.user_dir.iterdir() if p.name.startswith(".") and p.name != ".lock"
    ]


def test_the_packaged_default_runtime_is_listed() -> None:
    library = RuntimeLibrary(BUILTIN_RUNTIMES_DIR, Path("/nonexistent/corral-runtimes"))

    assert [(r.name, r.built_in) for r in library.list()] == [("default", True)]
    assert (library.path("default") / "AGENTS.md").is_file()


def test_install_list_path_and_delete(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "r.zip",
        {"AGENTS.md": b"hi", ".corral/settings.yaml": b"description: Mine\n"},
    )

    info = library.install_zip("mine", zip_path)

    assert info == RuntimeInfo(name="mine", description="Mine", built_in=False)
    assert library.list() == [RuntimeInfo("basic", "Basic", True), info]
    assert (library.path("mine") / "AGENTS.md").read_text() == "hi"
    assert leftovers(library) == []

    library.delete("mine")

    assert [r.name for r in library.list()] == ["basic"]
    assert leftovers(library) == []
    with raises("runtime_not_found", 404):
        library.path("mine")


def test_a_zipped_folder_is_unwrapped(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "r.zip",
        {"my-runtime/": b"", "my-runtime/AGENTS.md": b"x", "my-runtime/.corral/a.yaml": b""},
    )

    root = library.path(library.install_zip("r", zip_path).name)

    assert sorted(p.name for p in root.iterdir()) == [".corral", "AGENTS.md"]


def test_a_lone_corral_directory_is_not_unwrapped(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "r.zip", {".corral/agents/assistant.md": AGENT})

    root = library.path(library.install_zip("r", zip_path).name)

    assert (root / ".corral" / "agents" / "assistant.md").read_bytes() == AGENT


def test_macos_resource_forks_are_skipped(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "r.zip", {"rt/AGENTS.md": b"x", "__MACOSX/rt/._AGENTS.md": b"junk"}
    )

    root = library.path(library.install_zip("r", zip_path).name)

    assert [p.name for p in root.iterdir()] == ["AGENTS.md"]


def test_executable_bits_survive(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = valid_zip(tmp_path)
    script = zipfile.ZipInfo("bin/run.sh")
    script.external_attr = (stat.S_IFREG | 0o755) << 16
    add_entry(zip_path, script, b"#!/bin/sh\n")

    root = library.path(library.install_zip("r", zip_path).name)

    assert (root / "bin" / "run.sh").stat().st_mode & 0o111
    assert not (root / "AGENTS.md").stat().st_mode & 0o111


def test_an_existing_name_needs_overwrite(library: RuntimeLibrary, tmp_path: Path) -> None:
    library.install_zip("r", valid_zip(tmp_path, "one"))

    with raises("runtime_already_exists", 409):
        library.install_zip("r", valid_zip(tmp_path, "two"))
    assert (library.path("r") / "AGENTS.md").read_text() == "one"

    library.install_zip("r", valid_zip(tmp_path, "two"), overwrite=True)
    assert (library.path("r") / "AGENTS.md").read_text() == "two"
    assert leftovers(library) == []


def test_built_ins_are_read_only(library: RuntimeLibrary, tmp_path: Path) -> None:
    with raises("runtime_already_exists", 409):
        library.install_zip("basic", valid_zip(tmp_path))
    with raises("runtime_read_only", 403):
        library.install_zip("basic", valid_zip(tmp_path), overwrite=True)
    with raises("runtime_read_only", 403):
        library.replace_zip("basic", valid_zip(tmp_path))
    with raises("runtime_read_only", 403):
        library.delete("basic")
    assert library.path("basic").is_dir()


def test_replace_swaps_an_existing_runtime(library: RuntimeLibrary, tmp_path: Path) -> None:
    with raises("runtime_not_found", 404):
        library.replace_zip("r", valid_zip(tmp_path))
    library.install_zip("r", valid_zip(tmp_path, "one"))

    info = library.replace_zip("r", valid_zip(tmp_path, "two"))

    assert info.name == "r"
    assert (library.path("r") / "AGENTS.md").read_text() == "two"
    assert leftovers(library) == []


def test_a_failed_replace_leaves_the_old_runtime_untouched(
    library: RuntimeLibrary, tmp_path: Path
) -> None:
    library.install_zip("r", valid_zip(tmp_path, "one"))
    bad = make_zip(tmp_path / "bad.zip", {"../escape": b"x"})

    with raises("invalid_runtime_zip", 400):
        library.replace_zip("r", bad)

    assert (library.path("r") / "AGENTS.md").read_text() == "one"
    assert leftovers(library) == []
    assert not (library.user_dir.parent / "escape").exists()


def test_delete_of_a_missing_runtime_is_404(library: RuntimeLibrary) -> None:
    with raises("runtime_not_found", 404):
        library.delete("ghost")


@pytest.mark.parametrize("name", ["", "a/b", "..", "a b", "ü", "x" * 129, "../basic"])
def test_invalid_names_are_rejected(library: RuntimeLibrary, tmp_path: Path, name: str) -> None:
    with raises("invalid_request", 400):
        library.install_zip(name, valid_zip(tmp_path))
    with raises("invalid_request", 400):
        library.replace_zip(name, valid_zip(tmp_path))
    with raises("invalid_request", 400):
        library.delete(name)
    with raises("runtime_not_found", 404):
        library.path(name)


def test_python_cache_directories_are_not_runtimes(library: RuntimeLibrary) -> None:
    with raises("runtime_not_found", 404):
        library.path("__pycache__")


def test_concurrent_installs_of_one_name_let_exactly_one_win(
    library: RuntimeLibrary, tmp_path: Path
) -> None:
    zips = [valid_zip(tmp_path, f"z{i}") for i in range(6)]
    outcomes: list[str] = []

    def install(zip_path: Path) -> None:
        try:
            library.install_zip("race", zip_path)
            outcomes.append("installed")
        except CorralError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=install, args=(z,)) for z in zips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["installed"] + ["runtime_already_exists"] * 5
    assert leftovers(library) == []


# Hostile archives ---------------------------------------------------------------------------


def entry(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


# Offsets of a field in the local (30-byte) and central (46-byte) headers, and its format.
HEADER_FIELDS = {"flags": (6, 8, "<H"), "uncompressed size": (22, 24, "<I")}


def patch_header(path: Path, name: bytes, field: str, value: int) -> None:
    """Rewrite one header field of entry `name`, in both its local and central headers."""
    data = bytearray(path.read_bytes())
    local_offset, central_offset, fmt = HEADER_FIELDS[field]
    for signature, header_size, offset in (
        (b"PK\x03\x04", 30, local_offset),
        (b"PK\x01\x02", 46, central_offset),
    ):
        at = data.find(signature)
        while at != -1:
            name_offset = 26 if header_size == 30 else 28
            name_length = struct.unpack_from("<H", data, at + name_offset)[0]
            if data[at + header_size : at + header_size + name_length] == name:
                struct.pack_into(fmt, data, at + offset, value)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def lying_zip_bomb(path: Path) -> None:
    """64 MiB of zeros whose headers claim 100 bytes: a reader trusting them is fooled."""
    make_zip(path, {"AGENTS.md": b"x", "bomb.bin": bytes(64 * 1024 * 1024)})
    patch_header(path, b"bomb.bin", "uncompressed size", 100)


def encrypted(path: Path) -> None:
    make_zip(path, {"AGENTS.md": b"x", "secret.md": b"y"})
    patch_header(path, b"secret.md", "flags", 0x1)


def nul_in_name(path: Path) -> None:
    make_zip(path, {"AGENTS.md": b"x", "evilX.md": b"y"})
    path.write_bytes(path.read_bytes().replace(b"evilX.md", b"evil\x00.md"))


HOSTILE: dict[str, object] = {
    "absolute path": {"/etc/cron.d/evil": b"x"},
    "parent traversal": {"ok.md": b"x", "a/../../evil": b"x"},
    "leading parent": {"../evil": b"x"},
    "backslash": {"..\\evil": b"x"},
    "drive letter": {"C:/evil": b"x"},
    "dot component": {"./AGENTS.md": b"x"},
    "empty component": {"a//b": b"x"},
    "control character": {"a\nb": b"x"},
    "path too long": {"/".join(["d" * 100] * 11): b"x"},
    "component too long": {"f" * 256: b"x"},
    "file and directory": {"a": b"x", "a/b": b"y"},
    "symlink": [entry("link", stat.S_IFLNK | 0o777)],
    "fifo": [entry("pipe", stat.S_IFIFO | 0o644)],
    "duplicate": [entry("AGENTS.md"), entry("AGENTS.md")],
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entries_are_rejected(library: RuntimeLibrary, tmp_path: Path, case: str) -> None:
    spec = HOSTILE[case]
    zip_path = tmp_path / "hostile.zip"
    if isinstance(spec, dict):
        make_zip(zip_path, spec)
    else:
        assert isinstance(spec, list)
        make_zip(zip_path, {"AGENTS.md": b"ok"})
        for info in spec:
            add_entry(zip_path, info)

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)

    assert [r.name for r in library.list()] == ["basic"]
    assert leftovers(library) == []


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda p: p.write_bytes(b"not a zip at all"), id="not a zip"),
        pytest.param(lambda p: p.write_bytes(b""), id="zero bytes"),
        pytest.param(nul_in_name, id="NUL in name"),
        pytest.param(lying_zip_bomb, id="lying zip bomb"),
        pytest.param(encrypted, id="encrypted"),
        pytest.param(
            lambda p: p.write_bytes(valid_zip(p.parent).read_bytes()[:-30]), id="truncated"
        ),
    ],
)
def test_broken_archives_are_rejected(
    library: RuntimeLibrary, tmp_path: Path, build: Callable[[Path], object]
) -> None:
    zip_path = tmp_path / "broken.zip"
    build(zip_path)

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)

    assert leftovers(library) == []


def test_unsupported_compression_is_rejected(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = tmp_path / "bz.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("AGENTS.md", b"x")

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)


def test_honest_archives_over_the_size_limit_are_rejected(
    library: RuntimeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_library, "MAX_TOTAL_BYTES", 1024 * 1024)
    zip_path = make_zip(
        tmp_path / "big.zip", {"a.bin": bytes(600 * 1024), "b.bin": bytes(600 * 1024)}
    )

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)


def test_too_many_entries_are_rejected(
    library: RuntimeLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_library, "MAX_ENTRIES", 50)
    zip_path = make_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(51)})

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)


def test_ten_thousand_and_one_entries_are_rejected(library: RuntimeLibrary, tmp_path: Path) -> None:
    zip_path = tmp_path / "many.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(10_001):
            archive.writestr(f"f{i}", b"")

    with raises("invalid_runtime_zip", 400):
        library.install_zip("r", zip_path)


@pytest.mark.parametrize(
    "entries",
    [{}, {"folder/": b""}, {"__MACOSX/._x": b"junk"}],
    ids=["no entries", "only directories", "only resource forks"],
)
def test_archives_without_files_are_empty(
    library: RuntimeLibrary, tmp_path: Path, entries: Entries
) -> None:
    with raises("empty_runtime_zip", 400):
        library.install_zip("r", make_zip(tmp_path / "empty.zip", entries))


def test_random_corruption_never_escapes_as_another_error(
    library: RuntimeLibrary, tmp_path: Path
) -> None:
    original = valid_zip(tmp_path).read_bytes()
    rng = random.Random(1234)
    for attempt in range(300):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        zip_path = tmp_path / f"fuzz{attempt}.zip"
        zip_path.write_bytes(bytes(data))
        try:
            library.install_zip("fuzz", zip_path, overwrite=True)
        except CorralError as error:
            assert error.status == 400, error
    assert leftovers(library) == []
