"""Training reports (metrics, OOF table, curves) and the visual crops read from perception records."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import NoFaceError
from avdetect.perception.tracks import even_picks
from avdetect.records import Faces, FaceTrack
from avdetect.training.report import plot_curves, video_means, write_oof
from avdetect.training.visual import crops_from_perception, load_crops, visual_label
from stacking.metrics import eer, summarize


def test_metrics_of_perfect_random_and_one_class_scores() -> None:
    labels = np.array([0, 0, 1, 1])
    perfect = summarize(labels, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect.auc == 1.0 and perfect.eer == 0.0 and perfect.n_fake == 2
    inverted = summarize(labels, np.array([0.9, 0.8, 0.2, 0.1]))
    assert inverted.auc == 0.0 and inverted.eer == 1.0
    one_class = summarize(np.zeros(3), np.array([0.1, 0.5, 0.9])).to_json()
    assert one_class["auc"] is None and one_class["eer"] is None and one_class["log_loss"] > 0


def test_eer_is_where_both_error_rates_meet() -> None:
    labels = np.array([0] * 4 + [1] * 4)
    probs = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.8, 0.85, 0.9])  # one real above, one fake below threshold
    assert eer(labels, probs) == pytest.approx(0.25)


def test_video_means_average_the_frames_of_each_video() -> None:
    labels, means = video_means(np.array(["b", "a", "b", "a"]), np.array([1, 0, 1, 0]), np.array([0.2, 0.4, 0.6, 0.0]))
    np.testing.assert_array_equal(labels, [1, 0])
    np.testing.assert_allclose(means, [0.4, 0.2])


def test_oof_table_has_its_columns_in_order(tmp_path: Path) -> None:
    write_oof(tmp_path / "oof.csv", {"probability": np.array([0.25]), "path": np.array(["/v.mp4"]),
                                     "fold": np.array([2])})
    with (tmp_path / "oof.csv").open() as f:
        assert list(csv.reader(f)) == [["path", "fold", "probability"], ["/v.mp4", "2", "0.25"]]


def test_curves_png_has_a_panel_per_logged_key(tmp_path: Path) -> None:
    curves = {"fold0": [{"epoch": 1, "loss": 0.7, "heldout_auc": None}, {"epoch": 2, "loss": 0.5, "heldout_auc": None}],
              "fold1": [{"epoch": 1, "loss": 0.6, "heldout_auc": 0.7}]}
    image = Image.open(plot_curves(curves, tmp_path / "c.png"))
    assert image.width == 2 * 360  # loss and heldout_auc; heldout_log_loss was never logged
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 3  # lines were drawn


def face_track(track_id: int, n: int, size: int = 32) -> FaceTrack:
    boxes = np.tile(np.array([[100, 100, 150, 150]], np.float32), (n, 1))
    landmarks = np.tile(np.array([[[115, 120], [135, 120], [125, 130], [117, 140], [133, 140]]], np.float32), (n, 1, 1))
    return FaceTrack(track_id=track_id, frame_idx=np.arange(n), times_s=np.arange(n) / 25.0, boxes=boxes,
                     landmarks=landmarks, probs=np.ones(n, np.float32), detected=np.ones(n, bool),
                     crop_boxes=np.tile(np.array([[84, 84, 166, 166]], np.float32), (n, 1)),
                     crops=np.full((n, size, size, 3), 100 + track_id, np.uint8))


def perception(*tracks: FaceTrack) -> SimpleNamespace:
    """Only what the visual branch reads of a `Perception`."""
    return SimpleNamespace(faces=Faces(tracks=tracks, n_frames=10, detected_frame_idx=np.arange(10),
                                       detect_scale=1.0))


def test_even_picks_spread_over_the_track() -> None:
    np.testing.assert_array_equal(even_picks(10, 3), [0, 4, 9])
    np.testing.assert_array_equal(even_picks(2, 5), [0, 1])


def test_crops_from_perception_takes_a_few_frames_per_track() -> None:
    crops = crops_from_perception(perception(face_track(0, 10), face_track(3, 2)), video="/v.mp4", label=1,
                                  group="g", frames_per_track=4)
    assert len(crops) == 6 and set(crops.tracks.tolist()) == {0, 3}
    assert crops.has_landmarks.all() and crops.labels.tolist() == [1] * 6
    np.testing.assert_allclose(crops.landmarks[0, 0], (np.array([115, 120]) - 84) * 32 / 82, rtol=1e-5)
    with pytest.raises(NoFaceError):
        crops_from_perception(perception(), video="/v.mp4", label=0, group="g")


def test_load_crops_leaves_out_videos_without_faces() -> None:
    rows = [ManifestRow(Path("/a.mp4"), "FAKE", "a", video_label="REAL", audio_label="FAKE"),
            ManifestRow(Path("/b.mp4"), "REAL", "b")]
    found = {Path("/a.mp4"): perception(face_track(0, 3)), Path("/b.mp4"): perception()}
    crops = load_crops(rows, found.__getitem__)
    assert set(crops.videos) == {"/a.mp4"} and crops.labels.tolist() == [0, 0, 0]  # only the voice is fake
    assert visual_label(ManifestRow(Path("/c.mp4"), "FAKE", "c")) == 1
    with pytest.raises(NoFaceError):
        load_crops(rows[1:], found.__getitem__)
