"""Audio: where the speech is, and log-mel windows over the silence-trimmed speech.

Public audio-visual deepfake sets (FakeAVCeleb, AV-Deepfake1M) leak the label through a silent
lead-in, so the audio branch only ever sees the span from the first to the last detected speech.
Speech detection is either silero-vad (`avdetect.perception.vad`, ``SpeechConfig(method="silero")``)
or an energy detector relative to the loudest part of the file, as librosa's `effects.split(top_db=...)`
does; the latter is written here in numpy because librosa's first call compiles with numba for ~15 s,
which would land on the scoring path. The energy detector stays the default: the shipped model was
trained on its spans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

from avdetect.defaults import AUDIO_WINDOW_S, SAMPLE_RATE, SPEECH_METHOD, SPEECH_METHODS
from avdetect.records import AudioFeatures, MelWindows
from stacking.segments import merge_intervals, runs

SILENCE_DBFS = -60.0  # a track whose loudest frames are quieter than this holds no speech


@dataclass(frozen=True)
class MelConfig:
    """Log-mel spectrogram and windowing. Saved with the audio branch's weights.

    Attributes:
        sample_rate: Hz the audio must have.
        n_fft: FFT size, samples.
        win_length: analysis window, samples (25 ms).
        hop_length: hop between frames, samples (10 ms).
        n_mels: mel bands.
        f_min: lowest band edge, Hz.
        f_max: highest band edge, Hz.
        window_s: length of each window the classifier sees, seconds.
        stride_s: step between windows, seconds.
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 80
    f_min: float = 20.0
    f_max: float = 8_000.0
    window_s: float = AUDIO_WINDOW_S
    stride_s: float = 1.0

    @property
    def window_frames(self) -> int:
        """Mel frames in one window (frames are not centred: frame i starts at sample i * hop)."""
        return (int(round(self.window_s * self.sample_rate)) - self.n_fft) // self.hop_length + 1


@dataclass(frozen=True)
class SpeechConfig:
    """Speech detector: silero-vad or the energy detector.

    Attributes:
        method: "energy" (the numpy detector below) or "silero" (`avdetect.perception.vad`); silero
            uses only min_silence_s, min_speech_s and pad_s.
        frame_s: energy frame length, seconds (hop is a third of it).
        top_db: frames quieter than the file's loudest frame minus this are silence.
        floor_fraction: frames below noise floor (10th percentile) + this fraction of the range from
            floor to loudest frame are silence too; this adapts to recordings with a high noise floor.
        min_silence_s: pauses shorter than this are bridged (they are inside speech).
        min_speech_s: speech bursts shorter than this are dropped (clicks).
        pad_s: kept around each speech segment.
    """

    frame_s: float = 0.03
    top_db: float = 40.0
    floor_fraction: float = 0.35
    min_silence_s: float = 0.3
    min_speech_s: float = 0.1
    pad_s: float = 0.05
    method: str = SPEECH_METHOD

    def __post_init__(self) -> None:
        if self.method not in SPEECH_METHODS:
            raise ValueError(f"unknown speech method {self.method!r}; valid: {', '.join(SPEECH_METHODS)}")


def saved_speech_config(raw: dict) -> SpeechConfig:
    """A SpeechConfig saved as a dict; one saved before `method` existed was made with the energy detector."""
    return SpeechConfig(**{"method": "energy", **raw})


def frame_energy_db(audio: np.ndarray, sample_rate: int, frame_s: float) -> tuple[np.ndarray, float]:
    """RMS energy in dBFS of overlapping frames, float64 (F,), and the hop between frames in seconds."""
    frame = max(1, int(frame_s * sample_rate))
    hop = max(1, frame // 3)
    if len(audio) < frame:
        audio = np.pad(audio, (0, frame - len(audio)))
    n = 1 + (len(audio) - frame) // hop
    windows = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop][:n]
    rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10)), hop / sample_rate


def detect_speech(audio: np.ndarray, sample_rate: int, config: SpeechConfig = SpeechConfig()) -> np.ndarray:
    """float64 (K, 2) start, end seconds of speech in `audio` float32 (N,); (0, 2) when silent."""
    if config.method == "silero":
        from avdetect.perception.vad import silero_speech

        return silero_speech(audio, sample_rate, min_silence_s=config.min_silence_s,
                             min_speech_s=config.min_speech_s, pad_s=config.pad_s)
    return energy_speech(audio, sample_rate, config)


def energy_speech(audio: np.ndarray, sample_rate: int, config: SpeechConfig = SpeechConfig()) -> np.ndarray:
    """The energy detector's float64 (K, 2) speech spans (see the module docstring); (0, 2) when silent."""
    if len(audio) == 0:
        return np.zeros((0, 2))
    energy, hop_s = frame_energy_db(audio, sample_rate, config.frame_s)
    floor, loud = np.percentile(energy, 10), energy.max()
    if loud < SILENCE_DBFS:
        return np.zeros((0, 2))
    threshold = max(floor + config.floor_fraction * (loud - floor), loud - config.top_db, SILENCE_DBFS)
    # A run of active frames starts at its first frame and ends where its last frame ends.
    spans = [(a * hop_s, (b + 1) * hop_s + (config.frame_s - hop_s)) for a, b in runs(energy > threshold)]
    segments = np.array(merge_intervals(spans, config.min_silence_s), np.float64).reshape(-1, 2)
    segments = segments[segments[:, 1] - segments[:, 0] >= config.min_speech_s]
    duration = len(audio) / sample_rate
    return np.clip(segments + [-config.pad_s, config.pad_s], 0.0, duration)


class MelExtractor:
    """Log-mel spectrograms (torchaudio) cut into windows that carry their start and end seconds."""

    def __init__(self, config: MelConfig = MelConfig()):
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            center=False,
            power=2.0,
        )

    def log_mel(self, audio: np.ndarray) -> np.ndarray:
        """float32 (n_mels, t) log-mel in dB of `audio` float32 (N,) at config.sample_rate."""
        if len(audio) < self.config.n_fft:
            audio = np.pad(audio, (0, self.config.n_fft - len(audio)))
        with torch.no_grad():
            power = self.mel(torch.from_numpy(np.ascontiguousarray(audio, np.float32)))
        return (10.0 * torch.log10(power + 1e-10)).numpy()

    def windows(self, audio: np.ndarray, start_s: float, end_s: float) -> MelWindows:
        """Windows of `config.window_s` every `config.stride_s` over audio[start_s:end_s].

        A span shorter than one window is looped to fill it (zero padding would add digital silence,
        the very shortcut the trimming removes). Windows carry times in the source audio.
        """
        cfg = self.config
        sr = cfg.sample_rate
        span = audio[int(start_s * sr) : int(np.ceil(end_s * sr))]
        if len(span) == 0:
            return empty_windows(cfg)
        win = int(round(cfg.window_s * sr))
        if len(span) < win:
            span = np.resize(span, win)  # np.resize repeats the array
        starts = np.arange(0, len(span) - win + 1, int(round(cfg.stride_s * sr)))
        if starts[-1] + win < len(span):  # one more window flush with the end, so no speech is left out
            starts = np.append(starts, len(span) - win)
        mel = self.log_mel(span)
        step = cfg.hop_length
        mels = np.stack([mel[:, s // step : s // step + cfg.window_frames] for s in starts])
        start_times = start_s + starts / sr
        return MelWindows(mels=mels, start_s=start_times, end_s=np.minimum(start_times + cfg.window_s, end_s))


def empty_windows(config: MelConfig) -> MelWindows:
    return MelWindows(
        mels=np.zeros((0, config.n_mels, config.window_frames), np.float32),
        start_s=np.zeros(0),
        end_s=np.zeros(0),
    )


def analyze_audio(
    audio: np.ndarray,
    sample_rate: int,
    extractor: MelExtractor,
    speech: SpeechConfig = SpeechConfig(),
) -> AudioFeatures:
    """Speech segments of `audio` float32 (N,) and log-mel windows over its silence-trimmed span."""
    if sample_rate != extractor.config.sample_rate:
        raise ValueError(f"audio is at {sample_rate} Hz, the mel extractor wants {extractor.config.sample_rate}")
    segments = detect_speech(audio, sample_rate, speech)
    duration = len(audio) / sample_rate
    if len(segments) == 0:
        start = end = duration
        windows = empty_windows(extractor.config)
    else:
        start, end = float(segments[0, 0]), float(segments[-1, 1])
        windows = extractor.windows(audio, start, end)
    return AudioFeatures(
        duration_s=duration, speech_segments=segments, speech_start_s=start, speech_end_s=end, windows=windows
    )
