"""A classical face swap between two real talkers, on every frame of a video (training data and `make demo`).

The FaceForensics++ "FaceSwap" method in our terms: every frame's face is replaced by the donor's face
nearest in pose (`nearest_pose`), aligned on the five MTCNN landmarks, colour-matched and blended with one
steady draw of the blending parameters of `avdetect.pseudofakes.faces`. Unlike the crop-space blends of
`avdetect.corpus.variants`, the swap is made in the frames and encoded, so every stage of perception (the
sampled crops, the dense face and mouth tracks, lip-sync) sees it, as it would see a swap in the wild: the
mouth is the donor's, chosen by pose, and no longer moves with the voice. With `keep_mouth` (the GAN-face
swaps of `recipe`, whose donor is one still face) the frame's own lips and jaw stay and go on speaking.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from avdetect.corpus.media_writer import ClipWriter
from avdetect.defaults import FACE_MARGIN
from avdetect.errors import NoFaceError
from avdetect.perception.faces import FaceConfig, detect_scale, downscale, expand_box
from avdetect.perception.video import load_audio, open_media
from avdetect.pseudofakes.faces import BlendParams, apply_cross_blend, blend, nearest_pose
from avdetect.pseudofakes.masks import mouth_mask


@dataclass(frozen=True)
class DonorFaces:
    """Faces of the donor to choose from: regions around each face and their landmarks in region pixels."""

    images: tuple[np.ndarray, ...]  # uint8 (h, w, 3) each
    landmarks: np.ndarray  # float32 (K, 5, 2)


@dataclass(frozen=True)
class SwapResult:
    """What `swap_video` wrote."""

    path: Path
    n_frames: int
    n_swapped: int  # frames where a face was found and replaced
    duration_s: float


class Landmarks:
    """The largest face's box and five landmarks in a frame (MTCNN on a copy downscaled as perception's
    detector downscales it, landmarks scaled back)."""

    def __init__(self, short_side: int = FaceConfig.detect_short_side):
        from facenet_pytorch import MTCNN

        self.short_side = short_side
        self.mtcnn = MTCNN(keep_all=False, select_largest=True, device="cpu")

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(box (4,), landmarks (5, 2)) in frame pixels, or None when no face is found."""
        scale = detect_scale(frame.shape[:2], self.short_side)
        boxes, _, points = self.mtcnn.detect(downscale(frame[None], scale)[0], landmarks=True)
        if boxes is None or points is None:
            return None
        return boxes[0].astype(np.float32) / scale, points[0].astype(np.float32) / scale


def face_region(frame_hw: tuple[int, int], box: np.ndarray) -> tuple[int, int, int, int]:
    """The face's crop box (a third of the face as margin, as perception crops it), inside the frame."""
    x1, y1, x2, y2 = expand_box(box, FACE_MARGIN)
    h, w = frame_hw
    return max(0, int(x1)), max(0, int(y1)), min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))


def donor_faces(frames: list[np.ndarray], find: Landmarks) -> DonorFaces:
    """The face regions and landmarks of the donor's `frames`.

    Raises:
        NoFaceError: no face in any of the frames.
    """
    images, points = [], []
    for frame in frames:
        found = find(frame)
        if found is None:
            continue
        x1, y1, x2, y2 = face_region(frame.shape[:2], found[0])
        images.append(np.ascontiguousarray(frame[y1:y2, x1:x2]))
        points.append(found[1] - np.array([x1, y1], np.float32))
    if not images:
        raise NoFaceError("the donor shows no face")
    return DonorFaces(tuple(images), np.stack(points).astype(np.float32))


def swap_frame(frame: np.ndarray, found: tuple[np.ndarray, np.ndarray], donor: DonorFaces,
               params: BlendParams, *, keep_mouth: bool = False) -> np.ndarray:
    """`frame` with its face replaced by the donor's face nearest in pose (only the face region changes);
    with `keep_mouth` the frame's own lips and jaw stay (`mouth_mask`), so they still move with the voice."""
    x1, y1, x2, y2 = face_region(frame.shape[:2], found[0])
    landmarks = found[1] - np.array([x1, y1], np.float32)
    k = nearest_pose(landmarks, donor.landmarks)
    face, face_landmarks = _resized(donor.images[k], donor.landmarks[k], (x2 - x1, y2 - y1))
    region = np.ascontiguousarray(frame[y1:y2, x1:x2])
    swapped = apply_cross_blend(region, landmarks, face, face_landmarks, params).image
    if keep_mouth:
        swapped = blend(swapped, region, mouth_mask(y2 - y1, x2 - x1, landmarks))
    out = frame.copy()
    out[y1:y2, x1:x2] = swapped
    return out


def _resized(image: np.ndarray, landmarks: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`image` resized to `size` (width, height) and its landmarks with it (the blend warps within one size)."""
    scale = np.array([size[0] / image.shape[1], size[1] / image.shape[0]], np.float32)
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC)), landmarks * scale


def read_frames(path: Path, *, every: int = 1, max_seconds: float | None = None) -> tuple[list[np.ndarray], float]:
    """RGB frames (every `every`-th, up to `max_seconds`) of a video and its frame rate."""
    frames = []
    with open_media(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        for i, frame in enumerate(container.decode(stream)):
            if max_seconds is not None and i >= max_seconds * fps:
                break
            if i % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
    return frames, fps


def swap_video(source: Path, donor: DonorFaces | None, out: Path, params: BlendParams | None, *, find: Landmarks,
               max_seconds: float | None = None, keep_mouth: bool = False) -> SwapResult:
    """Writes `source`'s first `max_seconds` with every face swapped for the donor's (H.264/AAC, the source's
    frame rate, even frame sides; `keep_mouth` as `swap_frame`); `params` None writes the frames untouched
    through the same encoder (the real control, so that the encode does not tell the two apart)."""
    frames, fps = read_frames(source, max_seconds=max_seconds)
    if not frames:
        raise NoFaceError(f"{source}: no video frames")
    h, w = (frames[0].shape[0] // 2) * 2, (frames[0].shape[1] // 2) * 2
    audio = load_audio(source)
    duration = len(frames) / fps
    swapped = 0
    with ClipWriter(out, fps, w, h, audio=len(audio) > 0) as writer:
        for frame in frames:
            found = find(frame) if params is not None else None
            if found is not None:
                frame, swapped = swap_frame(frame, found, donor, params, keep_mouth=keep_mouth), swapped + 1
            writer.write(frame[:h, :w])
        writer.write_audio(audio[: int(round(duration * writer.sample_rate))])
    return SwapResult(out, len(frames), swapped, round(duration, 3))

