"""`avdetect train-sync MANIFEST --cache CACHE -o OUT`: the learnt sync network, on real talkers only.

Resumable: rerunning the same command continues from OUT/last (saved every `--save-every` steps). Writes
OUT/sync.{safetensors,json} (float16, well under 2 MB), OUT/split.csv (which clips trained it and which
were held out), OUT/metrics.jsonl and OUT/train.log. The features read the package's copy
(avdetect/model/sync/); copy sync.json and sync.safetensors there to ship it.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-sync", help="train the learnt lip-sync network on real talkers only")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (resumes from it)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--save-every", type=int, default=250)
    p.add_argument("--holdout-fraction", type=float, default=0.25, help="share of actors never trained on")
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
    rows = read_manifest(args.manifest)
    train = load_clips([r for r in rows if not is_held_out(r, config)], args.cache, config)
    held_out = load_clips([r for r in rows if is_held_out(r, config)], args.cache, config)
    write_split(args.output / "split.csv", train, held_out)
    print(f"{len(train)} training clips, {len(held_out)} held out")
    path = train_sync(train, held_out, args.output, config)
    print(f"{path}")
    return 0
