"""`avdetect synth-swaps`: which real talker's face goes onto which (`plan_swaps`), and the swaps written with
a real control each (`make_swaps`).

A swap shows two people: its target (the video it was made from) and its donor (the face pasted in). Both
must stay on one side of every split, so a swap's manifest row keeps the target's group and names the
donor's actor: the folds (`avdetect.corpus.folds.components`) then unite the two. Donors are therefore
drawn from real videos with an actor, and talkers are paired (each pair's targets take the other's faces)
so that the unions stay pairs, not one component that swallows every real talker. Each swap comes with its
target written through the same encoder, unchanged (a REAL row): the encode and the 16 kHz AAC sound
must not be what tells a swap from a real video.

GAN-face swaps (`plan_gan_swaps`) paste instead a face of no one (`avdetect.corpus.synth_faces.gan`, one
drawn for each real video) and keep the talker's own lips and jaw, which go on moving with the voice: what
gives them away is the face's texture, colour and seam, not lip-sync. Their rows keep the target's group
and actor (the face shows no one else).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avdetect.corpus.manifest import FAKE, REAL, ManifestRow
from avdetect.corpus.synth_faces.swap import DonorFaces, Landmarks, SwapResult, donor_faces, read_frames, swap_video
from avdetect.corpus.variant_cache import row_rng
from avdetect.corpus.variants import variant_kind
from avdetect.errors import AvdetectError, NoFaceError
from avdetect.perception.video import probe
from avdetect.pseudofakes.faces import draw_blend_params

log = logging.getLogger(__name__)

GENERATOR, GAN_GENERATOR = "classical-swap", "gan-face-swap"
DATASET, GAN_DATASET, CONTROL = "classical face swaps (ours)", "GAN-face swaps (ours)", "re-encoded reals (ours)"
DONOR_EVERY, DONOR_SECONDS = 5, 20.0  # the donor's faces: every 5th frame of its first 20 s


@dataclass(frozen=True)
class SwapJob:
    """One swap to make: `donor`'s face onto `target`, or a GAN face's where `donor` is None."""

    target: ManifestRow
    donor: ManifestRow | None


def video_sources(rows: Sequence[ManifestRow]) -> list[ManifestRow]:
    """The real videos of a manifest (not our variants of them)."""
    return [r for r in rows if r.label == REAL and r.video_label == REAL and variant_kind(r.path) is None]


def plan_swaps(rows: Sequence[ManifestRow], seed: int = 0) -> list[SwapJob]:
    """Swaps among the manifest's real videos, sorted by target path; see the module's docstring.

    Components (groups united through actors) with an actor are paired at random and swap faces both ways;
    each component without one is attached to a pair and takes its donors from it.
    """
    from avdetect.corpus.folds import components

    sources = video_sources(rows)
    by_component: dict[str, list[ManifestRow]] = {}
    for row, name in zip(sources, components(sources)):
        by_component.setdefault(name, []).append(row)
    rng = np.random.default_rng(seed)
    names = sorted(by_component)
    rng.shuffle(names)
    actors = [n for n in names if any(r.actor for r in by_component[n])]
    others = [n for n in names if n not in actors]
    pairs = [(actors[i], actors[i + 1]) for i in range(0, len(actors) - 1, 2)]
    jobs = []
    for a, b in pairs:
        jobs += _jobs(by_component[a], by_component[b], rng) + _jobs(by_component[b], by_component[a], rng)
    for i, name in enumerate(others if pairs else []):
        donors = [r for c in pairs[i % len(pairs)] for r in by_component[c]]
        jobs += _jobs(by_component[name], donors, rng)
    return sorted(jobs, key=lambda job: str(job.target.path))


def plan_gan_swaps(rows: Sequence[ManifestRow]) -> list[SwapJob]:
    """A GAN-face swap of each of the manifest's real videos, sorted by path."""
    return [SwapJob(t, None) for t in sorted(video_sources(rows), key=lambda r: str(r.path))]


def _jobs(targets: list[ManifestRow], donors: list[ManifestRow], rng: np.random.Generator) -> list[SwapJob]:
    donors = [d for d in donors if d.actor]
    return [SwapJob(t, donors[int(rng.integers(len(donors)))]) for t in targets] if donors else []


def make_swaps(jobs: Sequence[SwapJob], out_dir: Path, *, seed: int = 0, max_seconds: float = 6.0,
               progress: Callable[[int, int], None] | None = None) -> tuple[list[ManifestRow], list[tuple[str, str]]]:
    """Writes each job's swap under out_dir/video/swaps (GAN faces: video/gan-swaps) and its control under
    out_dir/video/reals (files there already are kept: a rerun resumes); returns their manifest rows and
    (target, error) of the jobs that failed.

    Raises:
        EngineMissingError: GAN-face jobs without the generator installed (before any video is written).
    """
    out_dir, find = Path(out_dir).absolute(), Landmarks()  # rows name files wherever the manifest goes
    donors = Donors(find, seed, gan=any(job.donor is None for job in jobs))
    rows, failed = [], []
    for done, job in enumerate(jobs, 1):
        try:
            rows += _make(job, out_dir, seed, max_seconds, donors)
        except (AvdetectError, OSError, ValueError) as err:  # PyAV's errors are OSErrors and ValueErrors
            log.warning("%s: %s", job.target.path, err)
            failed.append((str(job.target.path), f"{type(err).__name__}: {err}"))
        if progress:
            progress(done, len(jobs))
    return rows, failed


class Donors:
    """The faces a job pastes in: a real donor's (read once per donor) or a GAN face drawn for its target."""

    def __init__(self, find: Landmarks, seed: int, *, gan: bool):
        self.find, self.seed, self.people, self.gan = find, seed, {}, None
        if gan:  # loads the generator now: a missing package fails the run before its first file
            from avdetect.corpus.synth_faces.gan import GanFaces

            self.gan = GanFaces(seed=seed)

    def __call__(self, job: SwapJob) -> DonorFaces:
        if job.donor is None:
            return donor_faces([self.gan(row_rng(f"gan:{self.seed}", Path(job.target.path)))], self.find)
        key = str(job.donor.path)
        if key not in self.people:
            frames = read_frames(job.donor.path, every=DONOR_EVERY, max_seconds=DONOR_SECONDS)[0]
            self.people[key] = donor_faces(frames, self.find)
        return self.people[key]


def _make(job: SwapJob, out_dir: Path, seed: int, max_seconds: float, donors: Donors) -> list[ManifestRow]:
    target, donor, gan = job.target, job.donor, job.donor is None
    donor_name = "gan" if gan else str(donor.path)
    tag = hashlib.sha1(f"{seed}:{target.path}:{donor_name}".encode()).hexdigest()[:8]
    folder, donor_stem = ("gan-swaps", "gan") if gan else ("swaps", Path(donor.path).stem)
    swap = out_dir / "video" / folder / f"{Path(target.path).stem}-{donor_stem}-{tag}.mp4"
    real = out_dir / "video" / "reals" / f"{Path(target.path).stem}-{tag}.mp4"
    if not swap.exists():
        faces, params = donors(job), draw_blend_params(row_rng(seed, Path(target.path)))
        _atomic(swap, lambda tmp: _checked(swap_video(target.path, faces, tmp, params, find=donors.find,
                                                       max_seconds=max_seconds, keep_mouth=gan)))
    if not real.exists():
        _atomic(real, lambda tmp: swap_video(target.path, None, tmp, None, find=donors.find, max_seconds=max_seconds))
    duration = round(float(probe(swap).duration_s or 0.0), 3)
    audio = REAL if target.audio_label else None
    return [
        ManifestRow(path=swap, label=FAKE, group=target.group, video_label=FAKE, audio_label=audio,
                    actor=target.actor if gan else donor.actor, dataset=GAN_DATASET if gan else DATASET,
                    fake_segments=((0.0, duration),), generator=GAN_GENERATOR if gan else GENERATOR),
        ManifestRow(path=real, label=REAL, group=target.group, video_label=REAL, audio_label=target.audio_label,
                    actor=target.actor, dataset=CONTROL),
    ]


MIN_SWAPPED = 0.8  # of the frames: a swap with more frames left real would be a mislabelled real video


def _checked(result: SwapResult) -> SwapResult:
    if result.n_swapped < MIN_SWAPPED * result.n_frames:
        raise NoFaceError(f"a face was found in {result.n_swapped} of {result.n_frames} frames only")
    return result


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Writes through a temporary name, so that a killed run leaves no half file to be taken as done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def write_failures(failed: Sequence[tuple[str, str]], path: Path) -> None:
    """CSV ``path,error`` of the targets that gave no swap."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "error"])
        writer.writerows(failed)
