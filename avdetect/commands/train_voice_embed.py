"""`avdetect train-voice-embed MANIFEST --cache CACHE -o MODELS [--folds F]`: the voice_embed block's heads.

Embeds the detected speech of every cached row with the speaker encoder (kept in MODELS/embeddings.npz, so a
rerun embeds only new rows), then fits the linear head on the labelled voices: MODELS/voice_embed/head.json
on all of them and, with --folds, MODELS/fold<k>/voice_embed/head.json without fold k, which
`video-features --extractors voice_embed --models MODELS --folds F` reads to measure every video out of fold.
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
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the encoder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from avdetect.corpus.folds import fold_map, read_folds
    from avdetect.corpus.manifest import read_manifest
    from avdetect.training.voice_embed import STORE, HeadConfig, embed_rows, write_heads

    torch.set_num_threads(args.threads)
    rows = read_manifest(args.manifest)
    fold_of = fold_map(read_folds(args.folds)) if args.folds else None
    embeddings = embed_rows(rows, args.cache, args.output / STORE)
    print(f"{args.output / STORE}: {len(embeddings)} of {len(rows)} rows have speech")
    metrics = write_heads(rows, embeddings, args.output, fold_of=fold_of, config=HeadConfig(c=args.c))
    print(f"heads fitted on {metrics['n_real']} real and {metrics['n_fake']} fake voices -> {args.output}")
    for k, fold in metrics["folds"].items():
        print(f"  fold {k}: {fold['n_held_out']} held out, AUC {fold['auc']:.3f}")
    return 0
