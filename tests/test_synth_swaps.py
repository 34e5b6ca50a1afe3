"""Classical face swaps (`avdetect synth-swaps`): who is swapped with whom, the swap in the frame, the files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from avdetect.cli import main
from avdetect.corpus.folds import components
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest, write_manifest
from avdetect.corpus.media_writer import write_clip
from avdetect.corpus.synth_faces.recipe import plan_swaps
from avdetect.corpus.synth_faces.swap import DonorFaces, swap_frame
from avdetect.pseudofakes.faces import draw_blend_params


def _real(name: str, actor: str | None = None, group: str | None = None) -> ManifestRow:
    return ManifestRow(path=Path(f"/d/{name}.mp4"), label=REAL, group=group or name, video_label=REAL,
                       audio_label=REAL, actor=actor)


def test_swaps_pair_talkers_so_every_swap_joins_its_two_people_and_no_more():
    rows = [_real(f"a{i}", actor=f"actor{i // 2}") for i in range(12)]  # 6 actors with 2 clips each
    rows += [_real(f"grid{i}") for i in range(3)]  # no actor: they take donors, never give them
    rows += [ManifestRow(path=Path("/d/fake.mp4"), label=FAKE, group="a0", video_label=FAKE)]
    jobs = plan_swaps(rows, seed=0)
    assert sorted(str(j.target.path) for j in jobs) == sorted(str(r.path) for r in rows[:15])
    assert all(j.donor.actor and j.donor.actor != j.target.actor for j in jobs)
    assert plan_swaps(rows, seed=0) == jobs and plan_swaps(rows, seed=1) != jobs
    # the swap rows as make_swaps writes them: the target's group, the donor's actor
    swaps = [ManifestRow(path=Path(f"{j.target.path}.swap.mp4"), label=FAKE, group=j.target.group,
                         video_label=FAKE, actor=j.donor.actor) for j in jobs]
    comps = components([*rows, *swaps])
    for job, swap in zip(jobs, swaps):
        names = {c for r, c in zip([*rows, *swaps], comps) if r.path in (job.target.path, job.donor.path, swap.path)}
        assert len(names) == 1  # target, donor and swap on one side of every split
    assert max(comps.count(c) for c in set(comps)) <= 2 * 2 * 2 + 2 * 2  # pairs of actors, plus a GRID clip


def test_no_donor_with_an_actor_means_no_swaps():
    assert plan_swaps([_real("x"), _real("y")]) == []


def test_swap_changes_only_the_face_and_takes_a_donor_of_another_size():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = np.array([120, 60, 200, 160], np.float32)
    landmarks = np.array([[140, 95], [180, 95], [160, 115], [145, 138], [175, 138]], np.float32)
    donor = DonorFaces((np.full((90, 70, 3), 200, np.uint8),),
                       np.array([[[22, 35], [48, 35], [35, 50], [25, 66], [45, 66]]], np.float32))
    out = swap_frame(frame, (box, landmarks), donor, draw_blend_params(rng))
    changed = np.argwhere((out != frame).any(axis=2))
    assert out.shape == frame.shape and len(changed) > 500
    assert changed[:, 0].min() >= 60 - 27 and changed[:, 1].max() <= 200 + 27  # inside the face's crop box


def test_synth_swaps_writes_swaps_and_real_controls_and_resumes(shared_data, tmp_path, monkeypatch):
    grid = shared_data / "video/grid"
    faceless = write_clip(tmp_path / "wall.mp4", np.full((25, 96, 128, 3), 90, np.uint8), 25.0,
                          np.zeros(16000, np.float32))
    manifest = tmp_path / "in.csv"
    write_manifest([ManifestRow(path=grid / "bbaf2n.mpg", label=REAL, group="t", video_label=REAL, audio_label=REAL),
                    ManifestRow(path=grid / "swiz3n.mpg", label=REAL, group="d", video_label=REAL, actor="s2"),
                    ManifestRow(path=grid / "brbk7n.mpg", label=REAL, group="e", video_label=REAL, actor="s3"),
                    ManifestRow(path=faceless, label=REAL, group="w", video_label=REAL)], manifest)
    monkeypatch.chdir(tmp_path)
    out = Path("swaps")  # relative: the manifest must still name the files
    assert main(["synth-swaps", str(manifest), "-o", str(out), "--max-seconds", "1"]) == 0
    rows = read_manifest(out / "manifest.csv")
    assert sum(r.label == FAKE for r in rows) == sum(r.label == REAL for r in rows) == 3
    swap = next(r for r in rows if r.label == FAKE and r.group == "t")
    assert swap.actor in ("s2", "s3") and swap.generator == "classical-swap" and swap.video_label == FAKE
    assert swap.audio_label == REAL and swap.fake_segments[0][1] == pytest.approx(1.0, abs=0.05)
    control = next(r for r in rows if r.label == REAL and r.group == "t")
    assert control.video_label == REAL and control.audio_label == REAL and Path(control.path).exists()
    with (out / "failed.csv").open(newline="") as f:
        failed = list(csv.DictReader(f))
    assert [Path(r["path"]).name for r in failed] == ["wall.mp4"] and "NoFaceError" in failed[0]["error"]
    made = {Path(r.path): Path(r.path).stat().st_mtime_ns for r in rows}
    assert main(["synth-swaps", str(manifest), "-o", str(out), "--max-seconds", "1"]) == 0
    assert {Path(r.path): Path(r.path).stat().st_mtime_ns for r in read_manifest(out / "manifest.csv")} == made
