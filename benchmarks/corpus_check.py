"""Does the detector tell real corpora apart? AUC of each real corpus against the other reals.

    .venv/bin/python benchmarks/corpus_check.py --oof OOF.csv --manifest M.csv [--modality audio] [--min-n 5]

Real speech from LibriSpeech, VCTK, LJSpeech and the other real sets differs in microphones, rooms and
codecs. A detector that learnt those recording conditions instead of synthesis artefacts scores whole
corpora as fake: here every real corpus (the manifest's ``dataset`` column) with at least ``--min-n``
scored files is ranked by its out-of-fold P(fake) against all other reals. AUC above 0.7 means that
corpus looks fake to the model (recording conditions were learnt); below 0.3, that it looks more real
than the rest (the same problem, the other way). Reads the OOF tables `benchmarks/generalization.py` reads.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FLAG = 0.7  # an AUC beyond this (or below 1 - FLAG) separates a corpus


def corpus_table(rows: Sequence, scores: dict[str, float], *, modality: str, min_n: int = 5
                 ) -> list[tuple[str, int, float, float]]:
    """(corpus, n, AUC against the other reals, mean P(fake)) per real corpus, highest AUC first."""
    from generalization import modality_label

    from stacking.metrics import auc

    by_corpus: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if modality_label(row, modality) == "REAL" and str(row.path) in scores:
            by_corpus[row.dataset or "(none)"].append(scores[str(row.path)])
    table = []
    for name, values in by_corpus.items():
        others = [p for other, v in by_corpus.items() if other != name for p in v]
        if len(values) >= min_n and others:
            y = np.r_[np.ones(len(values)), np.zeros(len(others))]
            table.append((name, len(values), auc(y, np.r_[values, others]), float(np.mean(values))))
    return sorted(table, key=lambda r: -r[2])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--oof", type=Path, required=True, help="OOF table (branch, stacker or per file)")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--modality", choices=("audio", "video", "av"), default="audio")
    parser.add_argument("--column", help="score column (default: probability, else by modality)")
    parser.add_argument("--min-n", type=int, default=5, help="smallest corpus reported (default 5)")
    args = parser.parse_args(argv)
    from generalization import read_scores

    from avdetect.corpus.manifest import read_manifest

    rows = read_manifest(args.manifest)
    table = corpus_table(rows, read_scores(args.oof, args.column, args.modality), modality=args.modality,
                         min_n=args.min_n)
    width = max([6] + [len(name) for name, *_ in table])
    print(f"{'corpus':<{width}} {'n':>5} {'AUC':>6} {'mean p':>7}  (AUC of the corpus against the other reals)")
    for name, n, value, mean_p in table:
        flag = "  <- separates" if value > FLAG or value < 1 - FLAG else ""
        print(f"{name:<{width}} {n:>5} {value:>6.3f} {mean_p:>7.3f}{flag}")
    worst = max((max(v, 1 - v) for _, _, v, _ in table), default=float("nan"))
    print(f"largest separation max(AUC, 1 - AUC): {worst:.3f} ({'fails' if worst > FLAG else 'passes'} <= {FLAG})")


if __name__ == "__main__":
    main()
