"""Dataset adapters: each turns one dataset's own layout into manifest rows.

``ADAPTERS[name](root, **options)`` returns a list of `avdetect.corpus.manifest.ManifestRow`; adapters check
that every listed file exists and raise `DatasetLayoutError` or `ManifestError` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from avdetect.corpus.datasets import avdeepfake1m, dfdc, fakeavceleb, ffpp, folder
from avdetect.corpus.manifest import ManifestRow

ADAPTERS: dict[str, Callable[..., list[ManifestRow]]] = {
    "dfdc": dfdc.prepare,
    "fakeavceleb": fakeavceleb.prepare,
    "ffpp": ffpp.prepare,
    "avdeepfake1m": avdeepfake1m.prepare,
    "folder": folder.prepare,
}


def get_adapter(name: str) -> Callable[..., list[ManifestRow]]:
    """The adapter called ``name``; an unknown name raises ValueError listing the valid ones."""
    if name not in ADAPTERS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(ADAPTERS)}")
    return ADAPTERS[name]


def prepare(name: str, root: Path, **options: object) -> list[ManifestRow]:
    """Runs the adapter called ``name`` on ``root``."""
    return get_adapter(name)(root, **options)
