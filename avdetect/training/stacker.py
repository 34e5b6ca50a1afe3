"""Fitting the stacker as a library: the branches' out-of-fold scores -> one feature row per video ->
the calibrated LightGBM stacker, its cross-validation report, and the model bundle with its scoring spec.

`avdetect fit-stacker` is the command-line shell around `load_training_data`, `fit_stacker`,
`write_outputs` and `write_model_bundle`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from avdetect.bundle import ModelBundle, assemble_bundle
from avdetect.corpus.folds import fold_map, read_folds
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest
from avdetect.corpus.variants import sync_label, variant_kind
from avdetect.defaults import AUDIO_WINDOW_S
from avdetect.errors import InputError
from avdetect.features.registry import get_extractor
from avdetect.spec import DEFAULT_EXTRACTORS, ScoringSpec, perception_config
from avdetect.training.stacker_table import TABLE_FILE, save_table
from avdetect.training.video_features import FEATURES_DIR
from stacking.aggregate import AggregateConfig, build_feature_table
from stacking.bundle import save_bundle
from stacking.decision import DEFAULT_MAX_ERROR, DecisionBand, fit_band
from stacking.errors import TableError
from stacking.metrics import equal_class_weights
from stacking.records import FeatureTable
from stacking.report import BASELINE, CvReport, cv_report, write_report, write_scores
from stacking.stacker import LGBMStacker, balanced_weights
from stacking.tables import match_paths, per_video_labels, read_frame_scores, read_sync_table, read_window_scores

logger = logging.getLogger(__name__)


# Modality -> its file under --oof.
OOF_FILES = {"visual": Path("visual/oof.csv"), "audio": Path("audio/oof.csv"),
             "sync": Path("sync/features.csv")}
MODALITY_LABEL_VALUES = {FAKE: 1, REAL: 0, None: -1}


@dataclass(frozen=True)
class TrainingData:
    """Everything the stacker is fitted on, one entry per video."""

    table: FeatureTable  # videos (V,) absolute paths, features (V, F), names
    y: np.ndarray  # int64 (V,) 1 FAKE, 0 REAL
    folds: np.ndarray  # int64 (V,) fold of the shared folds file
    modality_labels: dict[str, np.ndarray]  # "visual"/"audio" -> int64 (V,) 1, 0 or -1 unknown
    groups: dict[str, np.ndarray]  # "dataset"/"modality" -> str (V,), for the report's breakdowns
    sources_of_rows: np.ndarray  # str (V,) source group of each video (the manifest's group; else itself)
    sources: dict[str, str]  # modality -> the file its scores came from
    extractors: tuple[str, ...] = ()  # `avdetect.features` blocks among the columns (RUNS/features/*.csv)


def fit_stacker(data: TrainingData, *, calibration: str = "auto", seed: int = 0,
                balance: float | None = 0.5, family_balance: float = 0.0) -> LGBMStacker:
    """The calibrated stacker, cross-fitted over the data's folds.

    Args:
        balance: weigh each video 1 / n(its source group, its class) ** balance (classes equal in total),
            so pseudo-fakes that outnumber their real source do not set the prior; None weighs every video 1.
        family_balance: further divide each fake's weight by n(its family) ** family_balance (families from
            the manifest, `fake_family`), so that our pseudo-fake kinds do not outweigh the real generators.

    Raises:
        InputError: family_balance without the videos' families (data read without a manifest, or a
            training table saved before families were kept).
    """
    families = data.groups.get("family")
    if family_balance and families is None:
        raise InputError("--family-balance needs each video's family: fit from the runs with --manifest")
    weights = None if balance is None else balanced_weights(data.y, data.sources_of_rows, power=balance,
                                                            families=families, family_power=family_balance)
    return LGBMStacker(calibration=calibration, random_state=seed).fit(
        data.table.X, data.y, folds=data.folds, feature_names=data.table.names,
        modality_labels=data.modality_labels, sample_weight=weights)


def drop_features(data: TrainingData, patterns: Sequence[str]) -> TrainingData:
    """`data` without the feature columns whose names match any of the shell-style `patterns`
    (``face_spectrum_*``); a feature block left with no column leaves `extractors`, so scoring skips it.

    Raises:
        InputError: a pattern matches nothing, or it would drop the frame-mean baseline the report needs.
    """
    names = data.table.names
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise InputError(f"--drop-features {pattern}: matches none of the {len(names)} features")
    keep = [i for i, name in enumerate(names) if not any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    kept = tuple(names[i] for i in keep)
    if BASELINE not in kept:
        raise InputError(f"--drop-features: {BASELINE} (the report's baseline) cannot be dropped")
    table = FeatureTable(data.table.videos, data.table.X[:, keep], kept)
    blocks = tuple(b for b in data.extractors if any(n in kept for n in get_extractor(b).names))
    return dataclasses.replace(data, table=table, extractors=blocks)


def write_model_bundle(output: Path, data: TrainingData, *, runs: Path, cache: Path,
                       visual_model: Path | None = None, audio_model: Path | None = None) -> Path:
    """OUTPUT/bundle.json: both branch checkpoints, the stacker in OUTPUT/stacker and the scoring spec.

    The spec takes the perception settings of the extraction cache the branches were trained on, and the
    crops per track of the visual run (``RUNS/visual/train_config.json``): the Detector feeds the stacker
    the same number of frames per track as its out-of-fold scores had.
    """
    config = json.loads((cache / "config.json").read_text(encoding="utf-8"))
    visual_run = runs / "visual" / "train_config.json"
    per_track = (json.loads(visual_run.read_text(encoding="utf-8")).get("frames_per_track")
                 if visual_run.is_file() else None)
    spec = ScoringSpec(perception=perception_config(config["perception"]), features=tuple(data.table.names),
                       extractors=DEFAULT_EXTRACTORS + data.extractors, frames_per_track=per_track)
    card = {"videos": int(len(data.y)), "fakes": int(data.y.sum()), "folds": int(len(set(data.folds.tolist()))),
            "sources": data.sources}
    return assemble_bundle(output, stacker=output / "stacker", spec=spec, visual=visual_model,
                           audio=audio_model, card=card)


def load_training_data(oof_dir: Path, folds_path: Path, manifest_path: Path | None, *,
                       audio_window_s: float = AUDIO_WINDOW_S) -> TrainingData:
    """Reads the scores, folds and labels and builds the feature table.

    Raises:
        InputError: no score file under ``oof_dir``.
        ManifestError, TableError: unreadable inputs, videos without a fold or without a label.
    """
    fold_of = fold_map(read_folds(folds_path))
    manifest = {str(r.path): r for r in read_manifest(manifest_path)} if manifest_path else {}
    bases = [oof_dir, folds_path.parent] + ([manifest_path.parent] if manifest_path else []) + [Path()]
    scores, oof_labels, sources = read_scores(oof_dir, list(fold_of), bases, audio_window_s=audio_window_s)
    blocks = read_feature_blocks(oof_dir / FEATURES_DIR, list(fold_of), bases)
    videos = sorted(set().union(*(set(s.video.tolist()) for s in scores.values())))
    table = build_feature_table(scores.get("visual"), scores.get("audio"), scores.get("sync"),
                                videos=videos, config=AggregateConfig(), extra=list(blocks.values()))
    rows = [manifest.get(v) for v in videos]
    if manifest and None in rows:
        missing = [v for v, row in zip(videos, rows) if row is None]
        raise TableError(f"{len(missing)} scored video(s) are not in the manifest, e.g. {missing[:3]}")
    per_modality = modality_labels(videos, rows, oof_labels)
    return TrainingData(table=table, y=video_labels(videos, rows, per_modality), extractors=tuple(blocks),
                        folds=np.array([fold_of[v] for v in videos], dtype=np.int64),
                        modality_labels=per_modality, groups=report_groups(rows), sources=sources,
                        sources_of_rows=np.array([r.group if r else v for v, r in zip(videos, rows)], dtype=str))


def read_scores(oof_dir: Path, known: list[str], bases: list[Path], *, audio_window_s: float = AUDIO_WINDOW_S
                ) -> tuple[dict[str, Any], dict[str, dict[str, int]], dict[str, str]]:
    """Each present score file as a record keyed by folds-file paths, the modality labels its rows
    carry (visual: the face's label; audio: FAKE when any window is), and the files read."""
    readers = {"visual": read_frame_scores, "audio": partial(read_window_scores, window_s=audio_window_s),
               "sync": read_sync_table}
    scores, labels, sources = {}, {}, {}
    for modality, name in OOF_FILES.items():
        path = oof_dir / name
        if not path.is_file():
            continue
        scores[modality], mapping = keyed(readers[modality](path), path, known, bases)
        found = per_video_labels(path, any_fake=modality == "audio")
        labels[modality] = {mapping[v]: label for v, label in found.items() if v in mapping}
        sources[modality] = str(path)
    if not scores:
        raise InputError(f"no score file under {oof_dir}: expected one of "
                         f"{', '.join(str(name) for name in OOF_FILES.values())}")
    if not any(len(s.video) for s in scores.values()):
        raise TableError(f"no scored video of {oof_dir} is in the folds file; do the paths match?")
    return scores, labels, sources


def read_feature_blocks(folder: Path, known: list[str], bases: list[Path]) -> dict[str, Any]:
    """Extractor name -> its per-video table (``FOLDER/<name>.csv``, `avdetect video-features`), keyed by
    folds-file paths; {} without the folder. Raises ValueError on a file of an unknown extractor."""
    blocks = {}
    for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
        names = get_extractor(path.stem).names  # an unknown block could never be computed at scoring
        table = read_sync_table(path)
        if tuple(table.names) != names:
            raise TableError(f"{path}: columns {table.names} are not the {path.stem} extractor's {names}; "
                             "write it again with `avdetect video-features`")
        blocks[path.stem], _ = keyed(table, path, known, bases)
    return blocks


def keyed(record: Any, path: Path, known: list[str], bases: list[Path]) -> tuple[Any, dict[str, str]]:
    """``record`` (read from ``path``) keyed by the folds file's paths, rows of other videos left out (and
    counted in a warning); also the mapping of its ids."""
    mapping = match_paths(record.video.tolist(), known, [path.parent, *bases])
    record, dropped = remap(record, mapping)
    if dropped:
        logger.warning("%s: %d row(s) of videos not in the folds file were left out", path, dropped)
    return record, mapping


def remap(record: Any, mapping: dict[str, str]) -> tuple[Any, int]:
    """``record`` with its rows of unmapped videos dropped and ids replaced; also the drop count."""
    keep = np.array([v in mapping for v in record.video.tolist()], dtype=bool)
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    fields = {k: v[keep] if isinstance(v, np.ndarray) else v for k, v in fields.items()}
    fields["video"] = np.array([mapping[v] for v in fields["video"].tolist()], dtype=str)
    return type(record)(**fields), int((~keep).sum())


def modality_labels(videos: list[str], rows: list[ManifestRow | None],
                    oof_labels: dict[str, dict[str, int]]) -> dict[str, np.ndarray]:
    """"visual"/"audio"/"sync" -> int64 (V,) 1, 0 or -1 unknown.

    Faces and voices: the manifest's video_label/audio_label, else the label the branch's rows carry.
    Lip-sync: `avdetect.corpus.variants.sync_label` (real videos agree, shifted and dubbed variants
    disagree, other fakes are unknown), so P(lips and voice disagree) is not trained as P(fake).
    """
    out = {"sync": np.array([sync_label(row.path, row.label) if row is not None else -1 for row in rows],
                            dtype=np.int64)}
    for modality, attr in (("visual", "video_label"), ("audio", "audio_label")):
        from_rows = oof_labels.get(modality, {})
        out[modality] = np.array([
            MODALITY_LABEL_VALUES[getattr(row, attr)] if row is not None and getattr(row, attr)
            else from_rows.get(video, -1) for video, row in zip(videos, rows)], dtype=np.int64)
    return out


def video_labels(videos: list[str], rows: list[ManifestRow | None],
                 per_modality: dict[str, np.ndarray]) -> np.ndarray:
    """int64 (V,) labels: the manifest's when given, else FAKE when any modality's label is.

    Raises:
        TableError: a video without a manifest row has no label in any score file.
    """
    if all(row is not None for row in rows):
        return np.array([int(row.label == FAKE) for row in rows], dtype=np.int64)
    stacked = np.stack(list(per_modality.values()))
    missing = [v for v, known in zip(videos, (stacked >= 0).any(axis=0)) if not known]
    if missing:
        raise TableError(f"{len(missing)} video(s) have no label in the score files, e.g. "
                         f"{missing[:3]}; pass --manifest")
    logger.warning("labels from the score files: a video counts as FAKE when its face or any audio "
                   "window is; pass --manifest for the dataset's own labels")
    return stacked.max(axis=0).astype(np.int64)


def modality_group(video_label: str | None, audio_label: str | None) -> str:
    """The breakdown key of a file's modality labels, e.g. ``video=FAKE audio=REAL`` (? if unknown)."""
    return f"video={video_label or '?'} audio={audio_label or '?'}"


def fake_family(row: ManifestRow) -> str:
    """What made a video: ``real``, its generator family (else generator, else ``?``), or ``variant:KIND``
    for our pseudo-fake variants (their rows carry their real source's columns)."""
    kind = variant_kind(row.path)
    if kind is not None:
        return f"variant:{kind}"
    if row.label == REAL:
        return "real"
    return row.family or row.generator or "?"


def report_groups(rows: list[ManifestRow | None]) -> dict[str, np.ndarray]:
    """Breakdowns for the report: by dataset, by modality labels and by family (`fake_family`); empty
    without a manifest."""
    if not rows or any(r is None for r in rows):
        return {}
    return {"dataset": np.array([r.dataset or "?" for r in rows], dtype=str),
            "modality": np.array([modality_group(r.video_label, r.audio_label) for r in rows], dtype=str),
            "family": np.array([fake_family(r) for r in rows], dtype=str)}


def write_outputs(directory: Path, stacker: LGBMStacker, data: TrainingData, *,
                  max_error: float = DEFAULT_MAX_ERROR, equal_classes: bool = True,
                  settings: dict[str, Any] | None = None) -> tuple[CvReport, DecisionBand]:
    """Writes the bundle, ``report.json``, charts, ``oof.csv`` (per-video out-of-fold scores) and the
    training table (``table.npz``, `avdetect.training.stacker_table`: the stacker can be fitted again from it).

    `equal_classes`: the stacker was fitted with class-balanced weights (`fit_stacker`'s default), so its
    reliability is drawn, and the band's error rates are held, with both classes weighing the same.
    `settings`: how it was fitted (seed, balance, ...), kept in the report as ``fit``.

    The decision band (real / inconclusive / fake) is fitted on the stacker's out-of-fold probabilities,
    each decided verdict held to ``max_error``.
    """
    baseline = data.table.column(BASELINE)
    report = cv_report(stacker, data.y, baseline=baseline, modality_labels=data.modality_labels,
                       groups=data.groups)
    extra = {"sources": data.sources, "n_videos": len(data.y), "n_fake": int(data.y.sum()),
             "cv": {k: m.to_dict() for k, m in report.metrics.items()}, "fit": settings or {}}
    weights = equal_class_weights(data.y) if equal_classes else None
    band = fit_band(data.y, stacker.oof_proba_, max_error=max_error, sample_weight=weights)
    save_bundle(directory, stacker, aggregate=AggregateConfig(), extra=extra, band=band)
    write_report(directory, report, data.y, p=stacker.oof_proba_, baseline=baseline,
                 extra={**extra, "decision": band.to_json()}, equal_classes=equal_classes)
    columns = {"fold": data.folds, "label": data.y, "p_fake": stacker.oof_proba_,
               **{f"p_{m}": stacker.oof_verdicts_[m] for m in ("visual", "audio", "sync")},
               "frame_mean": baseline}
    write_scores(directory / "oof.csv", data.table.videos.tolist(), columns)
    save_table(data, directory / TABLE_FILE)
    return report, band


def rebundle(output: Path, old: ModelBundle, data: TrainingData) -> Path:
    """OUTPUT/bundle.json: the stacker in OUTPUT/stacker with the branches, block weights (the sync net)
    and scoring spec of the verified bundle `old` (`load_bundle`), whose training table it was fitted on
    (`data`: its columns, perhaps fewer, become the spec's features; blocks it no longer reads are not run).
    OUTPUT is another folder than `old`'s: the stacker written there would have replaced `old`'s.
    """
    for part in old.directory.iterdir():  # block weights (sync/...) travel as they are
        if part.is_dir() and part.name not in {"stacker", "visual", "audio"}:
            shutil.rmtree(output / part.name, ignore_errors=True)
            shutil.copytree(part, output / part.name)
    card = {**old.card, "refitted_from": str(old.directory)}
    kept = set(data.table.names)
    extractors = tuple(e for e in old.spec.extractors
                       if e in DEFAULT_EXTRACTORS or kept.intersection(get_extractor(e).names))
    spec = dataclasses.replace(old.spec, features=tuple(data.table.names), extractors=extractors)
    return assemble_bundle(output, stacker=output / "stacker", spec=spec, visual=old.visual, audio=old.audio,
                           card=card)


