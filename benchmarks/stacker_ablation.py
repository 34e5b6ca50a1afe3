"""How the fusion's settings change transfer: refits the stacker of a model that keeps its training table
(`fit-stacker --from-model`) once per setting and prints one row each, from the refit's out-of-fold scores
on the same folds as the model (folds holding out whole generator families when the recipe made them so).

    .venv/bin/python benchmarks/stacker_ablation.py --model out/shipped/model --manifest out/shipped/all.csv

Columns: OOF AUC and ECE (classes weighed equally) over all videos; the mean AUC over the held-out
families (each against the reals of its folds; our pseudo-fake kinds count as families, `--variants` of
`generalization.py`) and over those with n >= 10; the reals' false alarms at 0.5; the inconclusive share of
the decision band. Each setting is a line of `fit-stacker` options (`--setting NAME='OPTIONS'`, repeatable)
on top of the model's own (seed, balance, calibration, decision band, booster; a setting's `--booster`
changes only the values it names); the default list compares family weighting and leaving out each
feature block the model has.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generalization import MIN_N, generalization_table, read_oof_folds, read_scores, with_variants  # noqa: E402

BLOCKS = ("face_spectrum", "face_motion", "face_drift", "voice_embed", "voice_spectrum", "sync_motion", "sync_learnt")


def without(*blocks: str) -> str:
    """fit-stacker options that leave out every column of the feature `blocks` (`avdetect.features`)."""
    from avdetect.features.registry import get_extractor

    return "--drop-features " + ",".join(name for block in blocks for name in get_extractor(block).names)


def default_settings(features: Sequence[str]) -> dict[str, str]:
    """Family weighting, and leaving out each of `BLOCKS` that has a column among the model's `features`."""
    from avdetect.features.registry import get_extractor

    present = [block for block in BLOCKS if set(get_extractor(block).names) & set(features)]
    return {
        "as fitted": "",
        "family balance 0.5": "--family-balance 0.5",
        "family balance 1": "--family-balance 1",
        **{f"without {block}": without(block) for block in present},
        **({"branch scores and hand-made sync only": without(*present)} if present else {}),
    }


def fitted_options(fit: dict) -> list[str]:
    """The fit-stacker options that fit the stacker again as `fit` (report.json's "fit") records it."""
    options = ["--seed", str(fit.get("seed", 0)), "--calibration", fit.get("calibration", "auto"),
               "--family-balance", str(fit.get("family_balance", 0.0)),
               "--monotone", fit.get("monotone", "none")]  # models fitted before --monotone had none
    options += ["--no-balance"] if fit.get("balance", 0.5) is None else ["--balance", str(fit.get("balance", 0.5))]
    if "max_error" in fit:
        options += ["--max-error", str(fit["max_error"])]
    if fit.get("booster"):
        options += ["--booster", ",".join(f"{name}={value}" for name, value in fit["booster"].items())]
    return options


def refit(model: Path, out: Path, options: str) -> dict:
    """Fits `model`'s stacker again with its own settings and then `options` into `out`; its report.json."""
    from avdetect.cli import main

    fitted = json.loads((model / "stacker" / "report.json").read_text()).get("fit", {})
    with redirect_stdout(StringIO()):
        code = main(["fit-stacker", "--from-model", str(model), "-o", str(out), *fitted_options(fitted),
                     *shlex.split(options)])
    if code != 0:
        raise SystemExit(f"fit-stacker {options}: exit {code}")
    return json.loads((out / "stacker" / "report.json").read_text())


def summary(oof: Path, manifest_rows: Sequence, report: dict) -> dict[str, float]:
    """The row of one refit: from its report and its out-of-fold scores judged per family."""
    from avdetect.corpus.folds import align_folds

    scores = read_scores(oof, None, "av")
    rows = with_variants(manifest_rows, scores)
    rows = [r for r in rows if str(r.path) in scores]
    folds = align_folds((r.path for r in rows), read_oof_folds(oof))
    table = generalization_table(rows, folds, scores, modality="av", hold_out="family")
    families = [r for r in table if r.name != "reals" and not r.name.startswith("mean ")]
    reals = next(r for r in table if r.name == "reals")
    metrics = report["metrics"]["stacker_equal_classes"]
    return {"auc": metrics["auc"], "ece": metrics["ece"],
            "family_auc": float(np.nanmean([f.auc for f in families])),
            "family_auc_n10": float(np.nanmean([f.auc for f in families if f.n >= MIN_N])),
            "reals_fa": reals.rate, "inconclusive": report["decision"]["inconclusive_rate"]}


def format_rows(results: dict[str, dict[str, float]]) -> str:
    width = max(len("setting"), *map(len, results))
    head = f"{'setting':<{width}}  {'AUC':>6} {'ECE':>6} {'fam AUC':>8} {f'n>={MIN_N}':>7} {'real FA':>8} {'inconcl':>8}"
    lines = [head]
    for name, r in results.items():
        lines.append(f"{name:<{width}}  {r['auc']:>6.3f} {r['ece']:>6.3f} {r['family_auc']:>8.3f} "
                     f"{r['family_auc_n10']:>7.3f} {r['reals_fa']:>8.3f} {r['inconclusive']:>8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder with stacker/table.npz")
    parser.add_argument("--manifest", type=Path, required=True, help="the manifest it was fitted on (all.csv)")
    parser.add_argument("--setting", action="append", metavar="NAME=OPTIONS",
                        help="a named set of fit-stacker options (repeatable; default: the built-in list)")
    parser.add_argument("--keep", type=Path, help="keep the refitted models in this folder")
    args = parser.parse_args(argv)
    from avdetect.corpus.manifest import read_manifest

    features = json.loads((args.model / "stacker" / "config.json").read_text())["feature_names"]
    settings = dict(s.split("=", 1) for s in args.setting) if args.setting else default_settings(features)
    rows = read_manifest(args.manifest)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for i, (name, options) in enumerate(settings.items()):
            out = root / f"setting{i}"
            report = refit(args.model, out, options)
            results[name] = summary(out / "stacker" / "oof.csv", rows, report)
            print(f"{name}: {options[:100] or '(defaults)'}", file=sys.stderr)
    print(f"{args.model}: the stacker refitted per setting; out-of-fold, families held out as the model's folds")
    print(format_rows(results))


if __name__ == "__main__":
    main()
