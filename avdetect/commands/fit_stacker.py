"""`avdetect fit-stacker --oof runs/ --folds folds.csv [--manifest M] -o MODEL_DIR`: fuse the branches.

Reads the branches' out-of-fold scores (``runs/visual/oof.csv``, ``runs/audio/oof.csv``,
``runs/sync/features.csv``, whichever exist), turns them into one feature row per video
(`stacking.aggregate`), fits the calibrated LightGBM stacker over the same folds the branches used, and
writes the bundle, its cross-validation report and its training table into ``MODEL_DIR/stacker/``.

`avdetect fit-stacker --from-model MODEL_DIR -o NEW` fits again on MODEL_DIR's training table (another
``--seed``, ``--balance``, ``--family-balance``, ``--max-error``, ``--booster``, ``--monotone``, fewer
features with ``--drop-features``)
and bundles the result with MODEL_DIR's branches and spec (less the feature blocks it no longer reads).

``--voice-folds F`` also fits the voice stacker into ``MODEL_DIR/voice/``: the same settings on the columns
made from the voice (``--voice-only`` columns are its alone, left out of the video stacker), on the rows of F
whose voice has a label of its own (`avdetect.training.stacker_data.voice_rows`: the files without a face
and the videos' voices, dubs aside), the generator families weighing as they come (``--voice-family-balance``)
and, with ``--voice-score COLUMN``, no trees: that out-of-fold logit calibrated. The video stacker never sees
a row without a face, so scoring gives such inputs (a WAV, a video without a face) to the voice stacker.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from typing import TYPE_CHECKING

from avdetect.defaults import AUDIO_WINDOW_S
from avdetect.errors import InputError
from stacking.decision import DEFAULT_MAX_ERROR
from stacking.metrics import format_table
from stacking.monotone import RULES
from stacking.stacker import BOOSTER_PARAMS, CALIBRATIONS, LGBMStacker

if TYPE_CHECKING:  # the training library loads torch: imported when the command runs, not to build the parser
    from avdetect.training.stacker import EvidenceBins
    from avdetect.training.stacker_data import TrainingData
    from stacking.decision import DecisionBand
    from stacking.report import CvReport

VOICE_ONLY_HINT = ("; the voice stacker reads the columns made from the voice (aud_*, n_windows, speech_s, has_audio, "
                   "voice blocks) or those --voice-columns keeps")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `fit-stacker` parser."""
    parser = subparsers.add_parser(
        "fit-stacker",
        help="fit the calibrated LightGBM stacker on the branches' out-of-fold scores",
        description="Aggregate out-of-fold frame, window and lip-sync scores into per-video features, "
        "fit a LightGBM stacker cross-fitted over the folds file, calibrate it on its out-of-fold "
        "scores, and write MODEL_DIR/stacker/ with a CV report against the frame-mean baseline.",
    )
    parser.add_argument("--oof", type=Path,
                        help="runs folder holding visual/oof.csv, audio/oof.csv, sync/features.csv")
    parser.add_argument("--folds", type=Path, help="folds CSV from `avdetect folds` (with --oof)")
    parser.add_argument("--from-model", type=Path, metavar="MODEL_DIR",
                        help="instead of --oof and --folds: fit again on this model's training table "
                        "(MODEL_DIR/stacker/table.npz) and bundle with its branches")
    parser.add_argument("--manifest", type=Path, help="manifest CSV: labels, modality labels, datasets")
    parser.add_argument("-o", "--output", type=Path, required=True, help="model folder")
    parser.add_argument("--calibration", choices=CALIBRATIONS, default="auto",
                        help="calibration method (default auto: isotonic or Platt by held-out log loss)")
    parser.add_argument("--audio-window-s", type=float, default=AUDIO_WINDOW_S,
                        help=f"audio window length when audio/oof.csv has no end_s column (default {AUDIO_WINDOW_S:g})")
    parser.add_argument("--seed", type=int, default=0, help="LightGBM bagging seed (default 0)")
    parser.add_argument("--max-error", type=float, default=DEFAULT_MAX_ERROR,
                        help="error rate each decided verdict (real, fake) is held to on the out-of-fold videos; "
                        f"the rest is inconclusive (default {DEFAULT_MAX_ERROR})")
    parser.add_argument("--balance", type=float, default=0.5,
                        help="weigh each video 1 / n(its source group, its class) ** BALANCE, classes equal in "
                        "total, so pseudo-fakes that outnumber their real source do not set the prior "
                        "(default 0.5; 1 balances fully)")
    parser.add_argument("--no-balance", action="store_true", help="weigh every video 1")
    parser.add_argument("--drop-features", type=lambda text: [p for p in text.split(",") if p], default=[],
                        metavar="PATTERNS", help="comma-separated shell patterns of feature names to leave out "
                        "(e.g. 'face_spectrum_*,spec_*': voice_spectrum's columns are spec_*); a block left with no "
                        "column is not computed when scoring")
    parser.add_argument("--voice-only", type=lambda text: [p for p in text.split(",") if p], default=[],
                        metavar="PATTERNS", help="with --voice-folds (or --from-model, which keeps its voice "
                        "stacker): feature columns only the voice stacker reads, left out of the video stacker "
                        "(e.g. 'spec_*')")
    parser.add_argument("--voice-columns", type=lambda text: [p for p in text.split(",") if p], default=[],
                        metavar="PATTERNS", help="with --voice-folds: the only columns the voice stacker reads, of "
                        "those made from the voice (e.g. 'voice_embed_logit'; default all of them)")
    parser.add_argument("--voice-score", metavar="COLUMN",
                        help="with --voice-folds: the voice stacker fits no trees and only calibrates this column, "
                        "an out-of-fold logit (e.g. voice_embed_logit, the voice_embed heads' of the folds); trees "
                        "would cut it into at most 255 steps. Default: trees on its columns")
    parser.add_argument("--voice-bands-by", type=_bins, metavar="COLUMN:EDGES",
                        help="with --voice-folds: one verdict band per bin of this column of the voices, e.g. "
                        "'speech_s:2,4' (seconds of detected speech: under 2, 2-4, 4 or more), each "
                        "holding --max-error within its bin, classes weighed alike there; scoring uses the "
                        "input's bin. Default: one band for all")
    parser.add_argument("--voice-family-balance", type=float, default=None, metavar="POWER",
                        help="--family-balance of the voice stacker (default "
                        "avdetect.training.stacker.VOICE_FAMILY_BALANCE, 0: families as they come)")
    parser.add_argument("--family-balance", type=float, default=0.0, metavar="POWER",
                        help="also divide each fake's weight by n(its family) ** POWER: the manifest's generator "
                        "family, or the kind of pseudo-fake variant; 1 weighs every family the same (default 0: off)")
    parser.add_argument("--booster", type=_booster_params, action="append", default=[], metavar="NAME=VALUE,...",
                        help="LightGBM settings of the stacker, e.g. 'num_leaves=3,min_child_samples=30' "
                        f"(any of {', '.join(BOOSTER_PARAMS)}; defaults sized for a few hundred videos); "
                        "repeatable, a later value of a setting wins")
    parser.add_argument("--monotone", choices=tuple(RULES), default="evidence",
                        help="evidence (default): in the video stacker the branch scores, the voice_embed logit "
                             "and the lip-sync lag and correlation push P(fake) one way only (stacking.monotone); "
                             "none: every column free. The voice stacker follows the evidence rules always "
                             "(avdetect.training.stacker.VOICE_MONOTONE)")
    parser.add_argument("--voice-folds", type=Path, metavar="FOLDS",
                        help="with --oof and --manifest: also fit the voice stacker (MODEL_DIR/voice), for inputs "
                        "without a face, on the voices of this folds file's rows (the files without a face and the "
                        "videos' voices labelled by their audio label, dubs aside), e.g. the branches' folds")
    bundle = parser.add_argument_group("model bundle (all three make MODEL_DIR a bundle `avdetect score` loads)")
    bundle.add_argument("--visual-model", type=Path, help="visual checkpoint JSON trained on all rows (--refit)")
    bundle.add_argument("--audio-model", type=Path, help="audio checkpoint JSON trained on all rows (--refit)")
    bundle.add_argument("--cache", type=Path, help="the extraction cache: its perception settings go with the model")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fits, saves and reports; 2 on an input error."""
    from avdetect.training.stacker import VOICE_FAMILY_BALANCE, VOICE_MONOTONE, rebundle, write_model_bundle
    from avdetect.training.stacker_data import (drop_features, keep_columns, load_training_data, matching,
                                                voice_rows)
    from avdetect.bundle import load_bundle
    from avdetect.training.stacker_table import TABLE_FILE, load_table

    _check_sources(args)
    if args.from_model:
        if args.output.resolve() == args.from_model.resolve():
            raise InputError(f"{args.output}: write the refitted model to a new folder, not over --from-model")
        old = load_bundle(args.from_model)  # a damaged bundle stops here, before anything is written
        data = load_table(old.stacker / TABLE_FILE)
    else:
        data = load_training_data(args.oof, args.folds, args.manifest, audio_window_s=args.audio_window_s)
    if args.drop_features:
        data = drop_features(data, args.drop_features)
    if args.voice_only:  # the video stacker leaves them to the voice stacker
        data = drop_features(data, args.voice_only, option="--voice-only")
    settings = {"seed": args.seed, "balance": None if args.no_balance else args.balance,
                "family_balance": args.family_balance, "calibration": args.calibration, "max_error": args.max_error,
                "drop_features": args.drop_features, "voice_only": args.voice_only,
                "voice_columns": args.voice_columns, "monotone": args.monotone, "score_column": None,
                "bands_by": None,
                "booster": {name: value for given in args.booster for name, value in given.items()}}
    voice = None
    if args.voice_folds:
        voice = load_training_data(args.oof, args.voice_folds, args.manifest, audio_window_s=args.audio_window_s)
        voice = voice_rows(drop_features(voice, args.drop_features) if args.drop_features else voice)
        bins = _evidence(voice, *args.voice_bands_by) if args.voice_bands_by else None
        if args.voice_columns:
            voice = keep_columns(voice, matching(voice.table.names, args.voice_columns, option="--voice-columns"))
        matching(voice.table.names, args.voice_only, option="--voice-only", hint=VOICE_ONLY_HINT)
        if args.voice_score:
            matching(voice.table.names, [args.voice_score], option="--voice-score")
        _fit_and_write(args.output / "voice", voice,
                       {**settings, "monotone": VOICE_MONOTONE, "score_column": args.voice_score,
                        "family_balance": VOICE_FAMILY_BALANCE
                        if args.voice_family_balance is None else args.voice_family_balance,
                        "bands_by": None if bins is None else {"column": bins.column, "edges": list(bins.edges)}},
                       equal_classes=not args.no_balance, bins=bins)
    _fit_and_write(args.output / "stacker", data, settings, equal_classes=not args.no_balance)
    bundle = None
    if args.from_model:
        bundle = rebundle(args.output, old, data)
    elif args.cache:
        bundle = write_model_bundle(args.output, data, runs=args.oof, cache=args.cache,
                                    visual_model=args.visual_model, audio_model=args.audio_model,
                                    voice=args.output / "voice" if voice else None,
                                    voice_extractors=voice.extractors if voice else ())
    if bundle:
        print(f"model bundle: {bundle}")
    return 0


def _fit_and_write(directory: Path, data: TrainingData, settings: dict, *, equal_classes: bool,
                   bins: EvidenceBins | None = None) -> None:
    """Fits one stacker with `settings` (fit-stacker's options), writes it with its report and prints both."""
    from avdetect.training.stacker import FIT_SETTINGS, fit_stacker, write_outputs

    stacker = fit_stacker(data, **{k: settings[k] for k in FIT_SETTINGS})
    report, band, binned = write_outputs(directory, stacker, data, max_error=settings["max_error"],
                                         equal_classes=equal_classes, settings=settings, bins=bins)
    print_summary(directory, data, report)
    weighed = ", classes weighed equally" if equal_classes else ""
    print(f"verdicts: {_band_line(band)} (held to {band.max_error:.0%}{weighed})")
    if binned is not None:
        print(f"verdicts by {binned.column}, each bin held to {band.max_error:.0%}{weighed} within it:")
        for k, bin_band in enumerate(binned.bands):
            print(f"  {binned.bin_label(k)} ({bin_band.n}): {_band_line(bin_band)}")


def _band_line(band: DecisionBand) -> str:
    if not band.n:
        return "no held-out rows: every verdict inconclusive"
    return (f"real below {band.low:.3f}, fake from {band.high:.3f}, inconclusive between: out of fold "
            f"{_error_line(band.real_error, 'real', 'fake')}, {_error_line(band.fake_error, 'fake', 'real')}, "
            f"{band.inconclusive_rate:.1%} inconclusive")


def _bins(text: str) -> tuple[str, tuple[float, ...]]:
    """'speech_s:2,4,6' -> ('speech_s', (2.0, 4.0, 6.0)): a column and ascending inner bin edges."""
    column, sep, edges = text.partition(":")
    try:
        values = tuple(float(e) for e in edges.split(",") if e.strip())
    except ValueError:
        values = ()
    if not sep or not column.strip() or not values or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(f"{text!r}: give COLUMN:EDGES, the edges ascending numbers, "
                                         "e.g. speech_s:2,4")
    return column.strip(), values


def _evidence(voice: TrainingData, column: str, edges: tuple[float, ...]) -> EvidenceBins:
    """The bins of `column` on the voice stacker's rows; InputError when its table has no such column."""
    from avdetect.training.stacker import EvidenceBins

    if column not in voice.table.names:
        raise InputError(f"--voice-bands-by {column}: not a column of the voices' table (e.g. speech_s, n_windows)")
    return EvidenceBins(column, edges, voice.table.column(column).astype(np.float64))


def _check_sources(args: argparse.Namespace) -> None:
    """--oof with --folds, or --from-model alone; InputError (exit 2) otherwise."""
    if args.from_model:
        clash = [f"--{k.replace('_', '-')}" for k in ("oof", "folds", "manifest", "cache", "visual_model",
                                                       "audio_model", "voice_folds") if getattr(args, k)]
        if clash:
            raise InputError(f"--from-model takes the table, branches and spec of its model: drop {', '.join(clash)}")
    elif not (args.oof and args.folds):
        raise InputError("give --oof and --folds (the branches' runs), or --from-model MODEL_DIR")
    elif args.voice_folds and not args.manifest:
        raise InputError("--voice-folds needs --manifest: the voice stacker weighs each generator family the same")
    elif not args.voice_folds and (given := _voice_options(args)):
        raise InputError(f"{given[0]} needs --voice-folds: there is no voice stacker to apply it to")


def _voice_options(args: argparse.Namespace) -> list[str]:
    """The options given that only the voice stacker (--voice-folds) reads."""
    given = {"--voice-only": args.voice_only, "--voice-columns": args.voice_columns,
             "--voice-family-balance": args.voice_family_balance is not None, "--voice-score": args.voice_score,
             "--voice-bands-by": args.voice_bands_by}
    return [option for option, value in given.items() if value]


def _booster_params(text: str) -> dict[str, float]:
    """'num_leaves=3,learning_rate=0.05' -> {'num_leaves': 3, 'learning_rate': 0.05}: a setting whose default is
    a whole number (`LGBMStacker`'s) takes only whole numbers."""
    defaults = LGBMStacker().get_params()
    params: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in BOOSTER_PARAMS:
            raise argparse.ArgumentTypeError(f"{item!r}: give NAME=VALUE with NAME one of {', '.join(BOOSTER_PARAMS)}")
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: {value!r} is not a number") from None
        whole = isinstance(defaults[name], int)
        if whole and not number.is_integer():
            raise argparse.ArgumentTypeError(f"{item!r}: {name} takes a whole number")
        params[name] = int(number) if whole else number
    return params


def print_summary(directory: Path, data: TrainingData, report: CvReport) -> None:
    """Prints the CV metrics of the stacker against the frame-mean baseline, and the verdicts'."""
    method = report.calibration["method"] or "none (too few rows)"
    print(f"{directory}: {len(data.y)} videos ({int(data.y.sum())} fake) from "
          f"{', '.join(data.sources)}; {len(np.unique(data.folds))} folds; calibration: {method}")
    names = {"stacker": "stacker", "frame_mean": "frame mean (baseline)",
             "stacker_same_rows": "stacker, videos with a face",
             "stacker_equal_classes": "stacker, classes weighed equally"}
    print("out-of-fold metrics")
    print(format_table({names[k]: m for k, m in report.metrics.items()}))
    print("per-modality verdicts (against their own labels where known)")
    print(format_table({f"p_{k}": m for k, m in report.verdicts.items() if m.n}))
    for grouping, table in report.by_group.items():
        print(f"stacker by {grouping}")
        print(format_table(table))


def _error_line(error: float, called: str, truly: str) -> str:
    """"4.9% of 'real' calls fake", or "no 'real' calls" when the band makes none (error NaN)."""
    return f"no '{called}' calls" if math.isnan(error) else f"{error:.1%} of '{called}' calls {truly}"
