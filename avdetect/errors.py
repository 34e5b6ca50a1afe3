"""Typed errors raised by the library; only the CLI catches them, per input, and records them."""

from __future__ import annotations


class AvdetectError(Exception):
    """Base of every error avdetect raises on purpose. `code` is the short name written in output rows."""

    code = "error"


class InputError(AvdetectError):
    """The input path does not exist, is not a file, or is not readable."""

    code = "input_error"


class DecodeError(AvdetectError):
    """FFmpeg (through PyAV) cannot open or decode the file."""

    code = "decode_error"


class EmptyMediaError(DecodeError):
    """The file opened but holds no decodable video frame and no decodable audio."""

    code = "empty_media"


class NoAudioError(AvdetectError):
    """A stage that needs audio was given a clip without any."""

    code = "no_audio"


class NoFaceError(AvdetectError):
    """A stage that needs a face was given a clip where none was found."""

    code = "no_face"


class ModelFileError(AvdetectError):
    """A model or checkpoint file is missing, malformed, or does not match its config."""

    code = "model_file_error"


class ManifestError(AvdetectError):
    """A manifest or folds file is missing columns, has unknown labels, or names missing files."""

    code = "manifest_error"


class DatasetLayoutError(AvdetectError):
    """A dataset root does not have the layout its adapter expects (e.g. no metadata.json)."""

    code = "dataset_layout_error"


class OutputError(AvdetectError):
    """The output file exists but is not an avdetect output of that format, or cannot be written."""

    code = "output_error"


class WorkerLoadError(AvdetectError):
    """A worker could not build its task (bad model folder, unknown device, ...): nothing can be run."""

    code = "worker_load_error"


class CacheError(AvdetectError):
    """A cache file is missing, truncated or not an avdetect cache; or the folder has another config."""

    code = "cache_error"


class RayMissingError(AvdetectError):
    """`--engine ray` was asked for, but Ray (with Ray Data) is not installed."""

    code = "ray_missing"


class RayEngineError(AvdetectError):
    """Ray itself failed (cluster unreachable, actors lost, ...); the rows written so far are kept."""

    code = "ray_error"


# `avdetect serve`: each becomes {"error": {"code", "message"}} with its HTTP status.


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


# `avdetect synth-speech` (training-data tools)


class EngineMissingError(AvdetectError):
    """A training-data generator's package or program (speech engine, GAN faces) is not installed; the
    message says how to install it."""

    code = "engine_missing"


class SynthesisError(AvdetectError):
    """A speech engine ran but failed on one input (the message carries the engine's own words)."""

    code = "synthesis_error"
