"""Training windows for the audio branch: real speech, its pseudo-fakes, and the channel they pass through.

Every real utterance yields copies of itself and pseudo-fakes made from it (`avdetect.pseudofakes.voice`:
Griffin-Lim and WORLD re-synthesis, and splices of those into the real one, labelled per window by
overlap, as in PartialSpoof, Zhang et al., 2021), equalised to the long-term spectrum of their source
so that colouring cannot stand for "fake". Each copy then passes through the same random
channel whatever its class: optionally a random room, equaliser and low-pass (`audio_acoustics`), a lossy
codec round trip and additive noise at a random SNR (ASVspoof 2021 LA/DF, Liu et al., 2023), so neither
recording conditions, compression nor noise can stand for the label (per batch, gain and
SpecAugment follow: `audio_batches`). All randomness comes from generators seeded by (seed, source index,
view), so a bank is the same in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torchaudio
from scipy import signal
from scipy.ndimage import uniform_filter1d

from avdetect.corpus.manifest import FAKE, ManifestRow
from avdetect.defaults import SAMPLE_RATE
from avdetect.perception.audio import MelExtractor, SpeechConfig, analyze_audio
from avdetect.pseudofakes.codecs import CODECS, codec_roundtrip
from avdetect.pseudofakes.upsampling import upsampling_artefacts
from avdetect.pseudofakes.voice import VOICE_FAKERS, phase_resynth, splice
from avdetect.records import MelWindows
from avdetect.training.audio_acoustics import AcousticsConfig, apply_acoustics

AMBIGUOUS = -1  # window label of a window that only grazes a fake segment; left out of training


@dataclass(frozen=True)
class ChannelConfig:
    """The channel every training copy passes through, real or fake alike.

    Attributes:
        codec_p: probability of a codec round trip.
        codecs: names in `avdetect.pseudofakes.codecs.CODECS`, drawn uniformly.
        noise_p: probability of additive noise.
        snr_db: range of the noise's signal-to-noise ratio, dB (uniform).
        acoustics: the room, equaliser and low-pass drawn before the codec (off by default).
    """

    codec_p: float = 0.4
    codecs: tuple[str, ...] = ("mp3", "aac", "opus", "telephone", "amr")
    noise_p: float = 0.4
    snr_db: tuple[float, float] = (15.0, 40.0)
    acoustics: AcousticsConfig = field(default_factory=AcousticsConfig)


@dataclass(frozen=True)
class ViewConfig:
    """What each source becomes in training.

    Attributes:
        copies: channel-augmented copies of each source (real or manifest fake).
        fakers: `FAKERS` names the full pseudo-fakes of a source are drawn from, without
            replacement (repeat a name to draw it more often).
        full_fakes: whole-utterance pseudo-fakes per real source (0 to turn pseudo-fakes off).
        spliced: partial fakes per real source; they reuse the first full fake's re-synthesis.
        max_source_s: a longer source is cut to a random stretch of this length (bounds vocoder time).
        min_overlap_s: a window overlapping fake segments this long is fake; less (but some) is ambiguous.
        match_spectrum: equalise each pseudo-fake to its source's long-term spectrum (`match_spectrum`).
        channel: the shared channel.
    """

    copies: int = 2
    fakers: tuple[str, ...] = ("phase", "vocoder")  # the ones measured to carry over to MelGAN (README)
    full_fakes: int = 2
    spliced: int = 1
    max_source_s: float = 10.0
    min_overlap_s: float = 0.25
    match_spectrum: bool = True
    channel: ChannelConfig = field(default_factory=ChannelConfig)

    def __post_init__(self) -> None:
        for kind, names, valid in (("voice faker", self.fakers, FAKERS), ("codec", self.channel.codecs, CODECS)):
            unknown = sorted(set(names) - set(valid))
            if unknown:
                raise ValueError(f"unknown {kind} {unknown}; valid: {sorted(valid)}")


@dataclass(frozen=True)
class AudioSource:
    """One manifest row's audio as the audio branch sees it."""

    path: str
    group: str  # the manifest group: a fake and its source share it
    audio: np.ndarray  # float32 (N,) mono in [-1, 1] at the mel config's sample rate
    label: int  # 1 when the audio is fake, else 0
    fake_segments: np.ndarray  # float64 (K, 2) start, end seconds of fake audio; (0, 2) for real


@dataclass(frozen=True)
class WindowBank:
    """Labelled log-mel windows of many sources and views, kept compact (float16) in memory."""

    mels: np.ndarray  # float16 (M, n_mels, t) log-mel dB
    labels: np.ndarray  # int8 (M,) 1 fake, 0 real, AMBIGUOUS
    source: np.ndarray  # int64 (M,) index of the source the window comes from
    view: np.ndarray  # int16 (M,) which copy or pseudo-fake of the source (see `source_views`)
    start_s: np.ndarray  # float64 (M,) window start in its view's audio, seconds
    end_s: np.ndarray  # float64 (M,) window end, seconds

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> WindowBank:
        """The windows where bool (M,) `mask` is True."""
        return WindowBank(*(getattr(self, name)[mask] for name in BANK_FIELDS))

    @classmethod
    def of(cls, windows: MelWindows, labels: np.ndarray, *, source: int, view: int) -> WindowBank:
        """The windows of one view of one source."""
        n = len(labels)
        return cls(windows.mels.astype(np.float16), labels, np.full(n, source, np.int64), np.full(n, view, np.int16),
                   windows.start_s, windows.end_s)


BANK_FIELDS = ("mels", "labels", "source", "view", "start_s", "end_s")


def make_source(row: ManifestRow, audio: np.ndarray) -> AudioSource:
    """The `AudioSource` of a manifest row, labelled by its audio label when the dataset gives one, else
    by its label; a fake without segments is fake from start to end."""
    label = int((row.audio_label or row.label) == FAKE)
    segments = np.asarray(row.fake_segments, np.float64).reshape(-1, 2) if label else np.zeros((0, 2))
    if label and len(segments) == 0:
        segments = np.array([[0.0, np.inf]])
    return AudioSource(str(row.path), row.group, np.asarray(audio, np.float32), label, segments)


def window_labels(start_s: np.ndarray, end_s: np.ndarray, segments: np.ndarray, *,
                  min_overlap_s: float) -> np.ndarray:
    """int8 (W,) 1 where a window overlaps `segments` (K, 2) by at least `min_overlap_s`, 0 where not at
    all, AMBIGUOUS in between. A window shorter than `min_overlap_s` that lies inside a segment is 1."""
    if len(segments) == 0:
        return np.zeros(len(start_s), np.int8)
    lo = np.maximum(start_s[:, None], segments[None, :, 0])
    hi = np.minimum(end_s[:, None], segments[None, :, 1])
    overlap = np.clip(hi - lo, 0.0, None).sum(axis=1)
    enough = np.minimum(min_overlap_s, end_s - start_s) - 1e-9
    return np.where(overlap >= enough, 1, np.where(overlap > 0, AMBIGUOUS, 0)).astype(np.int8)


def match_spectrum(fake: np.ndarray, real: np.ndarray, *, n_fft: int = 512, smooth_bins: int = 5) -> np.ndarray:
    """float32 (N,) `fake` equalised so that its long-term average spectrum is that of `real`.

    Re-synthesis colours a voice (WORLD adds about 15 dB below 40 Hz, Griffin-Lim tilts the low bands),
    while a neural vocoder such as MelGAN stays within a dB of its source on average. Equalising the
    pseudo-fakes leaves the detector the fine time-frequency structure to learn, not the colouring.
    """
    _, _, spec = signal.stft(fake, nperseg=n_fft)
    _, _, ref = signal.stft(real, nperseg=n_fft)
    # In log power, as the classifier sees it: a mean of linear power is ruled by the loudest frames.
    level = np.mean(np.log(np.abs(spec) ** 2 + 1e-12), axis=1)
    target = np.mean(np.log(np.abs(ref) ** 2 + 1e-12), axis=1)
    gain = np.exp(0.5 * uniform_filter1d(target - level, smooth_bins))
    _, out = signal.istft(spec * np.clip(gain, 1e-2, 1e2)[:, None], nperseg=n_fft)
    return np.pad(out[: len(fake)], (0, max(0, len(fake) - len(out)))).astype(np.float32)


def mel_smooth(y: np.ndarray, *, frames: int = 3, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 80,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 (N,) `y` rebuilt from its mel spectrogram averaged over `frames` frames, with its own phase.

    What a mel-conditioned neural vocoder keeps of a voice: the 80-band envelope, smoothed in time and
    frequency (the over-smoothing of TTS acoustic models), without Griffin-Lim's phase artefacts, which
    make a detector learn "rough means fake" when vocoder output is smoother than the original.
    """
    x = torch.from_numpy(np.ascontiguousarray(y, np.float32))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop_length, window=window, return_complex=True)
    bank = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate)
    mel = torch.nn.functional.avg_pool1d((bank.T @ spec.abs() ** 2)[:, None], frames, 1, frames // 2,
                                         count_include_pad=False)[:, 0, : spec.shape[1]]
    power = (torch.linalg.pinv(bank.T) @ mel).clamp_min(1e-10)  # least-squares inverse of the filter bank
    out = torch.istft(torch.polar(power.sqrt(), spec.angle()), n_fft, hop_length, window=window, length=len(y))
    return out.numpy().astype(np.float32)


def vocoder_like(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 (N,) a GAN vocoder's copy of `y`, roughly: its magnitudes with a re-made phase
    (`phase_resynth`), then its upsampling chain's traces."""
    return upsampling_artefacts(phase_resynth(y, rng), rng)


# Name -> fake(y, rng): the voice pseudo-fakes of `avdetect.pseudofakes.voice`, plus mel smoothing and
# a rough GAN-vocoder copy (re-made phase and upsampling artefacts together).
FAKERS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    **VOICE_FAKERS,
    "mel_smooth": lambda y, rng: mel_smooth(y, frames=int(rng.integers(2, 5))),
    "vocoder": vocoder_like,
}


def add_noise(y: np.ndarray, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """float32 `y` plus white or pink (1/f) noise scaled to `snr_db` below its power."""
    noise = rng.standard_normal(len(y))
    if rng.random() < 0.5:  # pink: shape white noise by 1/sqrt(f) in the frequency domain
        spectrum = np.fft.rfft(noise)
        spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
        noise = np.fft.irfft(spectrum, n=len(y))
    power = np.mean(np.square(y, dtype=np.float64))
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / max(np.mean(noise**2), 1e-20))
    return (y + noise).astype(np.float32)


def apply_channel(y: np.ndarray, rng: np.random.Generator, config: ChannelConfig, *,
                  sample_rate: int) -> np.ndarray:
    """float32 (N,) `y` through a random room, equaliser and low-pass (`audio_acoustics`), codec round trip
    and noise, each with its probability."""
    y = apply_acoustics(y, rng, config.acoustics, sample_rate=sample_rate)
    if config.codecs and rng.random() < config.codec_p:
        y = codec_roundtrip(y, str(rng.choice(config.codecs)), sample_rate=sample_rate)
    if rng.random() < config.noise_p:
        y = add_noise(y, rng, float(rng.uniform(*config.snr_db)))
    return y


def source_views(source: AudioSource, rng: np.random.Generator, config: ViewConfig, *,
                 sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(audio float32 (N,), fake segments float64 (K, 2) seconds) of each training view of `source`:
    `copies` copies, then for a real source `full_fakes` pseudo-fakes and `spliced` partial fakes.
    The channel is applied to each after it is made."""
    n = int(config.max_source_s * sample_rate)  # a longer source is cut to a random stretch
    offset = int(rng.integers(0, len(source.audio) - n + 1)) if len(source.audio) > n else 0
    audio = source.audio[offset : offset + n]
    duration = len(audio) / sample_rate
    segments = source.fake_segments - offset / sample_rate
    views = [(audio, segments) for _ in range(config.copies)]
    if source.label == 0 and len(audio) > 0:
        whole = np.array([[0.0, duration]])
        names = rng.permutation(np.resize(np.asarray(config.fakers), max(config.full_fakes, len(config.fakers))))
        fakes = [FAKERS[str(name)](audio, rng) for name in names[: config.full_fakes]]
        fakes = [match_spectrum(fake, audio) for fake in fakes] if config.match_spectrum else fakes
        views += [(fake, whole) for fake in fakes]
        for _ in range(config.spliced if fakes else 0):
            views.append(_splice_or_whole(audio, fakes[0], rng, sample_rate))
    return [(apply_channel(y, rng, config.channel, sample_rate=sample_rate), s) for y, s in views]


def _splice_or_whole(real: np.ndarray, fake: np.ndarray, rng: np.random.Generator,
                     sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        return splice(real, fake, rng, sample_rate=sample_rate)
    except ValueError:  # too short for a splice: the utterance is fake throughout instead
        return fake, np.array([[0.0, len(real) / sample_rate]])


def view_windows(audio: np.ndarray, segments: np.ndarray, extractor: MelExtractor, speech: SpeechConfig, *,
                 min_overlap_s: float) -> tuple[MelWindows, np.ndarray]:
    """Silence-trimmed windows of one view (`analyze_audio`) and their int8 (W,) labels."""
    windows = analyze_audio(audio, extractor.config.sample_rate, extractor, speech).windows
    labels = window_labels(windows.start_s, windows.end_s, segments, min_overlap_s=min_overlap_s)
    return windows, labels
