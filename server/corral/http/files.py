"""Sending a file the core picked: streamed from disk with its validators."""

from __future__ import annotations

from email.utils import format_datetime
from urllib.parse import quote

from starlette.responses import FileResponse

from corral.core.results import FileResult


def file_response(result: FileResult) -> FileResponse:
    disposition = f"attachment; filename*=UTF-8''{quote(result.filename, safe='')}"
    return FileResponse(
        result.path,
        media_type=result.media_type,
        headers={
            "ETag": result.etag,
            "Last-Modified": format_datetime(result.modified_at, usegmt=True),
            "Content-Disposition": disposition,
        },
    )
