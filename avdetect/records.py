"""Typed, frozen records passed between stages.

Shapes, dtypes, units and coordinate frames are given in the field comments. "Nothing found" is an
empty array of the right shape, never ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class MediaInfo:
    """Container facts, read before decoding. Sizes are as displayed, i.e. after rotation."""

    path: str
    format_name: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration_s: float  # best estimate; 0.0 when the container does not say
    size_bytes: int
    has_video: bool
    has_audio: bool
    width: int = 0  # displayed width in pixels (after rotation); 0 without video
    height: int = 0  # displayed height in pixels (after rotation); 0 without video
    fps: float = 0.0  # average frame rate; 0.0 without video
    rotation: int = 0  # degrees counter-clockwise the stored frames are turned to display upright
    video_codec: str = ""
    audio_codec: str = ""
    audio_sample_rate: int = 0  # of the source stream, Hz
    audio_channels: int = 0  # of the source stream


@dataclass(frozen=True)
class Clip:
    """What the decoder keeps of one input: N frames sampled evenly in time, and the audio track."""

    info: MediaInfo
    frames: np.ndarray  # uint8 (T, H, W, 3) RGB, upright; (0, 0, 0, 3) without video
    times_s: np.ndarray  # float64 (T,) presentation time of each kept frame, seconds from start
    audio: np.ndarray  # float32 (N,) mono in [-1, 1] at `sample_rate`; (0,) without audio
    sample_rate: int  # Hz of `audio`
    # Luma of every decoded frame of the first seconds (lip-sync needs every frame, not samples):
    luma: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), np.uint8))  # uint8 (D, h, w)
    luma_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))  # float64 (D,) seconds
    n_decoded_frames: int = 0  # frames the decoder went through (kept or not)
    truncated: bool = False  # True when decoding stopped at the duration limit
    scale: float = 1.0  # frames were resized by this factor from the displayed size (resolution limit)

    @property
    def audio_duration_s(self) -> float:
        return len(self.audio) / self.sample_rate if self.sample_rate else 0.0

    @property
    def luma_scale(self) -> tuple[float, float]:
        """(x, y) factors from `frames` pixels to `luma` pixels; (1, 1) when either is empty."""
        if self.luma.size == 0 or self.frames.size == 0:
            return 1.0, 1.0
        return self.luma.shape[2] / self.frames.shape[2], self.luma.shape[1] / self.frames.shape[1]


@dataclass(frozen=True)
class FaceTrack:
    """One face followed across the sampled frames of a clip.

    Coordinates are pixels of ``Clip.frames`` (x right, y down). Landmarks are MTCNN's five points in
    this order: left eye, right eye, nose, left mouth corner, right mouth corner.
    """

    track_id: int
    frame_idx: np.ndarray  # int64 (T,) indices into Clip.frames, increasing
    times_s: np.ndarray  # float64 (T,) presentation time of those frames
    boxes: np.ndarray  # float32 (T, 4) face box x1, y1, x2, y2
    landmarks: np.ndarray  # float32 (T, 5, 2) x, y
    probs: np.ndarray  # float32 (T,) detector probability; interpolated frames carry the neighbours' min
    detected: np.ndarray  # bool (T,) True where the detector ran and found this face, False if interpolated
    crop_boxes: np.ndarray  # float32 (T, 4) square crop x1, y1, x2, y2 (face plus margin), may exceed frame
    crops: np.ndarray  # uint8 (T, S, S, 3) RGB face crops, resized to S x S

    def __len__(self) -> int:
        return len(self.frame_idx)

    @property
    def face_size(self) -> np.ndarray:
        """float32 (T,) the longer side of each face box, pixels."""
        return np.maximum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])

    def crop_landmarks(self) -> np.ndarray:
        """float32 (T, 5, 2) landmarks in crop pixels (0..S)."""
        side = (self.crop_boxes[:, 2] - self.crop_boxes[:, 0])[:, None, None]
        scale = self.crops.shape[1] / side
        return (self.landmarks - self.crop_boxes[:, None, :2]) * scale


@dataclass(frozen=True)
class Faces:
    """All face tracks found in a clip."""

    tracks: tuple[FaceTrack, ...]
    n_frames: int  # frames of the clip the detector looked at (sampled frames)
    detected_frame_idx: np.ndarray  # int64 (K,) frames the detector actually ran on
    detect_scale: float  # frames were resized by this factor before detection

    @property
    def frames_with_face(self) -> int:
        if not self.tracks:
            return 0
        return len(np.unique(np.concatenate([t.frame_idx for t in self.tracks])))


@dataclass(frozen=True)
class MouthTrack:
    """The mouth region of one face track on every dense (luma) frame it covers, for lip-sync."""

    track_id: int  # the FaceTrack it follows
    times_s: np.ndarray  # float64 (F,) presentation times of the dense frames
    boxes: np.ndarray  # float32 (F, 4) mouth region x1, y1, x2, y2 in luma pixels
    crops: np.ndarray  # uint8 (F, h, w) luma of the mouth region, resized to a fixed size


@dataclass(frozen=True)
class DenseFaceTrack:
    """The face region of one face track on every dense (luma) frame it covers: head motion, flicker, blinks.

    Like `MouthTrack`, the box is interpolated in time from the sparse track; what moves inside the crop is
    the face's own motion between detections (issue 12: temporal cues need every frame, not samples).
    """

    track_id: int  # the FaceTrack it follows
    times_s: np.ndarray  # float64 (F,) presentation times of the dense frames
    boxes: np.ndarray  # float32 (F, 4) square crop x1, y1, x2, y2 in luma pixels (face box plus margin)
    landmarks: np.ndarray  # float32 (F, 5, 2) MTCNN's five points in crop pixels (0..S), interpolated
    crops: np.ndarray  # uint8 (F, S, S) luma of the crop box, resized; outside the frame repeats the edge
    luma_hw: tuple[int, int] = (0, 0)  # (h, w) of the luma frames, to tell which crop pixels lie outside


@dataclass(frozen=True)
class MelWindows:
    """Log-mel spectrogram cut into fixed-length windows, each with its place in the source audio."""

    mels: np.ndarray  # float32 (W, n_mels, t) log-mel in dB
    start_s: np.ndarray  # float64 (W,) window start, seconds in the source audio
    end_s: np.ndarray  # float64 (W,) window end, seconds in the source audio


@dataclass(frozen=True)
class AudioFeatures:
    """What the audio stage sees: where the speech is and the log-mel windows over it."""

    duration_s: float  # of the whole audio track
    speech_segments: np.ndarray  # float64 (K, 2) start, end seconds of detected speech
    speech_start_s: float  # start of the first speech segment (leading silence ends here)
    speech_end_s: float  # end of the last speech segment (trailing silence starts here)
    windows: MelWindows  # windows over the silence-trimmed span

    @property
    def speech_s(self) -> float:
        return float(np.sum(self.speech_segments[:, 1] - self.speech_segments[:, 0]))


@dataclass(frozen=True)
class SyncFeatures:
    """How the mouth moves against the sound, for the face track that agrees with it best.

    A positive lag means the sound comes later than the mouth movement that goes with it.
    """

    track_id: int
    lags_s: np.ndarray  # float64 (L,) lags tried, seconds
    curve: np.ndarray  # float64 (L,) normalised cross-correlation of mouth motion and audio envelope
    best_lag_s: float  # lag of the correlation peak
    peak: float  # correlation at the peak
    at_zero: float  # correlation at lag 0 (in sync)
    sharpness: float  # (peak - median of the curve) / its standard deviation
    window_lag_std_s: float  # spread of the best lag over ~3 s windows (NaN with fewer than 2 windows)
    window_agreement: float  # fraction of windows whose best lag is within 0.1 s of the global one
    n_frames: int  # dense frames used


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock seconds spent in each perception stage."""

    decode_s: float = 0.0
    faces_s: float = 0.0
    audio_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.decode_s + self.faces_s + self.audio_s


@dataclass(frozen=True)
class Perception:
    """Everything the perception layer produced for one input."""

    clip: Clip
    faces: Faces
    audio: AudioFeatures | None  # None when the input has no audio track
    mouths: tuple[MouthTrack, ...] = ()  # one per face track that the dense frames cover
    dense_faces: tuple[DenseFaceTrack, ...] = ()  # one per face track the dense frames cover; () in old caches
    times: StageTimes = field(default_factory=StageTimes)
