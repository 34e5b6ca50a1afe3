"""The temporal and frequency face features (issue 12) on the shared videos, each family of fakes held out.

    .venv/bin/python benchmarks/face_features.py --manifest MANIFEST --cache CACHE -o runs/faces \\
        [--families ../shared/data/MANIFEST.csv] [--visual] [--cost]

1. Table: the `face_motion` and `face_spectrum` blocks of every cached video of the manifest, written to
   OUT/face_features.csv as they finish (a rerun resumes). Caches made before `Perception.dense_faces`
   existed have no dense crops; the video is then decoded again (its dense luma) to cut them, exactly as
   the perceiver does now. The blocks also go to OUT/features/<block>.csv for `fit-stacker --oof OUT`.
2. Family-held-out evaluation: for each family of fakes (the shared MANIFEST's `family`, joined on path),
   LightGBM is trained on the other families' fakes and on the reals of four fifths of the groups, then
   scores that family's fakes and the remaining reals; nothing of a test item's group or actor (a source,
   its fakes, a person) is in training. Printed per family: AUC against the reals and the reals' false
   alarms at 0.5, for the motion block, the spectrum block and both; then the importances (gain) of a model
   fitted on everything. `--visual` adds the shipped visual CNN's scores of the main track's crops (mean,
   max, spread, frame-to-frame change) as a set of their own and with both blocks ("all"); that CNN was
   trained on some of these videos (the FF++ and DFDC ones), so its rows are optimistic there.
3. `--cost`: seconds per 10 s 1080p clip (FF++ 750_743 at 1080p, `benchmarks/perception.py`) of cutting
   the dense crops and of each block (and of `face_drift`, built but not fused), after the perceiver.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from avdetect.features.face_motion import NAMES as MOTION_NAMES
from avdetect.features.face_spectrum import NAMES as SPECTRUM_NAMES

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FEATURE_SETS = {"motion": MOTION_NAMES, "spectrum": SPECTRUM_NAMES, "both": MOTION_NAMES + SPECTRUM_NAMES}
TABLE = "face_features.csv"
TIME_COLUMNS = ("dense_s", "motion_s", "spectrum_s")
VISUAL_TABLE, VISUAL_NAMES = "visual.csv", ("visual_mean", "visual_max", "visual_std", "visual_change")


def with_dense_faces(perception, path: str, decode_config):
    """The perception with dense face crops, decoding the video again when the cache has none."""
    from avdetect.perception.faces import dense_face_tracks
    from avdetect.perception.video import read_clip

    if perception.dense_faces or not perception.faces.tracks:
        return perception, 0.0
    start = time.perf_counter()
    clip = read_clip(path, decode_config)
    dense = dense_face_tracks(perception.faces, clip)
    return dataclasses.replace(perception, dense_faces=dense), time.perf_counter() - start


def measure(perception) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Both blocks of one perception and the seconds each took."""
    from avdetect.features.registry import get_extractor

    t0 = time.perf_counter()
    motion = get_extractor("face_motion")(perception)
    t1 = time.perf_counter()
    spectrum = get_extractor("face_spectrum")(perception)
    return motion, spectrum, (t1 - t0, time.perf_counter() - t1)


def build_table(manifest: Path, cache: Path, out: Path) -> Path:
    """Writes OUT/face_features.csv (path, seconds, both blocks), resuming after the rows already there."""
    import json

    from avdetect.corpus.cache_index import cache_loader
    from avdetect.errors import AvdetectError
    from avdetect.perception.video import DecodeConfig

    decode = DecodeConfig(**json.loads((cache / "config.json").read_text())["perception"]["decode"])
    load, table = cache_loader(cache), out / TABLE
    done = set(read_rows(table)) if table.exists() else set()
    videos = [r["path"] for r in csv.DictReader(manifest.open()) if "/video/" in r["path"]]
    with table.open("a", newline="") as f:
        writer = csv.writer(f)
        if not done:
            writer.writerow(["path", *TIME_COLUMNS, *MOTION_NAMES, *SPECTRUM_NAMES])
        for path in (p for p in videos if p not in done):
            try:
                seen, dense_s = with_dense_faces(load(Path(path)), path, decode)
            except AvdetectError as err:
                print(f"skip {path}: {err}", file=sys.stderr)
                continue
            motion, spectrum, (motion_s, spectrum_s) = measure(seen)
            values = [dense_s, motion_s, spectrum_s, *motion, *spectrum]
            writer.writerow([path, *(f"{v:.6g}" for v in values)])
            f.flush()
    return table


def build_visual_table(manifest: Path, cache: Path, out: Path) -> Path:
    """Writes OUT/visual.csv: the shipped visual CNN's P(fake) on the main track's crops, summarised (mean,
    max, spread, and frame-to-frame change: the CNN score's own variation over time); resumes."""
    import torch

    from avdetect.corpus.cache_index import cache_loader
    from avdetect.errors import AvdetectError
    from avdetect.features.face_motion import main_track
    from avdetect.scoring.pipeline import Detector

    torch.set_num_threads(1)
    visual, load, table = Detector.load().visual, cache_loader(cache), out / VISUAL_TABLE
    done = set(read_rows(table)) if table.exists() else set()
    videos = [r["path"] for r in csv.DictReader(manifest.open()) if "/video/" in r["path"] and r["path"] not in done]
    with table.open("a", newline="") as f:
        writer = csv.writer(f)
        if not done:
            writer.writerow(["path", *VISUAL_NAMES])
        for path in videos:
            try:
                track = main_track(load(Path(path)))
            except AvdetectError:
                continue
            p = visual.predict_crops(track.crops) if track is not None else np.full(2, np.nan)
            writer.writerow([path, *(f"{v:.6g}" for v in (p.mean(), p.max(), p.std(), np.abs(np.diff(p)).mean()))])
            f.flush()
    return table


def write_stacker_blocks(table: Path, out: Path) -> None:
    """OUT/features/<block>.csv as `avdetect video-features` writes them, for `fit-stacker --oof OUT`
    (caches extracted before `Perception.dense_faces` existed give NaN dense columns there)."""
    rows = read_rows(table)
    (out / "features").mkdir(exist_ok=True)
    for block, names in (("face_motion", MOTION_NAMES), ("face_spectrum", SPECTRUM_NAMES)):
        with (out / "features" / f"{block}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", *names])
            writer.writerows([p, *(f"{v[n]:.6g}" for n in names)] for p, v in rows.items())


def read_rows(table: Path) -> dict[str, dict[str, float]]:
    """path -> column -> value of the feature table."""
    with table.open(newline="") as f:
        return {r.pop("path"): {k: float(v) for k, v in r.items()} for r in csv.DictReader(f)}


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The labelled videos of the table, with what the held-out evaluation needs."""

    paths: list[str]
    X: dict[str, np.ndarray]  # feature set -> float64 (n, d)
    y: np.ndarray  # int (n,) 1 = fake
    family: np.ndarray  # str (n,) "" for reals
    component: np.ndarray  # int (n,) connected component of shared group or actor


def load_dataset(table: Path, manifest: Path, families: Path, visual: Path | None = None) -> Dataset:
    rows = read_rows(table)
    sets = dict(FEATURE_SETS)
    if visual is not None:
        scores = read_rows(visual)
        rows = {p: {**v, **scores[p]} for p, v in rows.items() if p in scores}
        sets.update(visual=VISUAL_NAMES, all=FEATURE_SETS["both"] + VISUAL_NAMES)
    meta = {r["path"]: r for r in csv.DictReader(manifest.open())}
    fam = {str(families.parent / r["path"]): r["family"] for r in csv.DictReader(families.open())}
    paths = [p for p in rows if meta.get(p, {}).get("video_label") in ("REAL", "FAKE")]
    y = np.array([meta[p]["video_label"] == "FAKE" for p in paths], int)
    family = np.array([fam.get(p, "") or "unknown" if yi else "" for p, yi in zip(paths, y)])
    X = {name: np.array([[rows[p][c] for c in cols] for p in paths]) for name, cols in sets.items()}
    links = [(meta[p].get("group") or f"g:{p}", meta[p].get("actor") or f"a:{p}") for p in paths]
    return Dataset(paths, X, y, family, components(links))


def components(links: list[tuple[str, str]]) -> np.ndarray:
    """int (n,) union-find over items sharing a group or an actor."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            a = parent[a]
        return a

    for group, actor in links:
        parent[find("g" + group)] = find("a" + actor)
    roots = [find("g" + g) for g, _ in links]
    return np.unique(roots, return_inverse=True)[1]


def model():
    from lightgbm import LGBMClassifier

    return LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=5,
                          subsample=0.8, subsample_freq=1, colsample_bytree=0.8, class_weight="balanced",
                          n_jobs=1, verbose=-1, random_state=0)


def held_out_family(data: Dataset, X: np.ndarray, family: str, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Scores of `family`'s fakes (mean over k runs) and of every real (from the run holding it out)."""
    from sklearn.model_selection import GroupKFold

    target = data.family == family
    reals = np.flatnonzero(data.y == 0)
    fake_scores, real_scores = np.zeros(target.sum()), np.full(len(reals), np.nan)
    for _, test in GroupKFold(n_splits=k).split(reals, groups=data.component[reals]):
        test_items = np.concatenate([reals[test], np.flatnonzero(target)])
        banned = np.isin(data.component, data.component[test_items])
        train = ~banned & ~target
        fitted = model().fit(X[train], data.y[train])
        real_scores[test] = fitted.predict_proba(X[reals[test]])[:, 1]
        fake_scores += fitted.predict_proba(X[target])[:, 1] / k
    return fake_scores, real_scores


def evaluate(data: Dataset) -> None:
    from sklearn.metrics import roc_auc_score

    families = sorted(set(data.family[data.y == 1]))
    print(f"\n{len(data.paths)} videos: {int((data.y == 0).sum())} real, {int(data.y.sum())} fake\n")
    print(f"{'held-out family':20s} {'n':>3s}" + "".join(f" {s + ' AUC':>13s} {'FA':>5s}" for s in data.X))
    summary = {s: [] for s in data.X}
    for family in families:
        line = f"{family:20s} {int((data.family == family).sum()):3d}"
        for name, X in data.X.items():
            fakes, reals = held_out_family(data, X, family)
            auc = roc_auc_score(np.r_[np.zeros(len(reals)), np.ones(len(fakes))], np.r_[reals, fakes])
            false_alarms = float(np.mean(reals > 0.5))
            summary[name].append((auc, false_alarms))
            line += f" {auc:13.3f} {false_alarms:5.2f}"
        print(line)
    big = np.array([(data.family == f).sum() >= 3 for f in families])
    for label, keep in (("mean", np.ones_like(big)), ("mean (n >= 3)", big)):
        means = {name: np.mean(np.array(summary[name])[keep], axis=0) for name in data.X}
        print(f"{label:20s} {'':3s}" + "".join(f" {auc:13.3f} {fa:5.2f}" for auc, fa in means.values()))


def importances(data: Dataset, top: int = 20) -> None:
    key = "all" if "all" in data.X else "both"
    names = FEATURE_SETS["both"] + (VISUAL_NAMES if key == "all" else ())
    fitted = model().set_params(importance_type="gain").fit(data.X[key], data.y)
    gain = fitted.feature_importances_ / max(fitted.feature_importances_.sum(), 1e-12)
    print(f"\nimportance (gain share, model on all {len(data.y)} videos, features: {key})")
    for i in np.argsort(-gain)[:top]:
        print(f"  {names[i]:48s} {gain[i]:.3f}")


def cost(out: Path, clips: int = 2) -> None:
    """Seconds per 10 s 1080p clip of the dense crops and of each block (after the perceiver)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from perception import make_dfdc_like

    from avdetect.features.registry import get_extractor
    from avdetect.perception.faces import dense_face_tracks
    from avdetect.perception.perceiver import Perceiver

    torch.set_num_threads(1)
    path, perceiver = make_dfdc_like(out / "dfdc_like_1080p.mp4"), Perceiver()
    for _ in range(clips):
        seen = perceiver(path)
        start = time.perf_counter()
        dense_face_tracks(seen.faces, seen.clip)
        dense_s = time.perf_counter() - start
        _, _, (motion_s, spectrum_s) = measure(seen)
        start = time.perf_counter()
        get_extractor("face_drift")(seen)  # built, not fused (data/shipped/README.md), timed alike
        drift_s = time.perf_counter() - start
        print(f"1080p {seen.clip.info.duration_s:.1f} s, {seen.clip.luma.shape[0]} dense frames: perceive "
              f"{seen.times.total_s:.2f} s, dense crops {dense_s:.3f} s, face_motion {motion_s:.3f} s, "
              f"face_spectrum {spectrum_s:.3f} s, face_drift {drift_s:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--families", type=Path, default=SHARED / "MANIFEST.csv")
    parser.add_argument("--cost", action="store_true", help="also time the features on a 10 s 1080p clip")
    parser.add_argument("--visual", action="store_true", help="add the shipped visual CNN's scores as a feature set")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    table = build_table(args.manifest, args.cache, args.output)
    write_stacker_blocks(table, args.output)
    visual = build_visual_table(args.manifest, args.cache, args.output) if args.visual else None
    data = load_dataset(table, args.manifest, args.families, visual)
    evaluate(data)
    importances(data)
    times = np.array([[v[c] for c in TIME_COLUMNS] for v in read_rows(table).values()])
    print("\nseconds per video on the shared clips (median): " +
          ", ".join(f"{c} {m:.3f}" for c, m in zip(TIME_COLUMNS, np.median(times, axis=0))))
    if args.cost:
        cost(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
