"""The scoring path, top to bottom: perceive -> score faces -> score voice -> sync -> fuse -> segments.

    detector = Detector.load()          # the shipped model
    score = detector.score("clip.mp4")  # VideoScore: p_fake, per-modality verdicts, segments, details
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import torch

from avdetect.branches.audio import AudioClassifier
from avdetect.branches.visual import VisualClassifier
from avdetect.bundle import ModelBundle, load_bundle_spec
from avdetect.lipsync import SYNC_COLUMNS, sync_features, sync_vector
from avdetect.perception import Hook, PerceptionConfig, Perceiver
from avdetect.records import AudioFeatures, Faces, SyncFeatures
from avdetect.scores import TrackScores, VideoScore, WindowScores, empty_windows
from avdetect.training.visual import even_picks
from stacking import records as stack
from stacking.aggregate import build_feature_table
from stacking.bundle import StackerBundle, load_bundle
from stacking.segments import fake_segments, frame_segments, merge_intervals


class Detector:
    """Scores videos with a model bundle: one calibrated P(fake) and per-modality verdicts.

    Args:
        bundle: a verified model bundle (`avdetect.bundle.load_bundle_spec`).
        device: torch device for the face detector and both branches.
    """

    def __init__(self, bundle: ModelBundle, *, device: str | torch.device = "cpu"):
        self.bundle = bundle
        self.visual = VisualClassifier.load(bundle.visual, device=device) if bundle.visual else None
        self.audio = AudioClassifier.load(bundle.audio, device=device) if bundle.audio else None
        self.stacker: StackerBundle = load_bundle(bundle.stacker)
        # The stacker learnt from out-of-fold scores of this many evenly spread crops per track; its
        # count features (faces, frames) are only comparable on the same sampling.
        self.frames_per_track = int(bundle.card.get("frames_per_track", 0)) or None
        self.perceiver = Perceiver(self._perception_config(bundle.perception), device=device)

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, *, device: str | torch.device = "cpu") -> Detector:
        """The bundle in `model_dir`, or the shipped model when None. Raises ModelFileError."""
        return cls(load_bundle_spec(model_dir), device=device)

    def _perception_config(self, config: PerceptionConfig) -> PerceptionConfig:
        """The bundle's settings, with crops and windows cut exactly as each branch was trained."""
        if self.visual is not None:
            faces = replace(config.faces, margin=self.visual.config.margin)
            config = replace(config, faces=faces)
        if self.audio is not None:
            config = replace(config, mel=self.audio.mel, speech=self.audio.speech)
        return config

    def score(self, path: str | os.PathLike, *, hook: Hook | None = None) -> VideoScore:
        """Scores one video or audio file. Raises the typed errors of `avdetect.video.read_clip`."""
        start = time.perf_counter()
        seen = self.perceiver(path, hook)
        tracks = self.score_faces(seen.faces)
        windows = self.score_voice(seen.audio)
        sync = sync_features(seen.mouths, seen.clip.audio, seen.clip.sample_rate)
        verdicts = self.fuse(str(path), tracks, windows, sync)
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
             sync: SyncFeatures | None) -> dict[str, float]:
        """Calibrated p_fake, p_visual, p_audio, p_sync from the stacker (NaN verdicts where missing)."""
        table = build_feature_table(
            _frame_table(video, tracks, self.frames_per_track),
            stack.WindowScores(np.full(len(windows.probs), video), windows.start_s, windows.end_s,
                               windows.probs.astype(np.float64)),
            _sync_table(video, sync),
            videos=[video],
            config=self.stacker.aggregate,
        )
        X = _columns(table, self.stacker.feature_names)
        verdicts = self.stacker.stacker.predict_verdicts(X).as_dict()
        return {name: float(values[0]) for name, values in verdicts.items()}

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


def _frame_table(video: str, tracks: tuple[TrackScores, ...], per_track: int | None) -> stack.FrameScores:
    """Frame scores as the stacker's input, `per_track` evenly spread frames of each track (all if None)."""
    if not tracks:
        return stack.FrameScores.empty()
    picks = [even_picks(len(t.probs), per_track) if per_track else np.arange(len(t.probs)) for t in tracks]
    return stack.FrameScores(
        np.full(sum(len(k) for k in picks), video),
        np.concatenate([np.full(len(k), t.track_id, np.int64) for k, t in zip(picks, tracks)]),
        np.concatenate([t.times_s[k] for k, t in zip(picks, tracks)]),
        np.concatenate([t.probs[k] for k, t in zip(picks, tracks)]).astype(np.float64),
    )


def _sync_table(video: str, sync: SyncFeatures | None) -> stack.SyncTable:
    """One row of sync features, or none (the stacker then sees has_sync = 0), with fixed columns."""
    if sync is None:
        return stack.SyncTable(np.zeros(0, str), np.zeros((0, len(SYNC_COLUMNS))), SYNC_COLUMNS)
    return stack.SyncTable(np.array([video]), sync_vector(sync)[None, :], SYNC_COLUMNS)


def _columns(table: stack.FeatureTable, names: tuple[str, ...]) -> np.ndarray:
    """float64 (1, F) the row in the stacker's column order; a column it was not given is NaN."""
    return np.array([[table.column(n)[0] if n in table.names else np.nan for n in names]])

