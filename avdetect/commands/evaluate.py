"""`avdetect evaluate SCORES --manifest M [-o REPORT_DIR]`: metrics of a scores file against labels.

SCORES is a CSV with at least ``path, p_fake`` (``avdetect`` scoring output or any other detector's),
optionally ``p_visual``, ``p_audio``, ``p_sync``. Prints AUC, log loss, ECE, EER and accuracy at 0.5
overall, by dataset and by modality labels; each modality's verdict is scored against its own label
where the manifest has one. With ``-o``, writes ``metrics.json``, ``roc.png`` and ``reliability.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from avdetect.corpus.manifest import FAKE, ManifestRow, read_manifest
from stacking.bundle import json_ready
from stacking.errors import TableError
from stacking.metrics import Metrics, by_group, format_table, summarize
from stacking.report import score_plots
from stacking.tables import floats, match_paths, read_columns

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("p_fake", "p_visual", "p_audio", "p_sync")
# Verdict column -> the manifest attribute holding the label it predicts.
VERDICT_LABELS = {"p_visual": "video_label", "p_audio": "audio_label", "p_sync": "label"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `evaluate` parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score a predictions CSV against a manifest's labels",
        description="AUC, log loss, ECE, EER and accuracy at 0.5 of a CSV with path,p_fake "
        "(optionally p_visual, p_audio, p_sync), overall, by dataset and by modality labels.",
    )
    parser.add_argument("scores", type=Path, help="CSV with path,p_fake[,p_visual,p_audio,p_sync]")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest CSV with the labels")
    parser.add_argument("-o", "--output", type=Path, help="folder for metrics.json, roc.png, reliability.png")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prints the metrics and writes the report; 2 on an input error."""
    rows, scores = load_scores(args.scores, args.manifest)
    results = evaluate(rows, scores)
    if args.output:
        write_outputs(args.output, rows, scores, results)
    print(f"{args.scores}: {len(rows)} scored files of {args.manifest}")
    for title, table in results.items():
        print(title)
        print(format_table(table))
    return 0


def load_scores(scores_path: Path, manifest_path: Path
                ) -> tuple[list[ManifestRow], dict[str, np.ndarray]]:
    """The manifest rows that have scores and their score columns (float64, NaN where empty).

    Raises:
        TableError: no path or p_fake column, probabilities outside [0, 1], a file scored twice or no
            scored file in the manifest.
    """
    columns = read_columns(scores_path)
    missing = [c for c in ("path", "p_fake") if c not in columns]
    if missing:
        raise TableError(f"{scores_path}: missing column(s) {', '.join(missing)}")
    manifest = {str(r.path): r for r in read_manifest(manifest_path)}
    mapping = match_paths(columns["path"], list(manifest),
                          [scores_path.parent, manifest_path.parent, Path()])
    keep = [i for i, p in enumerate(columns["path"]) if p in mapping]
    paths = [mapping[columns["path"][i]] for i in keep]
    if not keep:
        raise TableError(f"none of the {len(columns['path'])} scored paths is in {manifest_path}")
    if len(set(paths)) < len(paths):
        raise TableError(f"{scores_path}: a file is scored twice")
    if len(keep) < len(columns["path"]):
        logger.warning("%d scored path(s) are not in the manifest and were left out",
                       len(columns["path"]) - len(keep))
    scores = {c: floats(columns[c], c, scores_path)[keep] for c in SCORE_COLUMNS if c in columns}
    for name, p in scores.items():
        if ((p < 0) | (p > 1)).any():
            raise TableError(f"{scores_path}: {name} must be a probability in [0, 1]")
    return [manifest[p] for p in paths], scores


def evaluate(rows: list[ManifestRow], scores: dict[str, np.ndarray]) -> dict[str, dict[str, Metrics]]:
    """Titled tables of metrics: overall, per verdict, by dataset and by modality labels."""
    y = np.array([int(r.label == FAKE) for r in rows], dtype=np.int64)
    p = scores["p_fake"]
    overall = {"p_fake": summarize(y, p)}
    for column, attr in VERDICT_LABELS.items():
        if column in scores:
            labels = verdict_labels(rows, attr)
            known = labels >= 0
            overall[f"{column} vs {attr}"] = summarize(labels[known], scores[column][known])
    from avdetect.training.stacker_data import modality_group  # loads torch: not when the parser is built

    return {
        "overall": overall,
        "p_fake by dataset": by_group(y, p, [r.dataset or "?" for r in rows]),
        "p_fake by modality labels": by_group(
            y, p, [modality_group(r.video_label, r.audio_label) for r in rows]),
    }


def verdict_labels(rows: list[ManifestRow], attr: str) -> np.ndarray:
    """int64 (n,) 1 FAKE, 0 REAL, -1 unknown of the manifest attribute ``attr``."""
    from avdetect.training.stacker_data import MODALITY_LABEL_VALUES

    return np.array([MODALITY_LABEL_VALUES[getattr(r, attr)] for r in rows], dtype=np.int64)


def write_outputs(directory: Path, rows: list[ManifestRow], scores: dict[str, np.ndarray],
                  results: dict[str, dict[str, Metrics]]) -> None:
    """``metrics.json``, ``roc.png`` (every score against its own label) and ``reliability.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = {title: {k: m.to_dict() for k, m in table.items()} for title, table in results.items()}
    (directory / "metrics.json").write_text(json.dumps(json_ready(tables), indent=2) + "\n",
                                            encoding="utf-8")
    scored = {"p_fake": (verdict_labels(rows, "label"), scores["p_fake"])}
    scored.update({c: (verdict_labels(rows, a), scores[c]) for c, a in VERDICT_LABELS.items() if c in scores})
    score_plots(directory, scored, calibrated="p_fake")
