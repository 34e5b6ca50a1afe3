"""How much speech a voice verdict needs: the voice stacker's out-of-fold calls by the length of the detected speech.

    .venv/bin/python benchmarks/voice_by_length.py --model out/fixed/model --work out/fixed [--threshold 0.5]

Joins MODEL/voice/oof.csv (each voice's out-of-fold p_fake) to the seconds of detected speech of the same
rows (`speech_s`, read from WORK_DIR/runs the way `fit-stacker --voice-folds` reads them, `voice_rows`) and
prints, per band of speech length, how many real voices are called fake and how many fakes are caught at the
threshold. A shorter stretch of speech gives the encoder less to go on.

Then the verdicts (real / fake / inconclusive) of the same voices by the model's pooled decision band and, when
the voice stacker has one band per bin of speech (`fit-stacker --voice-bands-by speech_s:...`), by their bin's,
as scoring gives them: the share of each class given each verdict, and the error of each decided verdict with
both classes weighing the same within the band of length (what `--max-error` holds each bin to). Those bands
were chosen on these same voices; the cross-fitted rows choose them on three folds and decide the fourth, so
their errors are what a band promises to voices it never saw.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EDGES = (0.0, 2.0, 4.0, 6.0, np.inf)  # seconds of detected speech


def by_length(seconds: np.ndarray, labels: np.ndarray, p_fake: np.ndarray, *, threshold: float = 0.5,
              edges: Sequence[float] = EDGES) -> list[tuple[str, int, float, int, float]]:
    """(band, reals, their share at the threshold or above, fakes, theirs) per band of `seconds`; NaN shares
    where a band holds none of a class."""
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (seconds >= low) & (seconds < high)
        real, fake = inside & (labels == 0), inside & (labels == 1)
        share = [float(np.mean(p_fake[m] >= threshold)) if m.any() else float("nan") for m in (real, fake)]
        band = f"{low:g}-{high:g} s" if np.isfinite(high) else f"{low:g} s or more"
        rows.append((band, int(real.sum()), share[0], int(fake.sum()), share[1]))
    return rows


def speech_seconds(work: Path) -> dict[str, float]:
    """Path -> seconds of detected speech of every voice the voice stacker learns from."""
    from avdetect.training.stacker_data import load_training_data, voice_rows

    data = voice_rows(load_training_data(work / "runs", work / "folds.csv", work / "all.csv"))
    return dict(zip(data.table.videos.tolist(), data.table.column("speech_s").tolist()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder with voice/oof.csv")
    parser.add_argument("--work", type=Path, required=True, help="the recipe's WORK_DIR it was fitted from")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    seconds = speech_seconds(args.work)
    with (args.model / "voice" / "oof.csv").open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["path"] in seconds]
    table = by_length(np.array([seconds[r["path"]] for r in rows]), np.array([int(r["label"]) for r in rows]),
                      np.array([float(r["p_fake"]) for r in rows]), threshold=args.threshold)
    print(f"{len(rows)} voices, out of fold; called fake at p_fake >= {args.threshold}")
    print(f"{'detected speech':<16} {'reals':>6} {'called fake':>11} {'fakes':>6} {'caught':>7}")
    for band, n_real, real_rate, n_fake, fake_rate in table:
        print(f"{band:<16} {n_real:>6} {real_rate:>11.0%} {n_fake:>6} {fake_rate:>7.0%}")
    print_verdicts(args.model, np.array([seconds[r["path"]] for r in rows]), np.array([int(r["label"]) for r in rows]),
                   np.array([float(r["p_fake"]) for r in rows]), np.array([int(r["fold"]) for r in rows]))
    return 0


def verdict_ways(voice, seconds: np.ndarray, labels: np.ndarray, p_fake: np.ndarray,
                 folds: np.ndarray) -> dict[str, np.ndarray]:
    """name -> each voice's verdict: by the voice stacker's pooled band and, when it has them, its bands by
    speech length, as fitted on all these voices (what ships); then the same bands cross-fitted, each fold's
    voices decided by bands fitted on the other folds' (the error a band promises, measured on voices it was
    not chosen on; `band_check.cross_fitted`)."""
    from band_check import cross_fitted

    binned = voice.binned if voice.binned is not None and voice.binned.column == "speech_s" else None
    ways = {"pooled band": voice.band.verdicts(p_fake)}
    if binned is not None:
        ways["bands by speech_s"] = binned.verdicts(p_fake, seconds)
    ways["pooled band, cross-fitted"] = cross_fitted(labels, p_fake, folds, voice.band.max_error)
    if binned is not None:
        ways["bands by speech_s, cross-fitted"] = cross_fitted(labels, p_fake, folds, voice.band.max_error,
                                                               values=seconds, edges=binned.edges)
    return ways


def print_verdicts(model: Path, seconds: np.ndarray, labels: np.ndarray, p_fake: np.ndarray,
                   folds: np.ndarray) -> None:
    """The verdicts per band of speech length, each way of `verdict_ways`."""
    from band_check import verdict_shares
    from stacking.bundle import load_bundle

    ways = verdict_ways(load_bundle(model / "voice"), seconds, labels, p_fake, folds)
    print("verdicts (reals: fake / real / inconclusive; fakes: fake / real / inconclusive; error of the fake and "
          "the real calls, classes weighed alike within the length)")
    edges = [(-np.inf, np.inf), *zip(EDGES[:-1], EDGES[1:])]
    for way, verdicts in ways.items():
        print(way)
        for low, high in edges:
            inside = (seconds >= low) & (seconds < high)
            s = verdict_shares(labels[inside], verdicts[inside])
            name = "all" if low == -np.inf else f"{low:g}-{high:g} s" if np.isfinite(high) else f"{low:g} s or more"
            print(f"  {name:<14} reals {s['real fake']:.0%} / {s['real real']:.0%} / {s['real inconclusive']:.0%}"
                  f"   fakes {s['fake fake']:.0%} / {s['fake real']:.0%} / {s['fake inconclusive']:.0%}"
                  f"   errors {s['fake error']:.0%} / {s['real error']:.0%}")


if __name__ == "__main__":
    raise SystemExit(main())
