"""`avdetect train-sync MANIFEST --cache CACHE -o OUT`: the learnt sync network, on real talkers only.

Resumable: rerunning the same command continues from OUT/last (saved every `--save-every` steps). Writes
OUT/sync.{safetensors,json} (float16, well under 2 MB), OUT/split.csv (which clips trained it and which
were held out), OUT/metrics.jsonl and OUT/train.log. `--folds F --fold K` trains on the real clips outside
fold K (one model per fold: out-of-fold sync features for the stacker). The features read a models folder's
sync/sync.json (`video-features --models`; by default the package's, avdetect/model/sync/).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avdetect.corpus.manifest import ManifestRow


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-sync", help="train the learnt lip-sync network on real talkers only")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (resumes from it)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--holdout-fraction", type=float, default=0.25, help="share of actors never trained on")
    p.add_argument("--folds", type=Path, help="folds CSV (`avdetect folds`): with --fold, the clips of that fold are "
                   "the held-out ones instead (one model per fold gives the stacker out-of-fold sync features)")
    p.add_argument("--fold", type=int, help="the fold held out (with --folds)")
    p.add_argument("--train-on-all", action="store_true", help="hold out no clip (the model that ships, once "
                   "the per-fold models have measured it)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--mel-noise", type=float, default=0.0, help="noise std on the standardised log-mels")
    p.add_argument("--mel-mask", type=int, default=0, help="mask up to this many adjacent mel bands")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.manifest import read_manifest
    from avdetect.training.sync import SyncTrainConfig, is_held_out, load_clips, train_sync, write_split

    config = replace(SyncTrainConfig(), steps=args.steps, batch_size=args.batch_size, save_every=args.save_every,
                     holdout_fraction=args.holdout_fraction, threads=args.threads, seed=args.seed,
                     weight_decay=args.weight_decay, mel_noise=args.mel_noise, mel_mask=args.mel_mask)
    args.output.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(args.output / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logging.getLogger("avdetect.training.sync").addHandler(handler)
    logging.getLogger("avdetect.training.sync").setLevel(logging.INFO)
    if (args.folds is None) != (args.fold is None):
        raise ValueError("--folds and --fold go together")
    if args.train_on_all:
        config = replace(config, holdout_fraction=0.0, holdout_actors=(), holdout_paths=())
    rows = read_manifest(args.manifest)
    held = _fold_rule(args.folds, args.fold) if args.folds else (lambda row: is_held_out(row, config))
    train = load_clips([r for r in rows if not held(r)], args.cache, config)
    held_out = load_clips([r for r in rows if held(r)], args.cache, config)
    write_split(args.output / "split.csv", train, held_out)
    print(f"{len(train)} training clips, {len(held_out)} held out")
    path = train_sync(train, held_out, args.output, config)
    print(f"{path}")
    return 0


def _fold_rule(folds: Path, fold: int) -> Callable[[ManifestRow], bool]:
    """row -> held out: rows of `fold`, and rows the folds file does not place (never trained on unknowingly)."""
    from avdetect.corpus.folds import fold_map, read_folds

    fold_of = fold_map(read_folds(folds))
    if fold not in set(fold_of.values()):
        raise ValueError(f"{folds}: no fold {fold} (folds: {sorted(set(fold_of.values()))})")
    return lambda row: fold_of.get(str(row.path), fold) == fold
