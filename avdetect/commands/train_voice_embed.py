"""`avdetect train-voice-embed MANIFEST --cache CACHE -o MODELS [--folds F]`: the voice_embed block's heads.

Runs the speaker encoder on the detected speech of every cached row (its features kept in MODELS/encodings.npz,
so a rerun encodes only new rows) and, `--acoustic-copies` times, each labelled voice through a random room,
equaliser and low-pass (MODELS/acoustic_copies.npz) and, `--codec-copies` times, through a random lossy codec
(MODELS/codec_copies.npz), then fits the linear head on the labelled voices and
their copies: MODELS/voice_embed/head.json on all of them and, with --folds, MODELS/fold<k>/voice_embed/head.json
without fold k, which `video-features --extractors voice_embed --models MODELS --folds F` reads to measure
every video out of fold. `--block DIR` writes that block's file (DIR/voice_embed.csv, out of fold with --folds)
from the voices just encoded, the same file `video-features` would write without encoding them again.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-voice-embed", help="fit the voice_embed block's heads on a manifest's voices")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="models folder to write")
    p.add_argument("--folds", type=Path, help="folds CSV (`avdetect folds`): also one head without each fold")
    p.add_argument("--c", type=float, default=0.01, help="inverse L2 strength of the logistic regression")
    p.add_argument("--acoustic-copies", type=int, default=1, help="degraded copies of each training voice, real "
                   "and fake alike, each through a room, equaliser and low-pass with probability 0.5 (default 1; "
                   "0: none; needs audiomentations)")
    p.add_argument("--codec-copies", type=int, default=1, help="copies of each training voice, real and fake "
                   "alike, each through a lossy codec drawn at random: mp3, aac, opus, the telephone band or AMR "
                   "(default 1; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="the copies' draws")
    p.add_argument("--block", type=Path, metavar="DIR", help="also write the voice_embed block's file for every "
                   "row to DIR/voice_embed.csv (e.g. RUNS/features, which `fit-stacker --oof RUNS` reads): out of fold "
                   "with --folds, as `video-features --extractors voice_embed --models MODELS --folds F` would")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the encoder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from avdetect.corpus.folds import fold_map, read_folds
    from avdetect.corpus.manifest import read_manifest
    from avdetect.training.video_features import HINTS
    from avdetect.training.voice_embed import (CODEC_COPIES, COPIES, STORE, HeadConfig, acoustic_copies,
                                               codec_copies, encode_rows, joined_copies, training_rows, write_heads)
    from avdetect.training.voice_embed_block import write_block

    torch.set_num_threads(args.threads)
    rows = read_manifest(args.manifest)
    fold_of = fold_map(read_folds(args.folds)) if args.folds else None
    voices = encode_rows(rows, args.cache, args.output / STORE)
    print(f"{args.output / STORE}: {len(voices.features)} of {len(rows)} rows have speech")
    config = HeadConfig(c=args.c, acoustic_copies=args.acoustic_copies, codec_copies=args.codec_copies,
                        seed=args.seed)
    labelled = training_rows(rows, voices.features)
    copies = joined_copies(acoustic_copies(labelled, args.cache, args.output / COPIES, config),
                           codec_copies(labelled, args.cache, args.output / CODEC_COPIES, config))
    metrics = write_heads(rows, voices.features, args.output, fold_of=fold_of, config=config, copies=copies)
    print(f"heads fitted on {metrics['n_real']} real and {metrics['n_fake']} fake voices"
          f"{f' and {args.acoustic_copies} acoustic and {args.codec_copies} codec copies of each' if copies else ''}"
          f" -> {args.output}")
    for k, fold in metrics["folds"].items():
        print(f"  fold {k}: {fold['n_held_out']} held out, AUC {fold['auc']:.3f}")
    if args.block:
        done = write_block(rows, voices, args.cache, args.output, args.block, fold_of=fold_of)
        print(f"{args.block / 'voice_embed.csv'}: {done.written['voice_embed']} of {len(rows)} rows")
        for reason, paths in done.left_out.items():
            print(f"left out, {reason}: {len(paths)} (e.g. {paths[0]}){HINTS.get(reason, '')}")
    return 0
