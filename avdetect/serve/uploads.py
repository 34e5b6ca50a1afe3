"""An uploaded file, stored in its job's folder under a name of ours, within the size limit.

The uploaded file's name is shown to people and never used as a path: the file is stored as
``upload<ext>``, with ``<ext>`` kept only when it is a known video or audio extension (a hint to FFmpeg).
The request body is counted as it arrives, so an over-large upload is refused without being read whole.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Receive

from avdetect.errors import EmptyUploadError, UploadError, UploadTooLargeError
from avdetect.scoring.batch import MEDIA_EXTENSIONS

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file, bytes
FIELD = "file"  # the form field that carries the file
MAX_NAME = 120  # characters of the uploaded name kept for display
CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredUpload:
    """An upload saved to disk."""

    name: str  # the uploaded file's name, cleaned for display
    path: Path  # where it is stored: the job's folder / upload<ext>
    size_bytes: int


async def save_upload(request: Request, folder: Path, *, max_bytes: int) -> StoredUpload:
    """Stores the single file of a multipart/form-data request (field ``file``) in `folder`.

    Raises:
        UploadTooLargeError: the body or the file is over `max_bytes` (plus the form's overhead).
        EmptyUploadError: the file has zero bytes.
        UploadError: no file field, more than one file, or a malformed form.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise _too_large(max_bytes)
    limited = Request(request.scope, _counting(request.receive, max_bytes + FORM_OVERHEAD))
    try:
        form = await limited.form(max_files=1, max_fields=8)
    except HTTPException as err:  # Starlette's word for a malformed form or too many files
        raise UploadError(f"not a usable upload: {err.detail}") from None
    try:
        upload = form.get(FIELD)
        if not isinstance(upload, UploadFile):
            raise UploadError(f"no file: send one as multipart/form-data in a field named {FIELD!r}")
        name = display_name(upload.filename)
        path = folder / f"upload{media_suffix(name)}"
        size = await run_in_threadpool(_copy, upload.file, path, max_bytes)
    finally:
        await form.close()
    if size == 0:
        raise EmptyUploadError(f"{name}: the file is empty (0 bytes)")
    return StoredUpload(name, path, size)


def display_name(filename: str | None) -> str:
    """The uploaded name as shown: its last path part, without control characters, at most `MAX_NAME`."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    shown = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return shown[:MAX_NAME] or "upload"


def media_suffix(name: str) -> str:
    """The lower-case extension of `name` when it is a known video or audio one, else ""."""
    suffix = os.path.splitext(name)[1].lower()
    return suffix if suffix in MEDIA_EXTENSIONS else ""


def _copy(source: BinaryIO, path: Path, max_bytes: int) -> int:
    """Copies `source` to a new file at `path`; returns its size. Raises UploadTooLargeError."""
    size = 0
    with open(path, "xb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            out.write(chunk)
    return size


def _counting(receive: Receive, limit: int) -> Receive:
    """`receive` that raises UploadTooLargeError once the request body passes `limit` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit - FORM_OVERHEAD)
        return message

    return wrapped


def _too_large(max_bytes: int) -> UploadTooLargeError:
    return UploadTooLargeError(f"the upload is over this server's limit of {max_bytes / 2**20:.1f} MB "
                               "(avdetect serve --max-upload-mb)")
