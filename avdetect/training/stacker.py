"""Fitting the stacker as a library: one feature row per video (`avdetect.training.stacker_data`) ->
the calibrated LightGBM stacker, its cross-validation report, and the model bundle with its scoring spec.

`avdetect fit-stacker` is the command-line shell around `stacker_data.load_training_data`, `fit_stacker`,
`write_outputs` and `write_model_bundle` (or `rebundle`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from avdetect.bundle import ModelBundle, assemble_bundle
from avdetect.errors import InputError
from avdetect.features.registry import get_extractor
from avdetect.spec import DEFAULT_EXTRACTORS, ScoringSpec, perception_config
from avdetect.training.stacker_data import TrainingData
from avdetect.training.stacker_table import TABLE_FILE, save_table
from stacking.aggregate import AggregateConfig
from stacking.bundle import load_bundle as load_stacker
from stacking.bundle import save_bundle
from stacking.decision import DEFAULT_MAX_ERROR, BinnedBand, DecisionBand, fit_band, fit_binned_band
from stacking.metrics import equal_class_weights
from stacking.monotone import RULES
from stacking.report import BASELINE, CvReport, cv_report, write_report, write_scores
from stacking.stacker import LGBMStacker
from stacking.weights import balanced_weights

log = logging.getLogger(__name__)


# The voice stacker (`stacker_data.voice_rows`: every voice with a label of its own) weighs the generator
# families as they come by default (`fit-stacker --voice-family-balance`): on the speaker-encoder logit alone,
# weighing each family's fakes the same ranked the held-out families no better (family mean 0.728 against
# 0.732) and left it miscalibrated (ECE 0.163 against 0.051, real voices at 0.5 32 % against 25 %); on many
# free columns (the recipe of 2026-12-03) it had lifted the family mean from 0.667 to 0.711.
VOICE_FAMILY_BALANCE = 0.0
# It follows the evidence rules (`stacking.monotone`): the recipe's voice stacker reads the speaker-encoder
# head's logit alone (`fit-stacker --voice-columns`), and free trees bent it into a non-monotone map that
# ranked held-out families worse than the logit itself (family mean 0.639 against 0.728; data/shipped/README.md).
VOICE_MONOTONE = "evidence"
# `fit_stacker`'s settings, as fit-stacker records them in report.json's "fit"
FIT_SETTINGS = ("calibration", "seed", "balance", "family_balance", "booster", "monotone", "score_column")


def fit_stacker(data: TrainingData, *, calibration: str = "auto", seed: int = 0,
                balance: float | None = 0.5, family_balance: float = 0.0,
                booster: dict[str, float] | None = None, monotone: str = "none",
                score_column: str | None = None) -> LGBMStacker:
    """The calibrated stacker, cross-fitted over the data's folds.

    Args:
        balance: weigh each video 1 / n(its source group, its class) ** balance (classes equal in total),
            so pseudo-fakes that outnumber their real source do not set the prior; None weighs every video 1.
        family_balance: further divide each fake's weight by n(its family) ** family_balance (families from
            the manifest, `fake_family`), so that our pseudo-fake kinds do not outweigh the real generators.
        booster: LightGBM settings passed to `LGBMStacker` (`stacking.stacker.BOOSTER_PARAMS`); None keeps
            its defaults.
        monotone: a name of `stacking.monotone.RULES`: "evidence" lets the branch scores and the sync
            columns push P(fake) one way only; "none" leaves every column free.
        score_column: a column that is already an out-of-fold logit (`LGBMStacker`'s ``score_column``): no trees, only
            its calibration is fitted.

    Raises:
        InputError: family_balance without the videos' families (data read without a manifest, or a
            training table saved before families were kept).
    """
    families = data.groups.get("family")
    if family_balance and families is None:
        raise InputError("--family-balance needs each video's family: fit from the runs with --manifest")
    weights = None if balance is None else balanced_weights(data.y, data.sources_of_rows, power=balance,
                                                            families=families, family_power=family_balance)
    stacker = LGBMStacker(calibration=calibration, random_state=seed, monotone=RULES[monotone],
                          score_column=score_column, **(booster or {}))
    return stacker.fit(
        data.table.X, data.y, folds=data.folds, feature_names=data.table.names,
        modality_labels=data.modality_labels, sample_weight=weights)


def write_model_bundle(output: Path, data: TrainingData, *, runs: Path, cache: Path,
                       visual_model: Path | None = None, audio_model: Path | None = None,
                       voice: Path | None = None, voice_extractors: tuple[str, ...] = ()) -> Path:
    """OUTPUT/bundle.json: both branch checkpoints, the stacker in OUTPUT/stacker (and the voice stacker,
    for inputs without a face, when `voice` names one; `voice_extractors`: the feature blocks it reads) and
    the scoring spec, whose extractors make the columns of both.

    The spec takes the perception settings of the extraction cache the branches were trained on, and the
    crops per track of the visual run (``RUNS/visual/train_config.json``): the Detector feeds the stacker
    the same number of frames per track as its out-of-fold scores had.
    """
    config = json.loads((cache / "config.json").read_text(encoding="utf-8"))
    visual_run = runs / "visual" / "train_config.json"
    per_track = (json.loads(visual_run.read_text(encoding="utf-8")).get("frames_per_track")
                 if visual_run.is_file() else None)
    if per_track is None and (runs / "visual" / "oof.csv").is_file():
        log.warning("%s is missing: the bundle's scoring spec sets no crops per track, so scoring feeds the "
                    "stacker every crop of a track, not the number its out-of-fold scores had", visual_run)
    spec = ScoringSpec(perception=perception_config(config["perception"]), features=tuple(data.table.names),
                       extractors=DEFAULT_EXTRACTORS + _union(data.extractors, voice_extractors),
                       frames_per_track=per_track)
    card = {"videos": int(len(data.y)), "fakes": int(data.y.sum()), "folds": int(len(set(data.folds.tolist()))),
            "sources": data.sources}
    return assemble_bundle(output, stacker=output / "stacker", spec=spec, visual=visual_model,
                           audio=audio_model, voice=voice, card=card)


@dataclasses.dataclass(frozen=True)
class EvidenceBins:
    """Bins of an evidence column whose rows each get a decision band of their own (`BinnedBand`)."""

    column: str  # e.g. speech_s: seconds of detected speech
    edges: tuple[float, ...]  # inner edges, ascending
    values: np.ndarray  # float64 (n,) the column on the stacker's rows, in their order (it may not read it)


def write_outputs(directory: Path, stacker: LGBMStacker, data: TrainingData, *,
                  max_error: float = DEFAULT_MAX_ERROR, equal_classes: bool = True,
                  settings: dict[str, Any] | None = None, bins: EvidenceBins | None = None,
                  ) -> tuple[CvReport, DecisionBand, BinnedBand | None]:
    """Writes the bundle, ``report.json``, charts, ``oof.csv`` (per-video out-of-fold scores) and the
    training table (``table.npz``, `avdetect.training.stacker_table`: the stacker can be fitted again from it).

    `equal_classes`: the stacker was fitted with class-balanced weights (`fit_stacker`'s default), so its
    reliability is drawn, and the band's error rates are held, with both classes weighing the same.
    `settings`: how it was fitted (seed, balance, ...), kept in the report as ``fit``.

    The decision band (real / inconclusive / fake) is fitted on the stacker's out-of-fold probabilities,
    each decided verdict held to ``max_error``; with ``bins``, also one band per bin, held to it within the bin
    (saved beside the pooled band, which the report keeps; scoring then uses the input's bin).
    """
    baseline = (data.table.column(BASELINE) if BASELINE in data.table.names
                else np.full(len(data.y), np.nan))  # the voice stacker reads no face column
    report = cv_report(stacker, data.y, baseline=baseline, modality_labels=data.modality_labels,
                       groups=data.groups)
    extra = {"sources": data.sources, "n_videos": len(data.y), "n_fake": int(data.y.sum()),
             "cv": {k: m.to_dict() for k, m in report.metrics.items()}, "fit": settings or {}}
    weights = equal_class_weights(data.y) if equal_classes else None
    band = fit_band(data.y, stacker.oof_proba_, max_error=max_error, sample_weight=weights)
    binned = None if bins is None else fit_binned_band(
        data.y, stacker.oof_proba_, bins.values, column=bins.column, edges=bins.edges, max_error=max_error,
        equal_classes=equal_classes)
    save_bundle(directory, stacker, aggregate=AggregateConfig(), extra=extra, band=band, binned=binned)
    decisions = {"decision": band.to_json(), **({"decision_by": binned.to_json()} if binned else {})}
    write_report(directory, report, data.y, p=stacker.oof_proba_, baseline=baseline,
                 extra={**extra, **decisions}, equal_classes=equal_classes)
    columns = {"fold": data.folds, "label": data.y, "p_fake": stacker.oof_proba_,
               **{f"p_{m}": stacker.oof_verdicts_[m] for m in ("visual", "audio", "sync")},
               "frame_mean": baseline}
    write_scores(directory / "oof.csv", data.table.videos.tolist(), columns)
    save_table(data, directory / TABLE_FILE)
    return report, band, binned


def rebundle(output: Path, old: ModelBundle, data: TrainingData) -> Path:
    """OUTPUT/bundle.json: the stacker in OUTPUT/stacker with the branches, block weights (the sync net),
    voice stacker and scoring spec of the verified bundle `old` (`load_bundle`), whose training table it was
    fitted on (`data`: its columns, perhaps fewer, become the spec's features; blocks that neither it nor
    the voice stacker reads are not run).
    OUTPUT is another folder than `old`'s: the stacker written there would have replaced `old`'s.
    """
    for part in old.directory.iterdir():  # block weights (sync/...) travel as they are
        if part.is_dir() and part.name not in {"stacker", "visual", "audio", "voice"}:
            shutil.rmtree(output / part.name, ignore_errors=True)
            shutil.copytree(part, output / part.name)
    card = {**old.card, "refitted_from": str(old.directory)}
    read = set(data.table.names) | set(load_stacker(old.voice).feature_names if old.voice else ())
    extractors = tuple(e for e in old.spec.extractors
                       if e in DEFAULT_EXTRACTORS or read.intersection(get_extractor(e).names))
    spec = dataclasses.replace(old.spec, features=tuple(data.table.names), extractors=extractors)
    return assemble_bundle(output, stacker=output / "stacker", spec=spec, visual=old.visual, audio=old.audio,
                           voice=old.voice, card=card)


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """The names of `first`, then those of `second` not in it, in order."""
    return first + tuple(name for name in second if name not in first)
