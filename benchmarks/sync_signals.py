"""The hand-made lip-sync signal, plain and made robust to a moving head and to noise, on a recipe's cache.

    .venv/bin/python benchmarks/sync_signals.py --work out/next [--per-set 60]

WORK is a `data/shipped/train.sh` folder (its `all.csv` and `cache/`). Sets: the real talking videos, their
shifted and dubbed copies (`avdetect variants`, the first `--per-set` of each) and the shared data's
lip-sync and talking-head fakes. Only clips with speech over a tracked mouth count (as scoring gates them).
For each `SyncConfig` (`avdetect.perception.lipsync`): the share of real talkers whose best lag lies
within 0.1 s and their median |lag|, then the AUC of |best lag| (larger: fake) and of the correlation at
lag 0 (smaller: fake) of the reals against each set, orientation fixed in advance, nothing fitted; and
the seconds of CPU the features take per 10 s of video. "plain" is the `sync` block, "both" the
`sync_motion` block (`avdetect.features.sync_motion`).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from avdetect.corpus.cache_index import cache_loader
from avdetect.errors import AvdetectError
from avdetect.features.sync_motion import SEARCH_PX, SPEECH_BAND_HZ
from avdetect.perception.lipsync import SyncConfig, clip_sync

CONFIGS = {
    "plain": SyncConfig(),
    "speech band": SyncConfig(speech_band_hz=SPEECH_BAND_HZ),
    "motion search": SyncConfig(motion_search_px=SEARCH_PX),
    "both": SyncConfig(motion_search_px=SEARCH_PX, speech_band_hz=SPEECH_BAND_HZ),
}
LIPSYNC = {"wav2lip", "videoretalking", "musetalk", "dinet"}


def set_of(row: dict[str, str]) -> str | None:
    """The row's set: real, shift, dub, lip-sync, talking-head; None for the rest (blends, speech files)."""
    path = row["path"]
    if "/video/" not in path:
        return None
    if "#" in path:
        kind = path.rsplit("#", 1)[1].split("=", 1)[0]
        return kind if kind in ("shift", "dub") else None
    if row["label"] == "REAL":
        return "real"
    return "lip-sync" if row.get("family") in LIPSYNC else "talking-head" if row.get("family") else None


def measure(work: Path, per_set: int) -> tuple[dict[str, dict[str, list[tuple[float, float]]]], dict[str, float]]:
    """set -> config -> [(|best lag|, corr at 0)] of the clips with sync evidence; config -> CPU s per 10 s
    of those clips."""
    load = cache_loader(work / "cache")
    with (work / "all.csv").open(newline="", encoding="utf-8") as f:
        rows = [(r, s) for r in csv.DictReader(f) if (s := set_of(r))]
    taken: dict[str, int] = {}
    values: dict[str, dict[str, list[tuple[float, float]]]] = {}
    seconds, video_s = dict.fromkeys(CONFIGS, 0.0), 0.0
    for row, name in rows:
        if name in ("shift", "dub") and taken.get(name, 0) >= per_set:
            continue
        try:
            seen = load(Path(row["path"]))
        except AvdetectError:
            continue
        results, spent = {}, {}
        for config_name, config in CONFIGS.items():
            start = time.process_time()
            results[config_name] = clip_sync(seen, config)
            spent[config_name] = time.process_time() - start
        if results["plain"] is None:
            continue
        taken[name] = taken.get(name, 0) + 1
        video_s += seen.clip.audio_duration_s
        seconds = {k: seconds[k] + spent[k] for k in seconds}
        for config_name, features in results.items():
            values.setdefault(name, {}).setdefault(config_name, []).append(
                (abs(features.best_lag_s), features.at_zero))
    return values, {k: 10 * v / video_s for k, v in seconds.items()} if video_s else {}


def auc(real: np.ndarray, fake: np.ndarray) -> str:
    return f"{roc_auc_score(np.r_[np.zeros(len(real)), np.ones(len(fake))], np.r_[real, fake]):.2f}"


def print_table(values: dict[str, dict[str, list[tuple[float, float]]]], cost: dict[str, float]) -> None:
    others = [s for s in ("shift", "dub", "lip-sync", "talking-head") if s in values]
    counts = ", ".join(f"{s} {len(next(iter(values[s].values())))}" for s in ("real", *others))
    print(f"clips with speech over a tracked mouth: {counts}")
    header = ["signal", "reals |lag|<=0.1", "median |lag|"] + [f"{s} {k}" for s in others for k in ("|lag|", "r(0)")]
    print(" | ".join(header + ["CPU s per 10 s"]))
    for config_name in CONFIGS:
        real = np.array(values["real"][config_name])
        cells = [config_name, f"{np.mean(real[:, 0] <= 0.1):.0%}", f"{np.median(real[:, 0]):.2f} s"]
        for s in others:
            fake = np.array(values[s][config_name])
            cells += [auc(real[:, 0], fake[:, 0]), auc(-real[:, 1], -fake[:, 1])]
        print(" | ".join(cells + [f"{cost.get(config_name, float('nan')):.3f}"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a data/shipped/train.sh WORK_DIR")
    parser.add_argument("--per-set", type=int, default=60, help="shifted and dubbed copies measured (default 60)")
    args = parser.parse_args()
    print_table(*measure(args.work, args.per_set))


if __name__ == "__main__":
    main()
