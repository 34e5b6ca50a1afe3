"""Typed errors of the fusion layer.

`stacking` stays independent of `avdetect` (no torch, usable with any branch predictions), so it has its
own small hierarchy; the CLI catches `StackingError` next to avdetect's own errors.
"""

from __future__ import annotations


class StackingError(Exception):
    """Base of every error `stacking` raises on purpose. `code` is the short name written in output rows."""

    code = "stacking_error"


class TableError(StackingError):
    """A score or feature table is missing columns, has unparsable values or unknown labels."""

    code = "table_error"


class BundleError(StackingError):
    """A saved stacker is missing a file, a file does not match its sha256, or a file is malformed."""

    code = "bundle_error"
