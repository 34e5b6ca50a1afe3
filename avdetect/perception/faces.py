"""Faces: MTCNN (facenet-pytorch, weights from its wheel) on downscaled frames, tracks, margin crops.

Full-size MTCNN runs at 3.6 frames/s on 1080p here, so the detector sees frames downscaled to about
360 pixels on the short side, and only every `detect_every`-th sampled frame; frames between two
detections are interpolated along the track, unless the face moved too much or a track starts or ends
in the gap, in which case those frames are detected too (`tracks.unstable_gaps`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from avdetect.defaults import CROP_SIZE, FACE_MARGIN
from avdetect.perception.tracks import Detections, RawTrack, interpolate, link, smooth_boxes, unstable_gaps
from avdetect.records import Clip, DenseFaceTrack, Faces, FaceTrack

log = logging.getLogger(__name__)

DENSE_FACE_SIZE = 64  # pixels of a dense luma face crop: the face is ~40 px, enough for motion, flicker, eyes
DENSE_FACE_MARGIN = 0.25  # of the face side on each side: the ring outside the face that flicker is compared to


@dataclass(frozen=True)
class FaceConfig:
    """Options of face detection, tracking and cropping.

    Attributes:
        detect_short_side: frames are downscaled so their short side is about this before detection.
        detect_every: run the detector on every n-th sampled frame (and the last), interpolate between.
        detect_min_face: MTCNN's smallest face, pixels of the downscaled frame (fewer pyramid levels
            when larger, so faster).
        min_face_px: smallest face kept, pixels of the decoded frame (longer box side).
        max_face_fraction: largest face kept, as a fraction of the frame's short side (a close-up face
            box may overhang the frame, as in face-crop videos).
        min_prob: MTCNN probability below which a box is dropped.
        min_track_fraction: tracks found on fewer than this fraction of detection frames are dropped.
        interp_min_iou: overlap of consecutive detections below which a gap is detected, not interpolated.
        margin: crop margin on each side, as a fraction of the face size. Every top DFDC solution found
            the margin mattered most; about a third keeps face edges and blending seams, not the scene.
        crop_size: side of the square crops, pixels.
        batch_size: frames per MTCNN call.
    """

    detect_short_side: int = 360
    detect_every: int = 4
    detect_min_face: int = 20
    min_face_px: int = 24
    max_face_fraction: float = 1.25
    min_prob: float = 0.9
    min_track_fraction: float = 0.2
    interp_min_iou: float = 0.5
    margin: float = FACE_MARGIN
    crop_size: int = CROP_SIZE
    batch_size: int = 16


class FaceDetector:
    """Finds, tracks and crops the faces in the frames of a clip.

    Args:
        config: detection, tracking and cropping options.
        device: torch device for MTCNN.
    """

    def __init__(self, config: FaceConfig = FaceConfig(), *, device: str | torch.device = "cpu"):
        from facenet_pytorch import MTCNN  # heavy import, and the weights load here, not at import

        self.config = config
        self.device = torch.device(device)
        self.mtcnn = MTCNN(keep_all=True, min_face_size=config.detect_min_face, device=self.device)
        for net in (self.mtcnn.pnet, self.mtcnn.rnet, self.mtcnn.onet):
            # torch's CPU max-pooling is ~2x faster channels-last; MTCNN 1.55 -> 1.11 s on 9 frames at 360p,
            # boxes within 1e-4 px, the run-to-run noise of the NCHW nets (issue 14)
            net.to(memory_format=torch.channels_last)

    def __call__(self, frames: np.ndarray, times_s: np.ndarray) -> Faces:
        """Faces in `frames`, uint8 (T, H, W, 3) RGB shown at `times_s` (T,) seconds.

        An input of zero frames gives a `Faces` with no tracks.
        """
        n = len(frames)
        if n == 0:
            return Faces(tracks=(), n_frames=0, detected_frame_idx=np.zeros(0, np.int64), detect_scale=1.0)
        scale = detect_scale(frames.shape[1:3], self.config.detect_short_side)
        detections = self._detect_frames(frames, sparse_frames(n, self.config.detect_every), scale)
        raw = self._filter_tracks(link(detections), len(detections))
        gaps = unstable_gaps(raw, np.array([d.frame for d in detections]), min_iou=self.config.interp_min_iou)
        if gaps:
            detections += self._detect_frames(frames, gaps, scale)
            raw = self._filter_tracks(link(detections), len(detections))
        tracks = tuple(self._build_track(i, t, frames, times_s) for i, t in enumerate(raw))
        done = np.array(sorted(d.frame for d in detections), np.int64)
        return Faces(tracks=tracks, n_frames=n, detected_frame_idx=done, detect_scale=scale)

    def _detect_frames(self, frames: np.ndarray, indices: list[int], scale: float) -> list[Detections]:
        out: list[Detections] = []
        for start in range(0, len(indices), self.config.batch_size):
            chunk = indices[start : start + self.config.batch_size]
            small = downscale(frames[chunk], scale)
            boxes, probs, points = self.mtcnn.detect(small, landmarks=True)
            for i, frame in enumerate(chunk):
                out.append(self._plausible(frame, boxes[i], points[i], probs[i], scale, frames.shape[1:3]))
        return out

    def _plausible(self, frame: int, boxes, points, probs, scale: float, hw: tuple[int, int]) -> Detections:
        """Maps boxes back to frame pixels and drops tiny, huge, oddly shaped or unsure ones."""
        if boxes is None:
            return empty_detections(frame)
        boxes = np.asarray(boxes, np.float32) / scale
        points = np.asarray(points, np.float32) / scale
        probs = np.asarray(probs, np.float32)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        side = np.maximum(w, h)
        keep = (
            (probs >= self.config.min_prob)
            & (side >= self.config.min_face_px)
            & (side <= self.config.max_face_fraction * min(hw))
            & (h / np.maximum(w, 1e-6) > 0.5)
            & (h / np.maximum(w, 1e-6) < 3.0)
        )
        return Detections(frame=frame, boxes=boxes[keep], landmarks=points[keep], probs=probs[keep])

    def _filter_tracks(self, tracks: list[RawTrack], n_detect_frames: int) -> list[RawTrack]:
        need = max(1, int(np.ceil(self.config.min_track_fraction * n_detect_frames)))
        kept = [t for t in tracks if len(t.frames) >= need]
        return sorted(kept, key=lambda t: -float(np.median(_sides(t.boxes))))  # biggest face first

    def _build_track(self, track_id: int, raw: RawTrack, frames: np.ndarray, times_s: np.ndarray) -> FaceTrack:
        idx, boxes, marks, probs, detected = interpolate(raw)
        crop_boxes = square_boxes(smooth_boxes(boxes), self.config.margin)
        crops = np.stack([crop(frames[i], b, self.config.crop_size) for i, b in zip(idx, crop_boxes)])
        return FaceTrack(
            track_id=track_id,
            frame_idx=idx,
            times_s=times_s[idx],
            boxes=boxes,
            landmarks=marks,
            probs=probs,
            detected=detected,
            crop_boxes=crop_boxes,
            crops=crops,
        )


def empty_detections(frame: int) -> Detections:
    return Detections(
        frame=frame,
        boxes=np.zeros((0, 4), np.float32),
        landmarks=np.zeros((0, 5, 2), np.float32),
        probs=np.zeros(0, np.float32),
    )


def sparse_frames(n: int, every: int) -> list[int]:
    """Every `every`-th index of range(n), always including the last."""
    return sorted(set(range(0, n, max(1, every))) | {n - 1})


def detect_scale(hw: tuple[int, int], short_side: int) -> float:
    """Downscale factor (<= 1) that brings the frame's short side to about `short_side`."""
    return min(1.0, short_side / max(1, min(hw)))


def downscale(frames: np.ndarray, scale: float) -> np.ndarray:
    """uint8 (B, h, w, 3) frames resized by `scale` (PIL, antialiased; 6x faster than torch here)."""
    if scale >= 1.0:
        return frames
    size = (max(1, round(frames.shape[2] * scale)), max(1, round(frames.shape[1] * scale)))
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR, reducing_gap=2.0)) for f in frames])


def _sides(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


def square_boxes(boxes: np.ndarray, margin: float) -> np.ndarray:
    """float32 (T, 4) square boxes around each face's centre, side = longer face side * (1 + 2 margin)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = _sides(boxes)[:, None] * (0.5 + margin)
    return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def expand_box(box: np.ndarray, margin: float = FACE_MARGIN) -> np.ndarray:
    """One face box x1, y1, x2, y2 -> its square crop box with `margin` of the face on each side."""
    return square_boxes(np.asarray(box, np.float32)[None], margin)[0]


def crop(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size, 3) crop of `frame` inside `box`; the part outside the frame is black."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    h, w = frame.shape[:2]
    canvas = np.zeros((max(1, y2 - y1), max(1, x2 - x1), 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if sx2 > sx1 and sy2 > sy1:
        canvas[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = frame[sy1:sy2, sx1:sx2]
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.BILINEAR))


def dense_face_tracks(faces: Faces, clip: Clip, *, size: int = DENSE_FACE_SIZE,
                      margin: float = DENSE_FACE_MARGIN) -> tuple[DenseFaceTrack, ...]:
    """One `DenseFaceTrack` per face track spanning at least two dense frames; () without dense luma.

    The crop box and landmarks are interpolated along the sparse track to every dense frame and cut with
    sub-pixel accuracy, so a still face stays still in the crops (no rounding steps).
    """
    if clip.luma.size == 0:
        return ()
    tracks = (_dense_face_track(t, clip, size, margin) for t in faces.tracks)
    return tuple(t for t in tracks if len(t.times_s) >= 2)


def _dense_face_track(track: FaceTrack, clip: Clip, size: int, margin: float) -> DenseFaceTrack:
    half_gap = float(np.median(np.diff(clip.times_s))) / 2 if len(clip.times_s) > 1 else 0.0
    t = clip.luma_times_s
    times = t[(t >= track.times_s[0] - half_gap) & (t <= track.times_s[-1] + half_gap)]
    to_luma = np.tile(np.asarray(clip.luma_scale, np.float32), 2)
    boxes = square_boxes(_interp_rows(times, track.times_s, track.boxes), margin) * to_luma
    marks = _interp_rows(times, track.times_s, track.landmarks.reshape(len(track), 10)).reshape(-1, 5, 2)
    marks = (marks * to_luma[:2] - boxes[:, None, :2]) * size / (boxes[:, None, 2:] - boxes[:, None, :2])
    index = np.searchsorted(t, times)
    crops = [cut_luma(clip.luma[i], b, size) for i, b in zip(index, boxes)]
    crops = np.stack(crops) if crops else np.zeros((0, size, size), np.uint8)
    return DenseFaceTrack(track_id=track.track_id, times_s=times, boxes=boxes.astype(np.float32),
                          landmarks=marks.astype(np.float32), crops=crops, luma_hw=clip.luma.shape[1:3])


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """float32 (len(x), C): each column of fp (len(xp), C) interpolated at x (held at the ends)."""
    return np.stack([np.interp(x, xp, fp[:, c]) for c in range(fp.shape[1])], axis=1).astype(np.float32)


def cut_luma(luma: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size) of a luma frame inside a fractional box; outside the frame repeats the edge."""
    h, w = luma.shape
    pad = int(np.ceil(max(0.0, -box[0], -box[1], box[2] - w, box[3] - h))) + 1
    image = Image.fromarray(np.pad(luma, pad, mode="edge") if pad > 1 else luma)
    shift = pad if pad > 1 else 0
    region = tuple(float(v) + shift for v in box)
    return np.asarray(image.resize((size, size), Image.BILINEAR, box=region))
