"""A model bundle: both branch checkpoints, the stacker and the scoring spec, in one folder.

    MODEL_DIR/bundle.json        scoring spec (`avdetect.spec`), file list with sha256, model card facts
    MODEL_DIR/visual/visual.*    visual branch (safetensors + JSON config)
    MODEL_DIR/audio/audio.*      audio branch
    MODEL_DIR/stacker/           LightGBM text model, calibrator and verdict models (stacking.bundle)
    MODEL_DIR/voice/             optional: the voice stacker, same format, for inputs without a face

Nothing in it is a pickle; every file is checked against its sha256 when the bundle is loaded.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from avdetect.branches.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint, sha256
from avdetect.errors import ModelFileError
from avdetect.spec import ScoringSpec, spec_mismatches, unmade_features
from stacking.aggregate import AggregateConfig

BUNDLE_FILE = "bundle.json"
FORMAT = "avdetect.bundle"
VERSION = 2  # 2: the scoring spec replaced the bare perception config and card["frames_per_track"]


@dataclass(frozen=True)
class ModelBundle:
    """Where the parts of a verified bundle are, and how inputs must be perceived for it."""

    directory: Path
    spec: ScoringSpec  # how inputs are perceived and featurised, checked against the parts at load
    visual: Path | None  # JSON path of the visual checkpoint; None when the bundle has no visual branch
    audio: Path | None  # JSON path of the audio checkpoint
    stacker: Path  # folder of the stacker bundle
    card: dict[str, Any]  # model card facts: data, metrics, limits
    voice: Path | None = None  # folder of the voice stacker (inputs without a face); None: the stacker scores all


def shipped_model_dir() -> Path:
    """The model that ships inside the package."""
    return Path(__file__).resolve().parent / "model"


def assemble_bundle(
    directory: str | os.PathLike,
    *,
    stacker: str | os.PathLike,
    spec: ScoringSpec,
    visual: str | os.PathLike | None = None,
    audio: str | os.PathLike | None = None,
    voice: str | os.PathLike | None = None,
    half: bool = True,
    card: dict[str, Any] | None = None,
) -> Path:
    """Copies the parts into `directory` and writes bundle.json; returns its path.

    Args:
        directory: the bundle folder (created; its old parts are replaced).
        stacker: folder written by `stacking.bundle.save_bundle`.
        spec: the scoring spec; its branch configs are filled in from the checkpoints given.
        visual: JSON path of a visual checkpoint, or None.
        audio: JSON path of an audio checkpoint, or None.
        voice: folder of a voice stacker (`stacking.bundle.save_bundle`, the stacker's columns), or None.
        half: store branch weights as float16 (half the size; loaded back as float32).
        card: model card facts to keep with the model.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parts = {"stacker": _copy_tree(Path(stacker), directory / "stacker")}
    if voice is not None:
        parts["voice"] = _copy_tree(Path(voice), directory / "voice")
    else:
        shutil.rmtree(directory / "voice", ignore_errors=True)  # an old bundle's, which this one does not use
    branches = {}
    for name, source in (("visual", visual), ("audio", audio)):
        if source is not None:
            state, branches[name] = load_checkpoint(source)
            parts[name] = save_checkpoint(directory / name, name, state, branches[name], half=half)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != BUNDLE_FILE)
    spec = {
        "format": FORMAT,
        "version": VERSION,
        "spec": replace(spec, branches=branches).to_dict(),
        "parts": {name: str(path.relative_to(directory)) for name, path in parts.items()},
        "files": {str(p.relative_to(directory)): sha256(p) for p in files},
        "card": card or {},
    }
    path = directory / BUNDLE_FILE
    path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _copy_tree(source: Path, target: Path) -> Path:
    if not source.is_dir():
        raise ModelFileError(f"{source}: stacker folder missing")
    if target.resolve() != source.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
    return target


def load_bundle(directory: str | os.PathLike | None = None) -> ModelBundle:
    """Reads and verifies a bundle (the shipped one by default).

    Raises:
        ModelFileError: bundle.json missing or malformed (the field named), a listed file missing, or a
            file whose sha256 differs from the one recorded (modified or corrupt).
    """
    directory = Path(directory) if directory is not None else shipped_model_dir()
    spec = _read_spec(directory / BUNDLE_FILE)
    for name, digest in spec["files"].items():
        path = directory / name
        if not path.is_file():
            raise ModelFileError(f"{path}: listed in {BUNDLE_FILE} but missing")
        if sha256(path) != digest:
            raise ModelFileError(f"{path}: sha256 differs from {BUNDLE_FILE} (modified or corrupt)")
    parts = spec["parts"]
    return ModelBundle(
        directory=directory,
        spec=ScoringSpec.from_dict(spec["spec"]),
        visual=directory / parts["visual"] if "visual" in parts else None,
        audio=directory / parts["audio"] if "audio" in parts else None,
        stacker=directory / parts["stacker"],
        card=spec.get("card", {}),
        voice=directory / parts["voice"] if "voice" in parts else None,
    )


def _read_spec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(f"{path}: no model bundle here (bundle.json missing)")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not valid JSON ({e})") from e
    if spec.get("format") != FORMAT or spec.get("version", 0) > VERSION:
        raise ModelFileError(f"{path}: not a version-{VERSION} {FORMAT} file")
    if spec.get("version") != VERSION:
        raise ModelFileError(f"{path}: a version-{spec.get('version')} bundle without a scoring spec; "
                             "fit it again with `avdetect fit-stacker` (or data/shipped/respec.py)")
    missing = {"spec", "parts", "files"} - set(spec)
    if missing:
        raise ModelFileError(f"{path}: missing keys {sorted(missing)}")
    return spec


def check_bundle(bundle: ModelBundle, *, stacker_features: tuple[str, ...], aggregate: AggregateConfig,
                 voice_features: tuple[str, ...] | None = None) -> None:
    """Refuses a bundle whose checkpoints, stacker or installed code disagree with its scoring spec.

    Raises:
        ModelFileError: naming each field that disagrees (`avdetect.spec.spec_mismatches`).
    """
    problems = spec_mismatches(
        bundle.spec,
        visual=read_checkpoint_config(bundle.visual) if bundle.visual else None,
        audio=read_checkpoint_config(bundle.audio) if bundle.audio else None,
        stacker_features=stacker_features,
        aggregate=aggregate,
    )
    problems += missing_block_weights(bundle.directory, bundle.spec.extractors)
    unmade = unmade_features(bundle.spec, voice_features or (), aggregate)
    if unmade:  # it may read fewer columns than the stacker, or others, but the spec must make them
        problems.append(f"voice stacker: expects {', '.join(unmade[:5])}{' ...' if len(unmade) > 5 else ''}, "
                        f"which no extractor of the spec makes")
    if problems:
        raise ModelFileError(f"{bundle.directory}: the bundle disagrees with its scoring spec: {'; '.join(problems)}")


def missing_block_weights(directory: Path, extractors: tuple[str, ...]) -> list[str]:
    """A problem line for each feature block with weights (e.g. the learnt sync net) not in `directory`."""
    from avdetect.features.registry import VIDEO_EXTRACTORS

    return [f"spec.extractors: {name} reads {VIDEO_EXTRACTORS[name].checkpoint}, which the bundle lacks"
            for name in extractors if name in VIDEO_EXTRACTORS and VIDEO_EXTRACTORS[name].checkpoint
            and not (directory / VIDEO_EXTRACTORS[name].checkpoint).is_file()]
