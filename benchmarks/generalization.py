"""Transfer to unseen generators: one row per held-out generator from out-of-fold scores.

    .venv/bin/python benchmarks/generalization.py --modality audio --oof RUNS/audio/oof.csv \\
        --manifest M.csv --folds F.csv [--hold-out generator|family] [--reals fold|all] [--column p_audio]

The folds must come from ``avdetect folds --hold-out generator`` (or ``family``): then every score of a
generator's fakes comes from a model that never saw that generator. Each row gives the generator's fakes
(n), the ROC AUC and EER of those fakes against the reals (by default the reals of the same folds, scored
by the same models: ``--reals fold``; ``--reals all`` uses every real), their mean P(fake) and the
fraction caught at 0.5; then the reals' false-alarm rate at 0.5 and the means over generators.
``--false-alarm RATE`` judges at the threshold where that fraction of the reals is called fake instead
(printed), e.g. 0.05 to ask how much is caught when one real in twenty is flagged. ``--logit`` reads a
column of log-odds as P(fake) = sigmoid (a feature block's score, e.g. ``voice_embed_logit`` of
``runs/features/voice_embed.csv`` with ``--folds``); empty and NaN cells are no score.

Reads any OOF table with a ``path`` column: a branch's ``oof.csv`` (a row per window or crop; the
``probability`` column is averaged per file), the stacker's ``oof.csv`` (``p_fake``, ``p_visual``,
``p_audio``, ...: the modality picks the column) or a per-file table with ``probability``. Rows whose
path is not in the manifest are counted and left out; pseudo-fake variants (``SOURCE#shift=+0.52``, made
by ``avdetect variants``) too, unless ``--variants``: then each kind is a generator of its own
(``variant:shift``, ``variant:dub``, ...) labelled as ``avdetect variants`` labels it, so a table built
from the sources' manifest (``avdetect prepare``) answers "are the shifted copies of held-out talkers
caught". ``--folds`` defaults to the OOF table's own ``fold`` column (a stacker's ``oof.csv`` has one).

``--fit FEATURES_DIR`` first makes such a table: it reads every ``FEATURES_DIR/*.csv`` feature block
(``avdetect video-features`` or ``benchmarks/voice_features.py --manifest``), fits a LightGBM classifier
per fold on the other folds' files, and writes the held-out predictions to ``--oof`` (``path, fold,
label, probability``) before printing the table; ``--blocks`` picks some of the blocks; ``--branch-oof
RUNS/audio/oof.csv`` adds per-file statistics of a branch's out-of-fold window scores as one more block
(``branch_mean``, ``_median``, ``_max``, ``_min``, ``_q25``, ``_q75``, ``_std``, ``_n``), as the stacker sees
them: the branch and the features fused per file, every score still from models that never saw the
file's generator.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODALITY_COLUMNS = {"audio": ("p_audio", "p_fake"), "video": ("p_visual", "p_fake"), "av": ("p_fake",)}
THRESHOLD = 0.5
MIN_N = 10  # generators with fewer fakes are too noisy alone; the table's second mean leaves them out


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    name: str  # the generator, or "reals", "mean over generators"
    n: int
    auc: float
    eer: float
    mean_p: float
    rate: float  # fakes: fraction with p >= the threshold (caught); reals: false alarms at it


def read_scores(path: Path, column: str | None, modality: str) -> dict[str, float]:
    """path -> P(fake) from an OOF table; several rows of one path (windows, crops) are averaged."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        column = column or next((c for c in ("probability", *MODALITY_COLUMNS[modality]) if c in fields), None)
        if column is None or column not in fields:
            raise SystemExit(f"{path}: no score column (looked for {column or 'probability/p_*'}); use --column")
        values: dict[str, list[float]] = defaultdict(list)
        for record in reader:
            value = float(record.get(column) or "nan")
            if np.isfinite(value):  # empty, or NaN where a feature block had nothing to measure
                values[record["path"]].append(value)
    return {key: float(np.mean(v)) for key, v in values.items()}


def variant_rows(rows: Sequence, scored: Iterable[str]) -> list:
    """Manifest rows for the scored variants of ``rows`` (``SOURCE#kind=...``): the source's row with the
    variant's path and labels, and ``variant:KIND`` as its generator and family."""
    from dataclasses import replace

    from avdetect.corpus.variants import FAKE, KIND_LABELS, variant_kind

    sources = {str(r.path): r for r in rows}
    made = []
    for key in scored:
        kind, source = variant_kind(key), sources.get(key.rpartition("#")[0])
        if kind is not None and source is not None:
            video, audio = KIND_LABELS[kind]
            made.append(replace(source, path=Path(key), label=FAKE, generator=f"variant:{kind}",
                                family=f"variant:{kind}", video_label=video if source.video_label else None,
                                audio_label=audio if source.audio_label else None))
    return made


def with_variants(rows: Sequence, scored: Iterable[str]) -> list:
    """`rows` with each scored variant judged as its kind (`variant_rows`): a manifest that lists the variants
    itself (``all.csv``) has them once, as ``variant:KIND``, not also under their source's empty family."""
    from avdetect.corpus.variants import variant_kind

    return [*(r for r in rows if variant_kind(r.path) is None), *variant_rows(rows, scored)]


def read_oof_folds(path: Path) -> dict[str, int]:
    """path -> fold from an OOF table's ``fold`` column (several rows of one path share it)."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "fold" not in (reader.fieldnames or []):
            raise SystemExit(f"{path}: no fold column; pass --folds")
        return {record["path"]: int(record["fold"]) for record in reader}


def modality_label(row, modality: str) -> str | None:
    """The label a modality is judged on: audio_label, video_label, or the whole file's label."""
    return {"audio": row.audio_label, "video": row.video_label, "av": row.label}[modality]


def metric_row(name: str, fakes: np.ndarray, reals: np.ndarray, threshold: float = THRESHOLD) -> Row:
    """A generator's row: its fakes against the given reals, caught at `threshold`."""
    from stacking.metrics import auc, eer

    y = np.r_[np.ones(len(fakes)), np.zeros(len(reals))]
    p = np.r_[fakes, reals]
    both = len(fakes) and len(reals)
    return Row(name, len(fakes), auc(y, p) if both else np.nan, eer(y, p) if both else np.nan,
               float(np.mean(fakes)), float(np.mean(fakes >= threshold)))


def generalization_table(rows: Sequence, folds: np.ndarray, scores: dict[str, float], *, modality: str,
                         hold_out: str = "generator", reals: str = "fold", threshold: float = THRESHOLD
                         ) -> list[Row]:
    """Rows per held-out generator (sorted by name), then the reals, then the mean over generators.

    Args:
        rows: manifest rows (`avdetect.corpus.manifest.ManifestRow`).
        folds: int (len(rows),) the fold of each row.
        scores: path (as a string) -> out-of-fold P(fake); rows without a score are left out.
        modality: "audio", "video" or "av": which label a row is judged on.
        hold_out: the manifest column that names a fake's generator ("generator" or "family").
        reals: "fold" (the reals of the folds holding the generator's fakes) or "all".
        threshold: P(fake) from which a file counts as called fake.
    """
    scored = [(r, int(f), scores[str(r.path)]) for r, f in zip(rows, folds)
              if str(r.path) in scores and modality_label(r, modality)]
    real = [(f, p) for r, f, p in scored if modality_label(r, modality) == "REAL"]
    by_gen: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r, f, p in scored:
        if modality_label(r, modality) == "FAKE":
            by_gen[getattr(r, hold_out) or "(none)"].append((f, p))
    table = []
    for name in sorted(by_gen):
        fold_set = {f for f, _ in by_gen[name]}
        pool = [p for f, p in real if reals == "all" or f in fold_set]
        table.append(metric_row(name, np.array([p for _, p in by_gen[name]]), np.array(pool), threshold))
    real_p = np.array([p for _, p in real])
    table.append(Row("reals", len(real_p), np.nan, np.nan, float(real_p.mean()) if len(real_p) else np.nan,
                     float(np.mean(real_p >= threshold)) if len(real_p) else np.nan))
    for label, gens in ((f"mean over all {len(table) - 1}", table[:-1]),
                        (f"mean over those with n >= {MIN_N}", [g for g in table[:-1] if g.n >= MIN_N])):
        if gens:
            table.append(Row(label, sum(g.n for g in gens),
                             *(float(np.nanmean([getattr(g, k) for g in gens])) for k in ("auc", "eer", "mean_p", "rate"))))
    return table


def format_table(table: Sequence[Row], hold_out: str = "generator", threshold: float = THRESHOLD) -> str:
    """The table as aligned text: generator, n, AUC, EER, mean p, caught at the threshold (false alarms for
    reals)."""
    width = max([len(hold_out)] + [len(r.name) for r in table])
    lines = [f"{hold_out:<{width}} {'n':>5} {'AUC':>6} {'EER':>6} {'mean p':>7} {f'>={threshold:.3g}':>6}"]
    for r in table:
        lines.append(f"{r.name:<{width}} {r.n:>5} {_num(r.auc)} {_num(r.eer)} {r.mean_p:>7.3f} {r.rate:>6.3f}")
    return "\n".join(lines)


def false_alarm_threshold(rows: Sequence, scores: dict[str, float], modality: str, rate: float) -> float:
    """The P(fake) at or above which a fraction `rate` of the scored reals lie (their 1 - rate quantile)."""
    real = [scores[str(r.path)] for r in rows if str(r.path) in scores and modality_label(r, modality) == "REAL"]
    if not real:
        raise SystemExit("--false-alarm: no scored real file")
    return float(np.quantile(real, 1.0 - rate, method="higher"))


def _num(value: float) -> str:
    return f"{value:>6.3f}" if np.isfinite(value) else f"{'-':>6}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modality", choices=tuple(MODALITY_COLUMNS), required=True)
    parser.add_argument("--oof", type=Path, required=True, help="OOF table (branch, stacker or per file)")
    parser.add_argument("--manifest", type=Path, required=True, help="manifest with generator/family columns")
    parser.add_argument("--folds", type=Path,
                        help="folds from `avdetect folds --hold-out ...` (default: the OOF table's fold column)")
    parser.add_argument("--variants", action="store_true",
                        help="judge the scored pseudo-fake variants (SOURCE#kind=...) as one generator per kind")
    parser.add_argument("--hold-out", choices=("generator", "family"), default="generator")
    parser.add_argument("--reals", choices=("fold", "all"), default="fold",
                        help="reals each generator is compared with (default: those of its folds)")
    parser.add_argument("--column", help="score column (default: probability, else by modality)")
    parser.add_argument("--logit", action="store_true", help="the column holds log-odds (e.g. the voice_embed "
                        "block's voice_embed_logit in runs/features/voice_embed.csv): judged as P(fake) = sigmoid")
    parser.add_argument("--false-alarm", type=float, metavar="RATE",
                        help="judge at the threshold where this fraction of the reals is called fake (default: 0.5)")
    parser.add_argument("--fit", type=Path, metavar="FEATURES_DIR",
                        help="fit LightGBM per fold on these feature blocks and write --oof first")
    parser.add_argument("--blocks", help="with --fit: comma-separated block names (default all)")
    parser.add_argument("--branch-oof", type=Path, metavar="OOF",
                        help="with --fit: a branch's out-of-fold table whose per-file statistics join the blocks")
    args = parser.parse_args(argv)
    if args.fit and args.folds is None:
        parser.error("--fit needs --folds")
    if args.branch_oof and not args.fit:
        parser.error("--branch-oof goes with --fit")
    from avdetect.corpus.folds import align_folds, read_folds
    from avdetect.corpus.manifest import read_manifest

    rows = read_manifest(args.manifest)
    if args.fit:
        from fit_blocks import branch_statistics, fit_oof, join_blocks, read_blocks, write_oof_table

        folds = align_folds((r.path for r in rows), read_folds(args.folds))
        names, features = read_blocks(args.fit, args.blocks.split(",") if args.blocks else None)
        if args.branch_oof:
            names, features = join_blocks((names, features), branch_statistics(args.branch_oof))
        write_oof_table(args.oof, fit_oof(rows, folds, features, modality=args.modality, hold_out=args.hold_out))
        print(f"{args.oof}: LightGBM out-of-fold scores from {len(names)} features of {args.fit}")
    scores = read_scores(args.oof, args.column, args.modality)
    if args.logit:
        from scipy.special import expit

        scores = {key: float(expit(value)) for key, value in scores.items()}
    if args.variants:
        rows = with_variants(rows, scores)
    known = {str(r.path) for r in rows}
    left_out = sum(key not in known for key in scores)
    rows = [r for r in rows if str(r.path) in scores]  # the folds file need only cover the scored files
    fold_of = read_oof_folds(args.oof) if args.folds is None else read_folds(args.folds)
    folds = align_folds((r.path for r in rows), fold_of)
    threshold = THRESHOLD if args.false_alarm is None else false_alarm_threshold(rows, scores, args.modality,
                                                                                 args.false_alarm)
    table = generalization_table(rows, folds, scores, modality=args.modality, hold_out=args.hold_out,
                                 reals=args.reals, threshold=threshold)
    print(f"{args.oof}: {len(scores)} scored files ({left_out} not in the manifest, left out); "
          f"{args.modality} labels; AUC/EER against {'the reals of the same folds' if args.reals == 'fold' else 'all reals'}")
    if args.false_alarm is not None:
        print(f"threshold {threshold:.3f}: {args.false_alarm:.0%} of the reals score at or above it")
    print(format_table(table, args.hold_out, threshold))


if __name__ == "__main__":
    main()
