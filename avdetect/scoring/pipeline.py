"""The scoring path, top to bottom: perceive -> score faces -> score voice -> sync -> fuse -> segments.

    detector = Detector.load()          # the shipped model
    score = detector.score("clip.mp4")  # VideoScore: p_fake, per-modality verdicts, segments, details
    fast = Detector.load(mode="fast")   # less decoding and fewer crops, at a measured cost (modes.py)

With ``overlap`` (the default) one helper thread decodes and analyses the audio while the video decodes,
then runs the visual CNN while this thread makes the sync and feature blocks: the same numbers as the
sequential order (tested), in less wall time where a core would idle (issue 14).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from avdetect.branches.audio import AudioClassifier
from avdetect.branches.visual import VisualClassifier
from avdetect.bundle import ModelBundle, check_bundle, load_bundle
from avdetect.perception.lipsync import clip_sync
from avdetect.perception.perceiver import Hook, Perceiver
from avdetect.perception.tracks import even_picks
from avdetect.records import AudioFeatures, Faces, SyncFeatures
from avdetect.scoring.features import feature_row, video_blocks
from avdetect.scoring.modes import ScoringMode, get_mode
from avdetect.scoring.scores import TrackScores, VideoScore, WindowScores, empty_windows
from stacking.bundle import StackerBundle
from stacking.bundle import load_bundle as load_stacker
from stacking.decision import INCONCLUSIVE, why
from stacking.segments import fake_segments, frame_segments, merge_intervals


class Detector:
    """Scores videos with a model bundle: one calibrated P(fake) and per-modality verdicts.

    Args:
        bundle: a verified model bundle (`avdetect.bundle.load_bundle`).
        device: torch device for the face detector and both branches.
        mode: "full" (the bundle's spec), "fast", or a `ScoringMode` (`avdetect.scoring.modes`).
        overlap: run the audio stages and the visual CNN in a helper thread (same results).

    Raises:
        ModelFileError: the bundle's parts or this code disagree with its scoring spec (field named).
    """

    def __init__(self, bundle: ModelBundle, *, device: str | torch.device = "cpu",
                 mode: str | ScoringMode = "full", overlap: bool = True):
        self.bundle, self.spec, self.mode = bundle, bundle.spec, get_mode(mode)
        self.stacker: StackerBundle = load_stacker(bundle.stacker)
        self.voice: StackerBundle | None = load_stacker(bundle.voice) if bundle.voice else None
        check_bundle(bundle, stacker_features=self.stacker.feature_names, aggregate=self.stacker.aggregate,
                     voice_features=self.voice.feature_names if self.voice else None)
        self.visual = VisualClassifier.load(bundle.visual, device=device) if bundle.visual else None
        self.audio = AudioClassifier.load(bundle.audio, device=device) if bundle.audio else None
        self.perceiver = Perceiver(self.mode.perception(self.spec.perception), device=device)
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="avdetect-score") if overlap else None

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, *, device: str | torch.device = "cpu",
             mode: str | ScoringMode = "full", overlap: bool = True) -> Detector:
        """The bundle in `model_dir`, or the shipped model when None. Raises ModelFileError."""
        return cls(load_bundle(model_dir), device=device, mode=mode, overlap=overlap)

    def score(self, path: str | os.PathLike, *, hook: Hook | None = None) -> VideoScore:
        """Scores one video or audio file. Raises the typed errors of `avdetect.perception.video.read_clip`."""
        start = time.perf_counter()
        seen = self.perceiver(path, hook, pool=self.pool)
        face_scores = self._meanwhile(self.score_faces, seen.faces)
        windows = self.score_voice(seen.audio)
        sync = clip_sync(seen)
        blocks = video_blocks(seen, self.spec.extractors, self.bundle.directory)
        tracks = face_scores()
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

    def _meanwhile(self, fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
        """Starts `fn(*args)` in the helper thread (here, at once, without one); returns its result getter."""
        if self.pool is None:
            value = fn(*args)
            return lambda: value
        return self.pool.submit(fn, *args).result

    def score_faces(self, faces: Faces) -> tuple[TrackScores, ...]:
        """P(fake) of every crop of every track (the stacker's crops only, in a mode that says so), in
        one batch across tracks."""
        if self.visual is None or not faces.tracks:
            return ()
        picks = [self.cnn_picks(len(t)) for t in faces.tracks]
        probs = self.visual.predict_crops(np.concatenate([t.crops[k] for t, k in zip(faces.tracks, picks)]))
        bounds = np.cumsum([len(k) for k in picks])[:-1]
        return tuple(
            TrackScores(t.track_id, t.times_s[k], p, float(np.median(t.face_size)), t.crops[len(t) // 2])
            for t, k, p in zip(faces.tracks, picks, np.split(probs, bounds))
        )

    def cnn_picks(self, n: int) -> np.ndarray:
        """int64 indices of the crops of an n-crop track that go through the CNN."""
        if self.mode.stacker_crops_only and self.spec.frames_per_track:
            return even_picks(n, self.spec.frames_per_track)  # the ones `feature_row` reads
        return np.arange(n)

    def score_voice(self, audio: AudioFeatures | None) -> WindowScores:
        """P(synthetic) of every log-mel window of the silence-trimmed speech."""
        if self.audio is None or audio is None or len(audio.windows.mels) == 0:
            return empty_windows()
        w = audio.windows
        return WindowScores(w.start_s, w.end_s, self.audio.predict_windows(w.mels))

    def fuse(self, video: str, tracks: tuple[TrackScores, ...], windows: WindowScores,
             sync: SyncFeatures | None, blocks: dict[str, np.ndarray] | None = None) -> dict[str, float | str]:
        """Calibrated p_fake, p_visual, p_audio, p_sync from the stacker (NaN where a modality is missing),
        the verdict of its decision band and why. Without a face track the bundle's voice stacker, fitted on
        such inputs, decides when it has one (the stacker learnt from videos with a face); each reads its own
        columns, all made by the spec's extractors."""
        fusion = self.voice if self.voice is not None and not tracks else self.stacker
        binned = fusion.binned  # with bands per bin of an evidence column (seconds of speech), read it too
        names = fusion.feature_names + ((binned.column,) if binned is not None else ())
        row = feature_row(video, tracks, windows, sync, names=names, config=fusion.aggregate,
                          frames_per_track=self.spec.frames_per_track, blocks=blocks)
        X = row[:, : len(fusion.feature_names)]
        p = {name: float(values[0]) for name, values in fusion.stacker.predict_verdicts(X).as_dict().items()}
        modalities = {"face": p["p_visual"], "voice": p["p_audio"], "lip-sync": p["p_sync"]}
        evidence = row[0, -1] if binned is not None else float("nan")
        band = fusion.band_for(evidence)
        verdict = str(band.verdicts(np.array([p["p_fake"]]))[0])
        reason = why(p["p_fake"], modalities, band)
        if binned is not None:
            reason = f"{reason} (band for {binned.bin_name(evidence)})"
        if all(np.isnan(v) for v in modalities.values()):  # p_fake is then NaN or the model's prior, no evidence
            verdict, reason = INCONCLUSIVE, "no face, voice or lip-sync found: nothing to judge"
        elif fusion is not self.stacker:
            reason = f"no face: the voice model decides; {reason}"
        return {**p, "verdict": verdict, "why": reason}

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

