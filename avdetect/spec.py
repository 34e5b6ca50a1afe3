"""The scoring spec: how inputs must be perceived and featurised for one model bundle, checked at load.

Written by `avdetect fit-stacker` into ``bundle.json``: the perception config of the cache the branches
were trained on, each branch's checkpoint config, how many crops per track the stacker's face features
were computed over, the stacker's feature names and the extractors that produce them. `spec_mismatches`
(through `avdetect.bundle.check_bundle`, when the Detector loads) refuses a bundle whose parts disagree with it or that asks for a feature this code cannot make, naming
the field, so a mismatch is an error at load and never a drifting score.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


from avdetect.errors import ModelFileError
from avdetect.features.registry import VIDEO_EXTRACTORS, get_extractor
from avdetect.perception.lipsync import SYNC_COLUMNS
from avdetect.perception.perceiver import PerceptionConfig
from stacking import records as stack
from stacking.aggregate import AggregateConfig, audio_names, sync_names, visual_names

SPEC_VERSION = 1

# Extractor name -> the columns it makes. `ScoringSpec.extractors` names the ones a bundle's stacker uses.
EXTRACTORS: dict[str, Callable[[AggregateConfig], list[str]]] = {
    "face_scores": visual_names,  # statistics of the visual branch's per-crop scores, per track
    "voice_scores": audio_names,  # statistics of the audio branch's per-window scores
    "sync": lambda config: sync_names(stack.SyncTable.empty(SYNC_COLUMNS)),  # hand-made lip-sync features
}
DEFAULT_EXTRACTORS = tuple(EXTRACTORS)


def extractor_columns(name: str, aggregate: AggregateConfig) -> list[str]:
    """The columns extractor `name` makes: a score-statistics block above or a `VIDEO_EXTRACTORS` block."""
    if name in EXTRACTORS:
        return EXTRACTORS[name](aggregate)
    return list(get_extractor(name).names)


def known_extractors() -> tuple[str, ...]:
    return (*EXTRACTORS, *VIDEO_EXTRACTORS)


@dataclass(frozen=True)
class ScoringSpec:
    """Everything scoring must reproduce from training, in one frozen, versioned record."""

    perception: PerceptionConfig  # the extraction cache's settings (decode, faces, mel, speech, mouth)
    features: tuple[str, ...]  # the stacker's feature names, in its column order
    extractors: tuple[str, ...]  # names in `EXTRACTORS` or `VIDEO_EXTRACTORS` that make `features`
    branches: dict[str, dict[str, Any]] = field(default_factory=dict)  # "visual"/"audio" -> checkpoint config
    frames_per_track: int | None = None  # crops per track the stacker's face features saw; None: all
    version: int = SPEC_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScoringSpec:
        """Rebuilds a spec saved by `to_dict`. Raises ModelFileError naming a missing or unknown field."""
        if not isinstance(raw, dict):
            raise ModelFileError("spec: not an object")
        if int(raw.get("version", 0)) > SPEC_VERSION:
            raise ModelFileError(f"spec.version: {raw['version']} is newer than this avdetect reads "
                                 f"({SPEC_VERSION}); upgrade avdetect")
        return _build(cls, raw, "spec")


def _build(cls: type, raw: Any, where: str) -> Any:
    """An instance of dataclass `cls` from JSON `raw`, strictly: every field known, nested ones rebuilt."""
    if not isinstance(raw, dict):
        raise ModelFileError(f"{where}: expected an object, got {type(raw).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ModelFileError(f"{where}.{unknown[0]}: unknown to this avdetect (a bundle made by a newer one?)")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ModelFileError(f"{where}.{name}: missing")
            continue
        values[name] = _value(hints[name], raw[name], f"{where}.{name}")
    return cls(**values)


def _value(hint: Any, raw: Any, where: str) -> Any:
    """A field's value: nested dataclasses rebuilt, JSON lists made tuples where the field is a tuple."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, raw, where)
    if typing.get_origin(hint) is tuple and isinstance(raw, list):
        return tuple(raw)
    return raw


def spec_mismatches(spec: ScoringSpec, *, visual: dict[str, Any] | None, audio: dict[str, Any] | None,
                    stacker_features: tuple[str, ...], aggregate: AggregateConfig) -> list[str]:
    """Why the bundle's parts or this code disagree with `spec`: one line per field, empty when none.

    Args:
        visual: the visual checkpoint's config, or None when the bundle has no visual branch.
        audio: the audio checkpoint's config, or None.
        stacker_features: the feature names the stacker was fitted on, in order.
        aggregate: the statistics the stacker's face and voice columns are made with.
    """
    problems = _perception_mismatches(spec.perception)
    for name, config in (("visual", visual), ("audio", audio)):
        problems += _branch_mismatches(spec, name, config)
    if tuple(spec.features) != tuple(stacker_features):
        problems.append("spec.features: differ from the stacker's own feature names (a stacker from another fit?)")
    unknown = [e for e in spec.extractors if e not in known_extractors()]
    if unknown:
        problems.append(f"spec.extractors: {', '.join(unknown)} unknown to this avdetect "
                        f"(valid: {', '.join(known_extractors())})")
    missing = unmade_features(spec, spec.features, aggregate)
    if missing:
        problems.append(f"spec.features: the stacker expects {', '.join(missing[:5])}"
                        f"{' ...' if len(missing) > 5 else ''}, which no extractor of the spec makes")
    return problems


def unmade_features(spec: ScoringSpec, names: tuple[str, ...], aggregate: AggregateConfig) -> list[str]:
    """The feature `names` that none of the spec's (known) extractors makes."""
    known = known_extractors()
    made = {column for name in spec.extractors if name in known for column in extractor_columns(name, aggregate)}
    return [name for name in names if name not in made]


def _perception_mismatches(p: PerceptionConfig) -> list[str]:
    if p.decode.sample_rate != p.mel.sample_rate:
        return [f"spec.perception.decode.sample_rate: {p.decode.sample_rate} differs from "
                f"spec.perception.mel.sample_rate {p.mel.sample_rate}"]
    return []


def _branch_mismatches(spec: ScoringSpec, name: str, config: dict[str, Any] | None) -> list[str]:
    recorded = spec.branches.get(name)
    if config is None:
        return [f"spec.branches.{name}: recorded, but the bundle has no {name} checkpoint"] if recorded else []
    if recorded is None:
        return [f"spec.branches.{name}: missing, but the bundle has a {name} checkpoint"]
    problems = [f"spec.branches.{name}.{key}: {recorded.get(key)!r} in the spec, {config.get(key)!r} in the "
                f"checkpoint" for key in sorted(set(recorded) | set(config)) if recorded.get(key) != config.get(key)]
    return problems + _preprocessing_mismatches(spec.perception, name, config)


def _preprocessing_mismatches(p: PerceptionConfig, name: str, config: dict[str, Any]) -> list[str]:
    """The perception settings a branch's inputs depend on, against what its checkpoint was trained with."""
    if name == "visual":
        pairs = [("faces.margin", p.faces.margin, config.get("margin"))]
    else:
        pairs = [(f"mel.{k}", getattr(p.mel, k), v) for k, v in config.get("mel", {}).items()]
        pairs += [(f"speech.{k}", getattr(p.speech, k, None), v) for k, v in config.get("speech", {}).items()]
    return [f"spec.perception.{where}: {ours!r}, but the {name} checkpoint was trained with {theirs!r}"
            for where, ours, theirs in pairs if ours != theirs]


def perception_config(raw: dict[str, Any]) -> PerceptionConfig:
    """A PerceptionConfig saved with `dataclasses.asdict`, checked field by field (ModelFileError)."""
    return _build(PerceptionConfig, raw, "perception")

