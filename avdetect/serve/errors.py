"""Typed errors of the web app; each becomes ``{"error": {"code", "message"}}`` with its HTTP status."""

from __future__ import annotations

from avdetect.errors import AvdetectError, InputError


class UploadError(InputError):
    """The upload is not one usable file: no file part, a malformed form, more than one file."""

    code = "bad_upload"
    http_status = 400


class EmptyUploadError(UploadError):
    """The uploaded file has zero bytes."""

    code = "empty_upload"


class UploadTooLargeError(UploadError):
    """The upload is larger than the server's limit (``avdetect serve --max-upload-mb``)."""

    code = "upload_too_large"
    http_status = 413


class QueueFullError(AvdetectError):
    """Too many jobs are waiting; try again when some have finished."""

    code = "queue_full"
    http_status = 503


class NotFoundError(AvdetectError):
    """Nothing is served at that address (e.g. a report page the job does not have)."""

    code = "not_found"
    http_status = 404


class NoSuchJobError(NotFoundError):
    """No job has that id: it never existed, or it finished long enough ago to be deleted."""

    code = "no_such_job"


def http_status(err: AvdetectError) -> int:
    """The HTTP status of a typed error: its ``http_status``, else 400 (the input was at fault)."""
    return getattr(err, "http_status", 400)
