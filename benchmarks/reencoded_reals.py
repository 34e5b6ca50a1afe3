"""Do re-encoded real videos look faker to models that never saw them? Measured out of fold.

`benchmarks/robustness.py` re-encodes videos the shipped model trained on, so part of what it shows is
the model forgetting videos it memorised. This asks the held-out question instead, on a recipe's WORK_DIR
(`data/shipped/train.sh`, with its fold models still in WORK_DIR/runs/visual/fold*): every real video of
WORK_DIR/sources.csv is re-encoded (x264 at --crf, the audio stream copied), extracted into WORK_DIR/cache,
and given out-of-fold branch scores: its face crops scored by the face CNN of its source's fold (trained
without that fold), its voice windows the source's (the audio stream is the same bits; the container may
shift a window), its sync features and feature blocks measured on it. The stacker settings of MODEL are
then fitted once per fold on the other folds' videos (no copy among them) and score that fold's copies.
Prints the reals' out-of-fold p_fake (MODEL/stacker/oof.csv) against their copies', overall and by dataset.
The copies, their manifest and the combined tables (runs/, folds.csv, all.csv: `fit-stacker` takes them)
are kept in WORK_DIR/reencoded_crf<CRF>; a second run re-encodes nothing.

    .venv/bin/python benchmarks/reencoded_reals.py --work out/next --model avdetect/model [--crf 28]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perception import ffmpeg_exe  # noqa: E402

def copy_name(path: Path) -> str:
    return f"{path.parent.name}__{path.stem}"


def make_copies(work: Path, crf: int) -> tuple[Path, dict[str, str]]:
    """The re-encoded copies and their manifest (REAL, in their source's group); copy path -> source path."""
    from avdetect.corpus.manifest import read_manifest, write_manifest

    folder = (work / f"reencoded_crf{crf}").resolve()
    folder.mkdir(exist_ok=True)
    rows, source_of = [], {}
    for row in read_manifest(work / "sources.csv"):
        if row.label != "REAL" or "/video/" not in str(row.path):
            continue
        out = folder / f"{copy_name(row.path)}.mkv"
        if not out.exists():
            subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(row.path), "-map", "0:v:0", "-map", "0:a?",
                            "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
                            "-x264-params", "mbtree=0", "-c:a", "copy", str(out)], check=True, timeout=600)
        rows.append(dataclasses.replace(row, path=out, dataset=f"{row.dataset} (re-encoded)"))
        source_of[str(out)] = str(row.path)
    manifest = folder / "manifest.csv"
    write_manifest(rows, manifest)
    return manifest, source_of


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


def visual_rows(work: Path, manifest: Path, source_fold: dict[str, int]) -> list[list]:
    """OOF-format rows of the copies' face crops, each scored by its source fold's face CNN."""
    from avdetect.branches.visual import VisualClassifier
    from avdetect.corpus.cache_index import cache_loader
    from avdetect.corpus.manifest import read_manifest
    from avdetect.errors import AvdetectError
    from avdetect.training.visual import crops_from_perception

    config = json.loads((work / "runs/visual/train_config.json").read_text())
    load, models, out = cache_loader(work / "cache"), {}, []
    for row in read_manifest(manifest):
        k = source_fold[str(row.path)]
        model = models.setdefault(k, VisualClassifier.load(work / f"runs/visual/fold{k}/model.json"))
        try:
            crops = crops_from_perception(load(row.path), video=str(row.path), label=0, group=row.group,
                                          frames_per_track=config["frames_per_track"])
        except AvdetectError:
            continue  # no face: the copy has no visual rows, as its source may have none
        p = model.predict_crops(crops.crops, batch_size=4)
        out += [[str(row.path), t, f, f"{s:.6g}", 0, k, f"{q:.6g}"]
                for t, f, s, q in zip(crops.tracks, crops.frames, crops.times_s, p)]
    return out


def combined_runs(work: Path, manifest: Path, source_of: dict[str, str], extractors: list[str], out: Path) -> Path:
    """OUT/runs: WORK_DIR's out-of-fold tables plus the copies' rows; OUT/folds.csv, OUT/all.csv likewise."""
    from avdetect.cli import main
    from avdetect.corpus.folds import read_folds
    from avdetect.corpus.manifest import read_manifest, write_manifest

    folds = {str(f.path): f for f in read_folds(work / "folds.csv")}
    source_fold = {c: folds[s].fold for c, s in source_of.items()}
    runs = out / "runs"
    head, rows = read_csv(work / "runs/visual/oof.csv")
    write_csv(runs / "visual/oof.csv", head, rows + visual_rows(work, manifest, source_fold))
    head, rows = read_csv(work / "runs/audio/oof.csv")
    copies_of: dict[str, list[str]] = {}
    for copy, source in source_of.items():
        copies_of.setdefault(source, []).append(copy)
    write_csv(runs / "audio/oof.csv", head, rows + [[c, *r[1:]] for r in rows for c in copies_of.get(r[0], [])])
    cache = ["--cache", str(work / "cache")]
    measured = {"sync/features.csv": out / "sync.csv", **{f"features/{e}.csv": out / "blocks" / f"{e}.csv"
                                                          for e in extractors}}
    if (main(["sync-features", str(manifest), *cache, "-o", str(out / "sync.csv")])
            or main(["video-features", str(manifest), *cache, "-o", str(out / "blocks"),
                     "--extractors", ",".join(extractors)])):
        raise SystemExit("avdetect sync-features or video-features failed")
    for name, new in measured.items():
        head, rows = read_csv(work / "runs" / name)
        write_csv(runs / name, head, rows + read_csv(new)[1])
    head, rows = read_csv(work / "folds_videos.csv")
    write_csv(out / "folds.csv", head, rows + [[c, folds[s].group, folds[s].fold] for c, s in source_of.items()])
    write_manifest(read_manifest(work / "all.csv") + read_manifest(manifest), out / "all.csv")
    return runs


def held_out_copies(out: Path, runs: Path, model: Path, copies: set[str]) -> dict[str, float]:
    """Copy path -> P(fake) from MODEL's stacker settings fitted on the other folds' videos (no copy)."""
    from avdetect.training.stacker import FIT_SETTINGS, fit_stacker
    from avdetect.training.stacker_data import load_training_data, select_rows
    from stacking.records import FeatureTable

    report = json.loads((model / "stacker/report.json").read_text())
    names = json.loads((model / "stacker/config.json").read_text())["feature_names"]
    settings = {k: report["fit"][k] for k in FIT_SETTINGS if k in report.get("fit", {})}
    data = load_training_data(runs, out / "folds.csv", out / "all.csv")
    X = data.table.X[:, [data.table.names.index(n) for n in names]]
    data = dataclasses.replace(data, table=FeatureTable(data.table.videos, X, tuple(names)))  # the model's columns
    copy = np.array([v in copies for v in data.table.videos])
    scores = {}
    for k in np.unique(data.folds[copy]):
        stacker = fit_stacker(select_rows(data, ~copy & (data.folds != k)), **settings)
        test = np.flatnonzero(copy & (data.folds == k))
        scores.update(zip(data.table.videos[test].tolist(), stacker.predict_proba(X[test])[:, 1].tolist()))
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a recipe's WORK_DIR, with runs/visual/fold*")
    parser.add_argument("--model", type=Path, required=True, help="the bundle fitted on it (its OOF and settings)")
    parser.add_argument("--crf", type=int, default=28, help="x264 quality of the copies (default 28)")
    args = parser.parse_args(argv)
    if not list((args.work / "runs" / "visual").glob("fold*/model.json")):
        parser.error(f"{args.work / 'runs/visual'} holds no fold*/model.json: the face CNNs of the folds are made by "
                     "`train visual --folds` and are not among the stages data/shipped/progress.sh keeps (rerun "
                     "the recipe with PROGRESS=0, or `train visual` alone, first)")
    from avdetect.bundle import load_bundle
    from avdetect.cli import main as cli
    from avdetect.corpus.manifest import read_manifest
    from avdetect.features.registry import VIDEO_EXTRACTORS

    manifest, source_of = make_copies(args.work, args.crf)
    if cli(["extract", str(manifest), "-o", str(args.work / "cache")]) != 0:
        raise SystemExit("avdetect extract failed")
    spec = load_bundle(args.model).spec
    extractors = [e for e in spec.extractors if e in VIDEO_EXTRACTORS and not VIDEO_EXTRACTORS[e].checkpoint]
    out = manifest.parent / "runs"
    runs = combined_runs(args.work, manifest, source_of, extractors, out)
    copies = held_out_copies(out, runs, args.model, set(source_of))
    with (args.model / "stacker/oof.csv").open(newline="", encoding="utf-8") as f:
        oof = {r["path"]: float(r["p_fake"]) for r in csv.DictReader(f)}
    datasets = {str(r.path): r.dataset for r in read_manifest(manifest)}
    print(f"{args.model}: real videos of {args.work} out of fold, and their x264 CRF {args.crf} copies out of fold")
    print(f"{'videos':<52} {'n':>3} {'p real':>7} {'p copy':>7} {'fake at 0.5: real':>18} {'copy':>5}")
    groups = {"all": list(copies)}
    for copy in copies:
        groups.setdefault(datasets[copy].replace(" (re-encoded)", ""), []).append(copy)
    for name, members in groups.items():
        p_real = np.array([oof[source_of[c]] for c in members])
        p_copy = np.array([copies[c] for c in members])
        print(f"{name[:52]:<52} {len(members):>3} {p_real.mean():>7.3f} {p_copy.mean():>7.3f} "
              f"{np.mean(p_real >= 0.5):>18.0%} {np.mean(p_copy >= 0.5):>5.0%}")


if __name__ == "__main__":
    main()
