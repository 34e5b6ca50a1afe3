"""Audio-visual sync: does the mouth move with the sound?

The mouth-motion signal is the mean absolute frame difference of the brightness-normalised mouth
crops; the audio signal is the short-time energy (dB) at each video frame. Their normalised
cross-correlation over lags of +-1 s peaks near 0 for real speech (checked on GRID and talking-head
clips: |lag| <= 0.17 s) and moves with the shift when audio is delayed or advanced (0.5 s shift ->
peak at +0.44..+0.72 s). Dubbed or re-voiced video loses the peak altogether. SyncNet (Chung &
Zisserman, 2016) learns this with a network; this is the hand-made signal the stacker starts from.

Two options make it hold on talkers who move (`SyncConfig`): `motion_search_px` takes each frame
difference after the small shift of the crop that best matches the previous one (head motion is not lip
motion), and `speech_band_hz` measures the energy of the speech band only (hum, rumble and hiss are not
the voice). The `sync` block of the stacker uses neither (as the bundles trained on it); the
`sync_motion` feature block uses both (`avdetect.features.sync_motion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avdetect.records import MouthTrack, Perception, SyncFeatures


@dataclass(frozen=True)
class SyncConfig:
    """Attributes:
    max_lag_s: lags from -max_lag_s to +max_lag_s are tried.
    envelope_s: audio energy window around each frame time, seconds.
    window_s: length of the windows used for the consistency statistics, seconds.
    min_frames: fewer dense frames than this give no sync features.
    min_speech_s: with speech segments given, a mouth track needs this much speech in its span: music,
        silence or an off-screen voice give "no sync evidence", not "out of sync".
    motion_search_px: each frame difference is the smallest over shifts of up to this many crop pixels
        each way (0: the plain difference).
    speech_band_hz: (low, high) band the audio energy is measured in; None: the whole signal.
    """

    max_lag_s: float = 1.0
    envelope_s: float = 0.04
    window_s: float = 3.0
    min_frames: int = 25
    min_speech_s: float = 1.0
    motion_search_px: int = 0
    speech_band_hz: tuple[float, float] | None = None


def mouth_motion(crops: np.ndarray, search_px: int = 0) -> np.ndarray:
    """float64 (F,) mean absolute difference to the previous crop, after per-crop normalisation.

    With `search_px` > 0, the difference of the inner crop (`search_px` cut from each side) to the
    previous one shifted by up to `search_px` pixels each way, the smallest of those: a face that moves
    by a few pixels between frames does not count as a mouth that moves.
    """
    c = crops.astype(np.float64)
    c = (c - c.mean(axis=(1, 2), keepdims=True)) / (c.std(axis=(1, 2), keepdims=True) + 1e-6)
    r = int(search_px)
    if r <= 0 or min(c.shape[1:]) <= 2 * r + 1:
        return np.concatenate([[0.0], np.abs(np.diff(c, axis=0)).mean(axis=(1, 2))])
    h, w = c.shape[1] - 2 * r, c.shape[2] - 2 * r
    previous = c[:-1, r : r + h, r : r + w]
    best = np.full(len(previous), np.inf)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            moved = c[1:, r + dy : r + dy + h, r + dx : r + dx + w]
            best = np.minimum(best, np.abs(moved - previous).mean(axis=(1, 2)))
    return np.concatenate([[0.0], best])


def speech_band(audio: np.ndarray, sample_rate: int, band_hz: tuple[float, float]) -> np.ndarray:
    """float64 `audio` band-passed to `band_hz` (4th-order Butterworth, forward and back: no delay)."""
    from scipy.signal import butter, sosfiltfilt

    low, high = band_hz
    high = min(high, 0.45 * sample_rate)
    audio = np.asarray(audio, np.float64)
    if len(audio) < 64 or not 0 < low < high:
        return audio
    return sosfiltfilt(butter(4, [low, high], btype="band", fs=sample_rate, output="sos"), audio)


def audio_envelope(audio: np.ndarray, sample_rate: int, times_s: np.ndarray, window_s: float) -> np.ndarray:
    """float64 (F,) energy in dB of `audio` in a window centred on each time."""
    half = max(1, int(window_s * sample_rate / 2))
    centres = np.round(times_s * sample_rate).astype(int)
    padded = np.pad(audio.astype(np.float64) ** 2, (half, half))
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    starts = np.clip(centres, 0, len(audio))  # index into padded: centre - half + half
    energy = (cumulative[starts + 2 * half] - cumulative[starts]) / (2 * half)
    return 10 * np.log10(energy + 1e-10)


def cross_correlation(video: np.ndarray, audio: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Lags (frames) and Pearson correlation of video[t] with audio[t + lag] for |lag| <= max_lag."""
    lags = np.arange(-max_lag, max_lag + 1)
    curve = np.array([_pearson(*_overlap(video, audio, int(lag))) for lag in lags])
    return lags, curve


def _overlap(a: np.ndarray, b: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    if lag >= 0:
        return a[: len(a) - lag], b[lag:]
    return a[-lag:], b[: len(b) + lag]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or x.std() < 1e-9 or y.std() < 1e-9:
        return 0.0
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (x.std() * y.std()))


def sync_features(
    mouths: tuple[MouthTrack, ...], audio: np.ndarray, sample_rate: int, config: SyncConfig = SyncConfig(),
    *, speech_segments: np.ndarray | None = None,
) -> SyncFeatures | None:
    """Sync features of the mouth track that agrees best with the audio.

    None without audio, without a mouth track of `config.min_frames`, or, when `speech_segments`
    (float (K, 2) start, end seconds) are given, without `config.min_speech_s` of speech in a track's span.
    """
    if len(audio) == 0:
        return None
    usable = [m for m in mouths if len(m.times_s) >= config.min_frames
              and (speech_segments is None or speech_within(speech_segments, m.times_s) >= config.min_speech_s)]
    if usable and config.speech_band_hz is not None:
        audio = speech_band(audio, sample_rate, config.speech_band_hz)
    candidates = [_track_sync(m, audio, sample_rate, config) for m in usable]
    candidates = [c for c in candidates if c is not None]
    return max(candidates, key=lambda c: c.peak, default=None)


def clip_sync(seen: Perception, config: SyncConfig = SyncConfig()) -> SyncFeatures | None:
    """`sync_features` of a perceived clip, counting only mouth tracks with speech (ungated when the
    clip's speech was not analysed)."""
    speech = seen.audio.speech_segments if seen.audio is not None else None
    return sync_features(seen.mouths, seen.clip.audio, seen.clip.sample_rate, config, speech_segments=speech)


def speech_within(segments: np.ndarray, times_s: np.ndarray) -> float:
    """Seconds of the speech `segments` (K, 2) that fall between the first and last of `times_s`."""
    segments = np.asarray(segments, np.float64).reshape(-1, 2)
    start, end = float(times_s[0]), float(times_s[-1])
    return float(np.clip(np.minimum(segments[:, 1], end) - np.maximum(segments[:, 0], start), 0, None).sum())


def _track_sync(mouth: MouthTrack, audio: np.ndarray, sample_rate: int, config: SyncConfig) -> SyncFeatures | None:
    fps = 1.0 / float(np.median(np.diff(mouth.times_s)))
    max_lag = max(1, int(round(config.max_lag_s * fps)))
    motion = mouth_motion(mouth.crops, config.motion_search_px)
    envelope = audio_envelope(audio, sample_rate, mouth.times_s, config.envelope_s)
    if len(motion) <= 2 * max_lag:
        max_lag = max(1, len(motion) // 3)
    lags, curve = cross_correlation(motion, envelope, max_lag)
    best = int(np.argmax(curve))
    window_lags = _window_lags(motion, envelope, fps, max_lag, config.window_s)
    best_lag = float(lags[best] / fps)
    return SyncFeatures(
        track_id=mouth.track_id,
        lags_s=lags / fps,
        curve=curve,
        best_lag_s=best_lag,
        peak=float(curve[best]),
        at_zero=float(curve[max_lag]),
        sharpness=float((curve[best] - np.median(curve)) / (curve.std() + 1e-9)),
        window_lag_std_s=float(np.std(window_lags)) if len(window_lags) > 1 else float("nan"),
        window_agreement=float(np.mean(np.abs(window_lags - best_lag) <= 0.1)) if len(window_lags) else float("nan"),
        n_frames=len(motion),
    )


def _window_lags(motion: np.ndarray, envelope: np.ndarray, fps: float, max_lag: int, window_s: float) -> np.ndarray:
    """Best lag (seconds) within each half-overlapping window long enough for the lag range."""
    size = max(int(window_s * fps), 2 * max_lag + 3)
    starts = range(0, len(motion) - size + 1, max(1, size // 2))
    lags = []
    for s in starts:
        lag_frames, curve = cross_correlation(motion[s : s + size], envelope[s : s + size], max_lag)
        lags.append(lag_frames[int(np.argmax(curve))] / fps)
    return np.array(lags)


SYNC_COLUMNS = ("best_lag_s", "abs_lag_s", "peak", "at_zero", "sharpness", "window_lag_std_s",
                "window_agreement", "n_frames")


def sync_vector(features: SyncFeatures | None) -> np.ndarray:
    """float64 (len(SYNC_COLUMNS),) the stacker's sync inputs; all NaN without features."""
    if features is None:
        return np.full(len(SYNC_COLUMNS), np.nan)
    return np.array([features.best_lag_s, abs(features.best_lag_s), features.peak, features.at_zero,
                     features.sharpness, features.window_lag_std_s, features.window_agreement,
                     features.n_frames], np.float64)
