"""Checkpoints: safetensors weights plus a JSON config holding everything inference needs.

Loading never unpickles (timm's `pretrained_cfg` idea: preprocessing travels with the weights). A
checkpoint is a folder `<name>.safetensors` + `<name>.json`; the JSON carries a sha256 of the weights
so a tampered or mismatched file is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avdetect.errors import ModelFileError

FORMAT_VERSION = 1


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("avdetect")
    except PackageNotFoundError:
        return "0+unknown"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(
    directory: str | os.PathLike,
    name: str,
    state_dict: dict[str, torch.Tensor],
    config: dict[str, Any],
    *,
    half: bool = False,
) -> Path:
    """Writes `directory/name.safetensors` and `directory/name.json`; returns the JSON path.

    Args:
        directory: output folder, created if missing.
        name: file stem.
        state_dict: model weights.
        config: JSON-able dict of everything inference needs (architecture, preprocessing).
        half: store floating-point tensors as float16 (loaded back as float32).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: _storable(v, half) for k, v in state_dict.items()}
    weights = directory / f"{name}.safetensors"
    save_file(tensors, str(weights))
    meta = {
        "format_version": FORMAT_VERSION,
        "avdetect_version": _package_version(),
        "weights": weights.name,
        "weights_sha256": sha256(weights),
        "dtype": "float16" if half else "float32",
        "config": config,
    }
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def _storable(tensor: torch.Tensor, half: bool) -> torch.Tensor:
    tensor = tensor.detach().cpu().contiguous()
    return tensor.half() if half and tensor.is_floating_point() else tensor


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Reads a checkpoint from its JSON path (or the folder + stem); returns (state_dict, config).

    Raises:
        ModelFileError: a file is missing or malformed, or the weights do not match their recorded hash.
    """
    path = Path(path)
    if path.suffix != ".json":
        path = path.with_suffix(".json")
    meta = _read_meta(path)
    weights = path.parent / meta["weights"]
    if not weights.is_file():
        raise ModelFileError(f"{weights}: weights file missing")
    if sha256(weights) != meta["weights_sha256"]:
        raise ModelFileError(f"{weights}: weights do not match the sha256 in {path.name} (modified or corrupt)")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ModelFileError(f"{weights}: unreadable safetensors file ({e})") from e
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    return state, meta["config"]


def read_checkpoint_config(path: str | os.PathLike) -> dict[str, Any]:
    """The config of a checkpoint (its JSON path), without reading the weights. Raises ModelFileError."""
    return _read_meta(Path(path))["config"]


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(f"{path}: checkpoint config missing")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not valid JSON ({e})") from e
    missing = {"format_version", "weights", "weights_sha256", "config"} - set(meta)
    if missing:
        raise ModelFileError(f"{path}: missing keys {sorted(missing)}")
    if meta["format_version"] > FORMAT_VERSION:
        raise ModelFileError(f"{path}: format {meta['format_version']} is newer than this avdetect reads")
    return meta
