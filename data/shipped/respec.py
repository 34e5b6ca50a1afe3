"""Rewrites a version-1 bundle.json (bare perception config, card["frames_per_track"]) as version 2 with a
scoring spec, without touching weights or stacker: how the shipped model got its spec (issue 10).

    .venv/bin/python data/shipped/respec.py avdetect/model

Version 1 scoring took the crop margin from the visual checkpoint and the mel and speech settings from
the audio checkpoint, overriding the bundle's perception config; the spec records those resolved values,
so the re-specced bundle scores exactly as before.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from avdetect.branches.checkpoint import read_checkpoint_config
from avdetect.bundle import BUNDLE_FILE, VERSION
from avdetect.perception.audio import MelConfig, SpeechConfig
from avdetect.spec import DEFAULT_EXTRACTORS, ScoringSpec, perception_config


def respec(directory: Path) -> dict:
    old = json.loads((directory / BUNDLE_FILE).read_text(encoding="utf-8"))
    if old["version"] != 1:
        raise SystemExit(f"{directory}: version {old['version']}, not 1")
    perception = perception_config(old["perception"])
    parts, branches = old["parts"], {}
    if "visual" in parts:
        branches["visual"] = read_checkpoint_config(directory / parts["visual"])
        perception = replace(perception, faces=replace(perception.faces, margin=branches["visual"]["margin"]))
    if "audio" in parts:
        branches["audio"] = audio = read_checkpoint_config(directory / parts["audio"])
        perception = replace(perception, mel=MelConfig(**audio["mel"]), speech=SpeechConfig(**audio["speech"]))
    stacker = json.loads((directory / parts["stacker"] / "config.json").read_text(encoding="utf-8"))
    card = dict(old["card"])
    spec = ScoringSpec(perception=perception, features=tuple(stacker["feature_names"]),
                       extractors=DEFAULT_EXTRACTORS, branches=branches,
                       frames_per_track=card.pop("frames_per_track", None))
    new = {k: v for k, v in old.items() if k != "perception"}
    return {**new, "version": VERSION, "spec": spec.to_dict(), "card": card}


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    (folder / BUNDLE_FILE).write_text(json.dumps(respec(folder), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{folder / BUNDLE_FILE}: version {VERSION} with a scoring spec")
