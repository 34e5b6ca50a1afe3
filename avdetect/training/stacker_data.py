"""The stacker's training data: the branches' out-of-fold scores, folds and labels read into one feature
row per video (`TrainingData`, `load_training_data`), and the same with fewer columns (`drop_features`), fewer
rows (`select_rows`), or the voice stacker's rows and columns (`voice_rows`).

`avdetect.training.stacker` fits the stacker on it; `avdetect.training.stacker_table` keeps it with the model.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from avdetect.corpus.folds import fold_map, read_folds
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest
from avdetect.corpus.variants import foreign_voice, sync_label, variant_kind
from avdetect.defaults import AUDIO_WINDOW_S
from avdetect.errors import InputError
from avdetect.features.registry import get_extractor
from avdetect.training.video_features import FEATURES_DIR
from stacking.aggregate import AUDIO, AggregateConfig, audio_names, build_feature_table
from stacking.errors import TableError
from stacking.records import FeatureTable
from stacking.report import BASELINE
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
    groups: dict[str, np.ndarray]  # "dataset"/"modality"/"family" -> str (V,), the report's breakdowns
    sources_of_rows: np.ndarray  # str (V,) source group of each video (the manifest's group; else itself)
    sources: dict[str, str]  # modality -> the file its scores came from
    extractors: tuple[str, ...] = ()  # `avdetect.features` blocks among the columns (RUNS/features/*.csv)


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
    check_blocks_complete(blocks, videos, oof_dir / FEATURES_DIR)
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


def check_blocks_complete(blocks: dict[str, Any], videos: list[str], folder: Path) -> None:
    """Raises TableError when a block has no row for some scored video: a missing row becomes NaN, and
    when the missing rows are of one class (a run cut short, blocks of other manifests) NaN stands for it.
    A video without a face has a row of NaN, which is the block's answer, not a gap."""
    for name, table in blocks.items():
        missing = sorted(set(videos) - set(table.video.tolist()))
        if missing:
            raise TableError(f"{folder / name}.csv has no row for {len(missing)} of the {len(videos)} scored "
                             f"videos, e.g. {missing[:2]}; write it again with `avdetect video-features` "
                             "on the same manifest (or remove it to fit without that block)")


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


def drop_features(data: TrainingData, patterns: Sequence[str], *, option: str = "--drop-features") -> TrainingData:
    """`data` without the feature columns whose names match any of the shell-style `patterns`
    (``face_spectrum_*``); a feature block left with no column leaves `extractors`, so scoring skips it.

    Raises:
        InputError: a pattern matches nothing, or it would drop the frame-mean baseline the report needs
            (the message names `option`, the command-line option the patterns came from).
    """
    dropped = set(matching(data.table.names, patterns, option=option))
    kept = tuple(name for name in data.table.names if name not in dropped)
    if BASELINE not in kept:
        raise InputError(f"{option}: {BASELINE} (the report's baseline) cannot be dropped")
    return keep_columns(data, kept)


def matching(names: Sequence[str], patterns: Sequence[str], *, option: str, hint: str = "") -> list[str]:
    """The `names` that match one of the shell-style `patterns` (``face_spectrum_*``), in their order.

    Raises:
        InputError: a pattern matches none of them (the message names `option`, the command-line option, and
            ends with `hint`).
    """
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise InputError(f"{option} {pattern}: matches none of the {len(names)} features{hint}")
    return [name for name in names if any(fnmatch.fnmatchcase(name, p) for p in patterns)]


def keep_columns(data: TrainingData, kept: Sequence[str]) -> TrainingData:
    """`data` with only the feature columns `kept` (in `data`'s order); a feature block left with no column
    leaves `extractors`, so scoring skips it."""
    wanted = set(kept)
    keep = [i for i, name in enumerate(data.table.names) if name in wanted]
    table = FeatureTable(data.table.videos, data.table.X[:, keep], tuple(data.table.names[i] for i in keep))
    blocks = tuple(b for b in data.extractors if any(n in table.names for n in get_extractor(b).names))
    return dataclasses.replace(data, table=table, extractors=blocks)


# The feature blocks made from the voice alone: the voice stacker reads them with the voice scores' columns.
VOICE_BLOCKS = ("voice_embed", "voice_pitch", "voice_spectrum")


def voice_rows(data: TrainingData) -> TrainingData:
    """The voice stacker's rows and columns: every row whose voice has a known label of its own, judged by
    that label, on the columns made from the voice alone (`voice_columns`).

    Those rows are the files without a face (speech files: their label is the voice's) and the videos whose
    manifest gives an audio label, labelled by it (a face swap with its own voice is a real voice), but not
    the dubs: their voice is another speaker's real speech, a fake only beside that face
    (`avdetect.corpus.variants.foreign_voice`). The videos' voices are real people in the wild, which
    the speech files alone lack; scoring gives the voice stacker the inputs without a face.

    Raises:
        InputError: fewer than two files without a face of each class (nothing to fit a voice stacker for).
    """
    faceless = data.table.column("has_face") == 0
    if min(int((data.y[faceless] == 1).sum()), int((data.y[faceless] == 0).sum())) < 2:
        raise InputError(f"--voice-folds: {int(faceless.sum())} row(s) without a face "
                         f"({int(data.y[faceless].sum())} fake); the voice stacker needs real and fake files "
                         "without a face (speech files)")
    audio = data.modality_labels.get("audio", np.full(len(data.y), -1))
    own_voice = np.array([not foreign_voice(video) for video in data.table.videos], dtype=bool)
    heard = (data.table.column("has_audio") > 0) & (audio >= 0) & own_voice
    rows = np.flatnonzero(faceless | heard)
    voice = select_rows(data, rows)
    voice = dataclasses.replace(voice, y=np.where(audio[rows] >= 0, audio[rows], data.y[rows]).astype(np.int64))
    return keep_columns(voice, voice_columns(voice.table.names))


def voice_columns(names: Sequence[str]) -> list[str]:
    """The columns of `names` made from the voice alone: the voice scores' statistics (`audio_names`) and the
    `VOICE_BLOCKS` columns."""
    made = set(audio_names(AggregateConfig())) | {n for b in VOICE_BLOCKS for n in get_extractor(b).names}
    return [name for name in names if name in made or name.startswith(AUDIO)]


def select_rows(data: TrainingData, rows: np.ndarray) -> TrainingData:
    """`data` with only `rows` (indices or a boolean mask), every per-video array cut alike."""
    table = FeatureTable(data.table.videos[rows], data.table.X[rows], data.table.names)
    return dataclasses.replace(
        data, table=table, y=data.y[rows], folds=data.folds[rows], sources_of_rows=data.sources_of_rows[rows],
        modality_labels={k: v[rows] for k, v in data.modality_labels.items()},
        groups={k: np.asarray(v)[rows] for k, v in data.groups.items()})
