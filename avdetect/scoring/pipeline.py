"""The scoring path, top to bottom: perceive -> score faces -> score voice -> sync -> fuse -> segments.

    detector = Detector.load()          # the shipped model
    score = detector.score("clip.mp4")  # VideoScore: p_fake, per-modality verdicts, segments, details
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from avdetect.branches.audio import AudioClassifier
from avdetect.branches.visual import VisualClassifier
from avdetect.bundle import ModelBundle, check_bundle, load_bundle
from avdetect.perception.lipsync import sync_features
from avdetect.perception.perceiver import Hook, Perceiver
from avdetect.records import AudioFeatures, Faces, SyncFeatures
from avdetect.scoring.features import feature_row, video_blocks
from avdetect.scoring.scores import TrackScores, VideoScore, WindowScores, empty_windows
from stacking.bundle import StackerBundle
from stacking.bundle import load_bundle as load_stacker
from stacking.decision import why
from stacking.segments import fake_segments, frame_segments, merge_intervals


class Detector:
    """Scores videos with a model bundle: one calibrated P(fake) and per-modality verdicts.

    Args:
        bundle: a verified model bundle (`avdetect.bundle.load_bundle`).
        device: torch device for the face detector and both branches.

    Raises:
        ModelFileError: the bundle's parts or this code disagree with its scoring spec (field named).
    """

    def __init__(self, bundle: ModelBundle, *, device: str | torch.device = "cpu"):
        self.bundle, self.spec = bundle, bundle.spec
        self.stacker: StackerBundle = load_stacker(bundle.stacker)
        check_bundle(bundle, stacker_features=self.stacker.feature_names, aggregate=self.stacker.aggregate)
        self.visual = VisualClassifier.load(bundle.visual, device=device) if bundle.visual else None
        self.audio = AudioClassifier.load(bundle.audio, device=device) if bundle.audio else None
        self.perceiver = Perceiver(self.spec.perception, device=device)

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, *, device: str | torch.device = "cpu") -> Detector:
        """The bundle in `model_dir`, or the shipped model when None. Raises ModelFileError."""
        return cls(load_bundle(model_dir), device=device)

    def score(self, path: str | os.PathLike, *, hook: Hook | None = None) -> VideoScore:
        """Scores one video or audio file. Raises the typed errors of `avdetect.perception.video.read_clip`."""
        start = time.perf_counter()
        seen = self.perceiver(path, hook)
        tracks = self.score_faces(seen.faces)
        windows = self.score_voice(seen.audio)
        sync = sync_features(seen.mouths, seen.clip.audio, seen.clip.sample_rate)
        blocks = video_blocks(seen, self.spec.extractors)
        verdicts = self.fuse(str(path), tracks, windows, sync, blocks)
        segments = self.segments(tracks, windows)
        return VideoScore(
            path=str(path),
            status="ok",
            **verdicts,
            fake_segments=segments,
            n_tracks=len(tracks),
            n_frames=len(seen.clip.times_s),
            duration_s=seen.clip.info.duration_s or seen.clip.audio_duration_s,
            seconds=time.perf_counter() - start,
            tracks=tracks,
            windows=windows,
            sync=sync,
        )

    def score_faces(self, faces: Faces) -> tuple[TrackScores, ...]:
        """P(fake) of every crop of every track, in one batch across tracks."""
        if self.visual is None or not faces.tracks:
            return ()
        probs = self.visual.predict_crops(np.concatenate([t.crops for t in faces.tracks]))
        bounds = np.cumsum([len(t) for t in faces.tracks])[:-1]
        return tuple(
            TrackScores(t.track_id, t.times_s, p, float(np.median(t.face_size)), t.crops[len(t) // 2])
            for t, p in zip(faces.tracks, np.split(probs, bounds))
        )

    def score_voice(self, audio: AudioFeatures | None) -> WindowScores:
        """P(synthetic) of every log-mel window of the silence-trimmed speech."""
        if self.audio is None or audio is None or len(audio.windows.mels) == 0:
            return empty_windows()
        w = audio.windows
        return WindowScores(w.start_s, w.end_s, self.audio.predict_windows(w.mels))

    def fuse(self, video: str, tracks: tuple[TrackScores, ...], windows: WindowScores,
             sync: SyncFeatures | None, blocks: dict[str, np.ndarray] | None = None) -> dict[str, float | str]:
        """Calibrated p_fake, p_visual, p_audio, p_sync from the stacker (NaN where a modality is missing),
        the verdict of the bundle's decision band and why."""
        X = feature_row(video, tracks, windows, sync, names=self.spec.features, config=self.stacker.aggregate,
                        frames_per_track=self.spec.frames_per_track, blocks=blocks)
        p = {name: float(values[0]) for name, values in self.stacker.stacker.predict_verdicts(X).as_dict().items()}
        modalities = {"face": p["p_visual"], "voice": p["p_audio"], "lip-sync": p["p_sync"]}
        band = self.stacker.band
        return {**p, "verdict": str(band.verdicts(np.array([p["p_fake"]]))[0]), "why": why(p["p_fake"], modalities, band)}

    def segments(self, tracks: tuple[TrackScores, ...], windows: WindowScores) -> np.ndarray:
        """float64 (K, 2) intervals where the frame or window scores say fake."""
        found: list[tuple[float, float]] = []
        if tracks:
            times = np.concatenate([t.times_s for t in tracks])
            found += [tuple(s) for s in frame_segments(times, np.concatenate([t.probs for t in tracks]))]
        if len(windows.probs):
            found += [tuple(s) for s in fake_segments(windows.start_s, windows.end_s, windows.probs)]
        merged = merge_intervals(sorted(found), 0.0)
        return np.array(merged, np.float64).reshape(-1, 2)

