"""Face swaps (`avdetect synth-swaps`): who is swapped with whom, the swap in the frame, the files; classical
swaps among real talkers and GAN faces of no one."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from avdetect.cli import main
from avdetect.corpus.folds import components
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest, write_manifest
from avdetect.corpus.media_writer import write_clip
from avdetect.corpus.synth_faces.recipe import GAN_GENERATOR, plan_gan_swaps, plan_swaps
from avdetect.corpus.synth_faces.swap import DonorFaces, swap_frame
from avdetect.pseudofakes.faces import draw_blend_params
from avdetect.pseudofakes.masks import mouth_mask

HAVE_GAN = importlib.util.find_spec("random_face") is not None and importlib.util.find_spec("openvino") is not None
LANDMARKS = np.array([[140, 95], [180, 95], [160, 115], [145, 138], [175, 138]], np.float32)  # in a 240 x 320 frame


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
    out = swap_frame(frame, (box, LANDMARKS), _grey_donor(), draw_blend_params(rng))
    changed = np.argwhere((out != frame).any(axis=2))
    assert out.shape == frame.shape and len(changed) > 500
    assert changed[:, 0].min() >= 60 - 27 and changed[:, 1].max() <= 200 + 27  # inside the face's crop box


def _grey_donor() -> DonorFaces:
    return DonorFaces((np.full((90, 70, 3), 200, np.uint8),),
                      np.array([[[22, 35], [48, 35], [35, 50], [25, 66], [45, 66]]], np.float32))


def test_the_mouth_mask_holds_lips_and_jaw_not_eyes_nose_or_background():
    mask = mouth_mask(240, 320, LANDMARKS)
    assert mask.shape == (240, 320) and mask.dtype == np.float32
    assert mask[140, 160] > 0.99 and mask[150, 160] > 0.99  # between the mouth corners, and the lower lip
    assert mask[95, 140] == mask[95, 180] == 0 and mask[112, 160] < 1e-3  # eyes, nose tip
    assert mask[10, 10] == 0 and mask[140, 250] == 0


def test_keeping_the_mouth_swaps_the_upper_face_and_leaves_the_lips_as_they_were():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = np.array([120, 60, 200, 160], np.float32)
    params = draw_blend_params(rng)
    whole = swap_frame(frame, (box, LANDMARKS), _grey_donor(), params)
    kept = swap_frame(frame, (box, LANDMARKS), _grey_donor(), params, keep_mouth=True)
    lips, eyes = (slice(136, 146), slice(150, 170)), (slice(92, 99), slice(136, 184))
    assert (whole[lips] != frame[lips]).any() and np.array_equal(kept[lips], frame[lips])
    assert np.array_equal(kept[eyes], whole[eyes]) and (kept[eyes] != frame[eyes]).any()


def test_gan_swaps_take_each_real_video_once_with_no_donor():
    rows = [_real("b"), _real("a", actor="x")]
    rows += [ManifestRow(path=Path("/d/fake.mp4"), label=FAKE, group="a", video_label=FAKE),
             ManifestRow(path=Path("/d/a.mp4#shift=+0.4"), label=FAKE, group="a", video_label=REAL, audio_label=REAL)]
    jobs = plan_gan_swaps(rows)
    assert [Path(j.target.path).name for j in jobs] == ["a.mp4", "b.mp4"] and all(j.donor is None for j in jobs)


def test_gan_swaps_without_the_generator_fail_with_its_install_line_and_write_no_manifest(tmp_path, monkeypatch,
                                                                                           capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "random_face" else find_spec(name, *a))
    manifest = tmp_path / "in.csv"
    write_manifest([_real("a")], manifest)
    assert main(["synth-swaps", str(manifest), "-o", str(tmp_path / "out"), "--donors", "gan"]) == 2
    assert "pip install --no-deps random-face" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.csv").exists()


@pytest.mark.skipif(not HAVE_GAN, reason="random-face and openvino are not installed")
def test_synth_swaps_pastes_gan_faces_into_real_talkers(shared_data, tmp_path):
    manifest = tmp_path / "in.csv"
    write_manifest([ManifestRow(path=shared_data / "video/grid/bbaf2n.mpg", label=REAL, group="t", video_label=REAL,
                                audio_label=REAL, actor="s1")], manifest)
    assert main(["synth-swaps", str(manifest), "-o", str(tmp_path / "out"), "--donors", "gan",
                 "--max-seconds", "1"]) == 0
    swap, control = read_manifest(tmp_path / "out" / "manifest.csv")
    assert swap.generator == GAN_GENERATOR and swap.actor == "s1" and swap.group == "t" and swap.label == FAKE
    assert Path(swap.path).parent.name == "gan-swaps" and Path(swap.path).exists()
    assert control.label == REAL and Path(control.path).exists()


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
