"""Mouth regions on every dense frame, following the sparse face tracks (the input of lip-sync).

Face tracks are detected on a few sampled frames; lip motion needs every frame. Between samples a
third of a second apart the face moves little, so the mouth box is interpolated in time from the
track's boxes and mouth-corner landmarks, and cut from the dense luma frames of the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from avdetect.records import Clip, Faces, FaceTrack, MouthTrack

MOUTH_LEFT, MOUTH_RIGHT = 3, 4  # MTCNN landmark order: eyes, nose, mouth corners


@dataclass(frozen=True)
class MouthConfig:
    """Mouth region geometry, as fractions of the face box width, and the crop size.

    Attributes:
        width: region width / face width.
        height: region height / face width.
        drop: region centre below the mouth-corner midpoint / face width (covers lips and chin top).
        crop_hw: (height, width) of the resized crops, pixels.
    """

    width: float = 0.7
    height: float = 0.4
    drop: float = 0.05
    crop_hw: tuple[int, int] = (32, 64)


def mouth_tracks(faces: Faces, clip: Clip, config: MouthConfig = MouthConfig()) -> tuple[MouthTrack, ...]:
    """One MouthTrack per face track that spans at least two dense frames."""
    if clip.luma.size == 0:
        return ()
    tracks = (_mouth_track(t, clip, config) for t in faces.tracks)
    return tuple(t for t in tracks if len(t.times_s) >= 2)


def _mouth_track(track: FaceTrack, clip: Clip, config: MouthConfig) -> MouthTrack:
    times = _covered_times(track, clip)
    boxes = mouth_boxes(track, times, config) * np.tile(clip.luma_scale, 2).astype(np.float32)
    dense_index = np.searchsorted(clip.luma_times_s, times)
    crops = np.stack([_cut(clip.luma[i], b, config.crop_hw) for i, b in zip(dense_index, boxes)])
    if not len(times):
        crops = np.zeros((0, *config.crop_hw), np.uint8)
    return MouthTrack(track_id=track.track_id, times_s=times, boxes=boxes, crops=crops)


def _covered_times(track: FaceTrack, clip: Clip) -> np.ndarray:
    """Dense frame times within the track, widened by half the sampling interval at each end."""
    half_gap = float(np.median(np.diff(clip.times_s))) / 2 if len(clip.times_s) > 1 else 0.0
    start, end = track.times_s[0] - half_gap, track.times_s[-1] + half_gap
    t = clip.luma_times_s
    return t[(t >= start) & (t <= end)]


def mouth_boxes(track: FaceTrack, times: np.ndarray, config: MouthConfig) -> np.ndarray:
    """float32 (F, 4) mouth regions in frame pixels at `times`, interpolated along the track."""
    face_w = np.interp(times, track.times_s, track.boxes[:, 2] - track.boxes[:, 0])
    corners = (track.landmarks[:, MOUTH_LEFT] + track.landmarks[:, MOUTH_RIGHT]) / 2
    cx = np.interp(times, track.times_s, corners[:, 0])
    cy = np.interp(times, track.times_s, corners[:, 1]) + config.drop * face_w
    half_w, half_h = config.width * face_w / 2, config.height * face_w / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)


def _cut(luma: np.ndarray, box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """uint8 hw crop of a luma frame; parts outside the frame repeat the edge pixels."""
    h, w = luma.shape
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    ys = np.clip(np.arange(y1, max(y2, y1 + 1)), 0, h - 1)
    xs = np.clip(np.arange(x1, max(x2, x1 + 1)), 0, w - 1)
    region = luma[np.ix_(ys, xs)]
    return np.asarray(Image.fromarray(region).resize((hw[1], hw[0]), Image.BILINEAR))
