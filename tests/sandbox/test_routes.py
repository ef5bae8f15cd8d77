"""Every sandbox and file route over HTTP against a live server."""

from __future__ import annotations

import base64
import re

import httpx

from corral.testing.api_calls import assert_error

from .conftest import LIMITED_TOKEN, Box, Served, auth, read_only_box

ETAG = re.compile(r'^W/"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')


def test_create_and_get_sandbox(api: httpx.Client, served: Served) -> None:
    created = api.post("/api/v1/sandboxes", json={"name": "Sbx", "runtime": "default"})
    assert created.status_code == 201
    sandbox = created.json()
    assert sandbox["id"] == sandbox["workspaceId"] and sandbox["rootPath"] == "/workspace"
    assert (sandbox["provider"], sandbox["kind"]) == ("embedded", "project")
    again = api.post("/api/v1/sandboxes", json={"workspaceId": sandbox["id"]})
    assert (again.status_code, again.json()) == (200, sandbox)
    assert api.get(f"/api/v1/sandboxes/{sandbox['id']}").json() == sandbox

    named = api.post(
        "/api/v1/sandboxes", json={"workspaceId": "ws_chosen-1", "name": "c", "runtime": "default"}
    )
    assert (named.status_code, named.json()["id"]) == (201, "ws_chosen-1")
    assert api.get("/api/v1/workspaces/ws_chosen-1").status_code == 200

    imported_dir = served.data_dir / "workspaces" / "imported"
    imported_dir.mkdir(parents=True)
    imported = api.post("/api/v1/sandboxes", json={"rootPath": str(imported_dir)})
    assert imported.status_code == 201 and imported.json()["name"] == "imported"
    assert api.get(f"/api/v1/workspaces/{imported.json()['id']}").json()["readOnly"] is False

    assert_error(
        api.post("/api/v1/sandboxes", json={"workspaceId": "ws_nope"}), 404, "workspace_not_found"
    )
    assert_error(
        api.post(
            "/api/v1/sandboxes", json={"workspaceId": "bad/id", "name": "x", "runtime": "default"}
        ),
        400,
        "invalid_request",
    )
    assert_error(
        api.post("/api/v1/sandboxes", json={"name": "only a name"}), 400, "invalid_request"
    )
    from_runtime = {"name": "ro", "runtime": "default", "readOnly": True}  # only an import is
    resp = api.post("/api/v1/sandboxes", json=from_runtime)
    assert assert_error(resp, 400, "invalid_request")["details"] == {"field": "readOnly"}
    assert_error(
        api.post("/api/v1/sandboxes", json={"rootPath": "/etc"}), 403, "workspace_path_not_allowed"
    )
    assert_error(api.get("/api/v1/sandboxes/ws_missing"), 404, "workspace_not_found")


def test_write_read_stat_list(box: Box) -> None:
    written = box.write("notes/today.md", "# Today\n")
    assert written.status_code == 200, written.text
    entry = written.json()
    assert entry["path"] == "/workspace/notes/today.md" and ETAG.match(entry["etag"])
    assert (entry["type"], entry["sizeBytes"], entry["mimeType"]) == ("file", 8, "text/markdown")

    read = box.get("files/content", path="/workspace/notes/today.md").json()
    assert (read["content"], read["truncated"], read["etag"]) == ("# Today\n", False, entry["etag"])
    cut = box.get("files/content", path="notes/today.md", maxBytes=3, encoding="base64").json()
    assert (base64.b64decode(cut["content"]), cut["truncated"], cut["sizeBytes"]) == (
        b"# T",
        True,
        8,
    )

    stat = box.get("files/stat", path="notes/today.md").json()
    assert (stat["kind"], stat["size"], stat["path"]) == ("file", 8, "/workspace/notes/today.md")
    assert box.get("files/stat", path="notes").json()["kind"] == "directory"

    page = box.get("files/entries", path="/workspace", pageSize=2).json()
    assert page["path"] == "/workspace" and len(page["items"]) == 2 and page["nextCursor"] == "2"
    rest = box.get("files/entries", pageSize=200, cursor="2").json()
    assert "nextCursor" not in rest
    names = [e["name"] for e in page["items"] + rest["items"]]
    assert names == sorted(names) and {"notes", "real.txt", "sub"} <= set(names)
    by_type = box.get("files/entries", sortBy="type", sortOrder="desc").json()["items"]
    assert by_type[0]["type"] == "file" and by_type[-1]["type"] == "directory"
    assert_error(box.get("files/entries", cursor="x"), 400, "invalid_request")


def test_write_errors(box: Box) -> None:
    etag = box.write("f.txt", "one").json()["etag"]
    assert_error(box.write("f.txt", "two", overwrite=False), 409, "workspace_entry_exists")
    assert_error(
        box.write("f.txt", "two", ifMatch='W/"1-2-3"'), 412, "workspace_precondition_failed"
    )
    assert_error(box.write("sub", "x"), 409, "workspace_entry_conflict")
    assert_error(box.write("f.txt", "!!", encoding="base64"), 400, "invalid_request")
    assert_error(box.write("f.txt", "é==", encoding="base64"), 400, "invalid_request")
    assert box.write("f.txt", "two", ifMatch=etag).status_code == 200
    assert (
        box.write("b.bin", base64.b64encode(b"\xff\x00").decode(), encoding="base64").json()[
            "sizeBytes"
        ]
        == 2
    )
    assert_error(box.get("files/content", path="b.bin"), 400, "invalid_request")  # not UTF-8
    assert_error(box.get("files/content", path="missing.txt"), 404, "workspace_file_not_found")
    assert_error(box.get("files/content", path="sub"), 409, "workspace_entry_conflict")
    assert_error(box.get("files/stat", path="missing"), 404, "workspace_entry_not_found")
    assert_error(box.get("files/entries", path="f.txt"), 409, "workspace_entry_conflict")


def test_if_match_star_means_any_current_version(box: Box) -> None:
    """RFC 9110 If-Match `*`: the write needs the file to exist, whatever its version."""
    for path, send in [
        ("star.txt", lambda ifMatch: box.write("star.txt", "two", ifMatch=ifMatch)),
        ("star.bin", lambda ifMatch: box.upload("star.bin", b"two", ifMatch=ifMatch)),
    ]:
        assert_error(send("*"), 412, "workspace_precondition_failed")  # no file yet
        assert_error(box.get("files/stat", path=path), 404, "workspace_entry_not_found")
        assert box.write(path, "one").status_code == 200
        written = send("*")
        assert written.status_code == 200, written.text
        assert box.get("files/content", path=path).json()["content"] == "two"
        assert send(" * ").status_code == 200  # as a header value would be, spaces aside
    assert_error(box.write("new/dir/f.txt", "x", ifMatch="*"), 412, "workspace_precondition_failed")
    assert_error(box.get("files/stat", path="new"), 404, "workspace_entry_not_found")  # no parents
    assert_error(box.write("sub", "x", ifMatch="*"), 409, "workspace_entry_conflict")  # a directory


def test_utf8_truncation_never_splits_a_character(box: Box) -> None:
    box.write("u.txt", "aé")  # 'é' is two bytes
    cut = box.get("files/content", path="u.txt", maxBytes=2).json()
    assert (cut["content"], cut["truncated"]) == ("a", True)


def test_upload_and_download(box: Box) -> None:
    data = bytes(range(256)) * 4096
    up = box.upload("bin/data.bin", data, mtimeMs=1_700_000_000_000)
    assert up.status_code == 200, up.text
    assert up.json()["updatedAt"] == "2023-11-14T22:13:20Z"
    assert_error(box.upload("bin/data.bin", b"x", overwrite="false"), 409, "workspace_entry_exists")
    assert_error(
        box.upload("bin/data.bin", b"x", ifMatch='W/"0-0-0"'), 412, "workspace_precondition_failed"
    )
    bad_type = box.api.put(
        f"{box.base}/files/upload",
        params={"path": "x"},
        content=b"x",
        headers={"content-type": "text/plain"},
    )
    assert bad_type.status_code == 415

    down = box.get("files/download", path="bin/data.bin")
    assert down.status_code == 200 and down.content == data
    assert down.headers["etag"] == up.json()["etag"]
    assert down.headers["content-length"] == str(len(data))
    assert down.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert down.headers["content-type"] == "application/octet-stream"
    box.write("Grüße ü.md", "x")
    named = box.get("files/download", path="Grüße ü.md")
    assert named.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%C3%BC.md"
    )
    assert named.headers["content-type"].startswith("text/markdown")


def test_directories_delete_move(box: Box) -> None:
    made = box.api.post(f"{box.base}/directories", json={"path": "a/b/c"})
    assert made.status_code == 201 and made.json()["type"] == "directory"
    assert box.api.post(f"{box.base}/directories", json={"path": "a/b/c"}).status_code == 201
    assert_error(
        box.api.post(f"{box.base}/directories", json={"path": "x/y", "createParents": False}),
        404,
        "workspace_entry_not_found",
    )
    assert_error(
        box.api.post(f"{box.base}/directories", json={"path": "real.txt"}),
        409,
        "workspace_entry_conflict",
    )

    moved = box.api.patch(
        f"{box.base}/files/move", json={"sourcePath": "real.txt", "targetPath": "a/b/c/real.txt"}
    )
    assert moved.status_code == 200 and moved.json()["path"] == "/workspace/a/b/c/real.txt"
    box.write("other.txt", "o")
    assert_error(
        box.api.patch(
            f"{box.base}/files/move",
            json={"sourcePath": "other.txt", "targetPath": "a/b/c/real.txt"},
        ),
        409,
        "workspace_entry_exists",
    )
    assert (
        box.api.patch(
            f"{box.base}/files/move",
            json={"sourcePath": "other.txt", "targetPath": "a/b/c/real.txt", "overwrite": True},
        ).status_code
        == 200
    )
    assert_error(
        box.api.patch(f"{box.base}/files/move", json={"sourcePath": "nope", "targetPath": "n2"}),
        404,
        "workspace_entry_not_found",
    )

    delete = f"{box.base}/files/entry"
    assert_error(box.api.delete(delete, params={"path": "a"}), 409, "workspace_directory_not_empty")
    gone = box.api.delete(delete, params={"path": "a", "recursive": "true"})
    assert gone.json()["type"] == "directory" and gone.json()["deleted"] is True
    assert not (box.root / "a").exists()
    assert_error(
        box.api.delete(delete, params={"path": "/workspace", "recursive": "true"}),
        400,
        "invalid_sandbox_path",
    )
    assert_error(box.api.delete(delete, params={"path": "a"}), 404, "workspace_entry_not_found")


def test_read_only_workspace(api: httpx.Client, served: Served) -> None:
    box = read_only_box(api, served, "ro")
    read = box.get("files/content", path="real.txt").json()
    assert (read["content"], read["readOnly"]) == ("real", True)
    listed = box.get("files/entries", path=".").json()["items"]
    assert sorted((e["name"], e["readOnly"]) for e in listed) == [("real.txt", True), ("sub", True)]
    for resp in [
        box.write("real.txt", "x"),
        box.upload("real.txt", b"x"),
        api.post(f"{box.base}/directories", json={"path": "d"}),
        api.delete(f"{box.base}/files/entry", params={"path": "real.txt"}),
        api.patch(f"{box.base}/files/move", json={"sourcePath": "real.txt", "targetPath": "y"}),
    ]:
        assert_error(resp, 403, "workspace_read_only")
    assert (box.root / "real.txt").read_text() == "real"


def test_a_token_limited_to_other_workspaces(box: Box) -> None:
    limited = auth(LIMITED_TOKEN)
    assert_error(
        box.api.get(f"{box.base}/files/stat", params={"path": "real.txt"}, headers=limited),
        403,
        "workspace_access_denied",
    )
    assert_error(
        box.api.post("/api/v1/sandboxes", json={"workspaceId": box.id}, headers=limited),
        403,
        "workspace_access_denied",
    )
