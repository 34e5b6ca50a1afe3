"""How far a model's scores move when the same video is re-encoded, downscaled or loses frames.

Test video is rarely the file a detector was shown: platforms re-encode, downscale and drop frames. This
takes real and fake videos of the shared data's MANIFEST.csv (spread over its datasets), makes each
transform of every one with ffmpeg (x264/AAC, kept in --work and made again only when missing), scores the
originals and every transform with the model, and prints, per transform, how much p_fake moved against the
original (mean and largest absolute change), how many verdicts changed, and the mean p_fake of the reals
and the fakes. It measures stability, not accuracy: the shipped model trained on these videos, so no AUC
is printed.

    .venv/bin/python benchmarks/robustness.py [--model DIR] [--per-class 8] [--work out/robustness]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perception import SHARED, ffmpeg_exe  # noqa: E402

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-x264-params", "mbtree=0"]
AAC = ["-c:a", "aac", "-b:a", "96k"]
# name -> ffmpeg output options (the input's streams, transformed)
TRANSFORMS: dict[str, list[str]] = {
    "re-encoded, CRF 23": [*X264, "-crf", "23", *AAC],
    "re-encoded, CRF 35": [*X264, "-crf", "35", "-c:a", "aac", "-b:a", "32k"],
    "360 px high": ["-vf", "scale=-2:'min(360,ih)'", *X264, "-crf", "23", *AAC],
    "240 px high": ["-vf", "scale=-2:'min(240,ih)'", *X264, "-crf", "23", *AAC],
    "12 fps (frames dropped)": ["-vf", "fps=12", *X264, "-crf", "23", *AAC],
}


@dataclass(frozen=True)
class Scored:
    p_fake: float
    verdict: str
    status: str


def pick_videos(manifest: Path, per_class: int) -> list[tuple[Path, int]]:
    """`per_class` REAL and FAKE video rows, taken in turn from each dataset (sorted), for variety."""
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["path"].startswith("video/") and r["label"] in ("REAL", "FAKE")]
    picked = []
    for label in ("REAL", "FAKE"):
        by_set: dict[str, list[str]] = defaultdict(list)
        for r in sorted(rows, key=lambda r: r["path"]):
            if r["label"] == label:
                by_set[r["dataset"]].append(r["path"])
        queues = [by_set[k] for k in sorted(by_set)]
        chosen: list[str] = []
        while len(chosen) < per_class and any(queues):
            for queue in queues:
                if queue and len(chosen) < per_class:
                    chosen.append(queue.pop(0))
        picked += [(manifest.parent / p, int(label == "FAKE")) for p in chosen]
    return picked


def transformed(source: Path, name: str, work: Path) -> Path:
    """`source` through the transform `name`, made once under `work`."""
    slug = "".join(c if c.isalnum() else "_" for c in name)
    out = work / slug / (source.parent.name + "__" + source.stem + ".mp4")
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), *TRANSFORMS[name], str(out)]
        subprocess.run(cmd, check=True, timeout=300)
    return out


def score(detector, path: Path) -> Scored:
    from avdetect.errors import AvdetectError

    try:
        s = detector.score(path)
    except AvdetectError as error:
        return Scored(float("nan"), "", f"{type(error).__name__}: {error}")
    return Scored(float(s.p_fake), str(s.verdict), "ok")


def table(videos: list[tuple[Path, int]], scores: dict[str, list[Scored]]) -> str:
    y = np.array([label for _, label in videos])
    base = np.array([s.p_fake for s in scores["original"]])
    lines = [f"{'version':<26} {'n':>3} {'mean |dp|':>9} {'max |dp|':>8} {'verdict changed':>15} "
             f"{'p reals':>7} {'p fakes':>7}"]
    for name, scored in scores.items():
        p = np.array([s.p_fake for s in scored])
        ok = ~np.isnan(p) & ~np.isnan(base)
        changed = sum(a.verdict != b.verdict for a, b, k in zip(scored, scores["original"], ok) if k)
        delta = np.abs(p[ok] - base[ok])
        lines.append(f"{name:<26} {int(ok.sum()):>3} {delta.mean():>9.3f} {delta.max():>8.3f} "
                     f"{changed:>9} of {int(ok.sum()):<3} {_mean(p[y == 0]):>7.3f} {_mean(p[y == 1]):>7.3f}")
    return "\n".join(lines)


def _mean(p: np.ndarray) -> float:
    """Mean of the scored values; NaN when none was scored."""
    p = p[~np.isnan(p)]
    return float(p.mean()) if len(p) else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--manifest", type=Path, default=SHARED / "MANIFEST.csv")
    parser.add_argument("--per-class", type=int, default=8, help="real and fake videos each (default 8)")
    parser.add_argument("--work", type=Path, default=Path("out/robustness"), help="where the transforms are kept")
    args = parser.parse_args(argv)
    if not args.manifest.is_file():
        sys.exit(f"no {args.manifest}: this benchmark needs the shared sample data")
    from avdetect.scoring.pipeline import Detector

    videos = pick_videos(args.manifest, args.per_class)
    detector = Detector.load(args.model)
    scores = {"original": [score(detector, path) for path, _ in videos]}
    for name in TRANSFORMS:
        scores[name] = [score(detector, transformed(path, name, args.work)) for path, _ in videos]
    failed = [(n, p.name, s.status) for n, ss in scores.items() for (p, _), s in zip(videos, ss) if s.status != "ok"]
    print(f"{args.model or 'shipped model'}: {sum(1 - y for _, y in videos)} real and {sum(y for _, y in videos)} "
          f"fake videos of {args.manifest}; p_fake of each version against the original's")
    print(table(videos, scores))
    for name, file, status in failed:
        print(f"not scored: {name} {file}: {status}")


if __name__ == "__main__":
    main()
