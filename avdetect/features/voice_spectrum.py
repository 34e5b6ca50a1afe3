"""The `voice_spectrum` block: the linear-frequency high band of the speech, where vocoders leave traces.

Neural vocoders upsample with transposed convolutions and band-limited filters: their output carries
narrow tones at multiples of the upsampling rate, images of the low band and a high band that is too
smooth or too flat (WaveFake, Frank & Schönherr 2021; the LFCC front ends of the ASVspoof baselines).
The mel scale blurs all of these above 4 kHz, so this block reads a linear 15.6 Hz-resolution spectrum:
band energy ratios and roll-off, spectral flatness per band, the narrow peaks left once the smooth
envelope is removed above 4 kHz (how tall, how many, how regularly spaced), the high band's shape (slope, a few
cepstral coefficients) and how much it changes from frame to frame.
"""

from __future__ import annotations

import numpy as np

from avdetect.features.speech_span import speech_excerpt
from avdetect.records import Perception

N_FFT = 1024  # 15.6 Hz bins at 16 kHz: narrow enough for upsampling tones
HOP = 256
MAX_SPEECH_S = 10.0  # seconds of speech analysed at most
ACTIVE_DB = 30.0  # frames within this many dB of the loudest count for per-frame statistics
SMOOTH_HZ = 250.0  # width of the median filter that estimates the smooth envelope
PEAK_DB = 3.0  # a bin this far above the envelope is a peak
N_CEPSTRA = 4  # cepstral coefficients of the 4-8 kHz band (1..4; 0 is its level)
EPS = 1e-12

NAMES = (
    "spec_ratio_4k_db", "spec_ratio_6k_db", "spec_ratio_7k_db", "spec_rolloff95_hz", "spec_rolloff99_hz",
    "spec_flatness_low", "spec_flatness_high", "spec_high_var_db", "spec_high_flux_db", "spec_slope_high",
    "spec_peak_max_db", "spec_peak_fraction", "spec_residual_std_high", "spec_residual_periodicity",
    "spec_residual_period_hz", *(f"spec_cepstrum_high_{i}" for i in range(1, N_CEPSTRA + 1)),
    "spec_band_corr", "spec_flux_ratio",
)


def power_frames(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectra float64 (T, N_FFT // 2 + 1) of ``audio`` and the bin frequencies (Hz)."""
    from scipy.signal import stft

    freqs, _, spec = stft(audio.astype(np.float64), fs=sample_rate, nperseg=N_FFT, noverlap=N_FFT - HOP,
                          boundary=None, padded=True)
    return np.abs(spec.T) ** 2, freqs


def band(freqs: np.ndarray, low: float, high: float) -> np.ndarray:
    """bool mask of the bins in [low, high) Hz."""
    return (freqs >= low) & (freqs < high)


def ratio_db(power: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> float:
    """10 log10 of the energy in one band over another, of a mean power spectrum."""
    return float(10 * np.log10((power[numerator].sum() + EPS) / (power[denominator].sum() + EPS)))


def rolloff_hz(power: np.ndarray, freqs: np.ndarray, fraction: float) -> float:
    """Frequency below which ``fraction`` of the energy lies."""
    cumulative = np.cumsum(power)
    return float(freqs[np.searchsorted(cumulative, fraction * cumulative[-1])])


def flatness(frames: np.ndarray) -> float:
    """Mean over frames of the spectral flatness (geometric over arithmetic mean) of (T, F) power."""
    log_mean = np.mean(np.log(frames + EPS), axis=1)
    return float(np.mean(np.exp(log_mean) / (frames.mean(axis=1) + EPS)))


def envelope_residual(log_power: np.ndarray, sample_rate: int) -> np.ndarray:
    """dB above the smooth envelope (a running median `SMOOTH_HZ` wide) of a log mean spectrum."""
    from scipy.ndimage import median_filter

    width = int(SMOOTH_HZ / (sample_rate / N_FFT)) | 1
    return log_power - median_filter(log_power, size=width, mode="nearest")


def spacing(residual: np.ndarray, bin_hz: float) -> tuple[float, float]:
    """How regularly peaks repeat: the highest normalised autocorrelation of ``residual`` over lags of
    47-1000 Hz, and that lag in Hz (upsampling tones repeat at the vocoder's frame rate)."""
    centred = residual - residual.mean()
    full = np.correlate(centred, centred, mode="full")[len(centred) - 1 :]
    if full[0] <= 0:
        return np.nan, np.nan
    lags = np.arange(3, min(int(1000 / bin_hz), len(full) - 1) + 1)
    best = lags[np.argmax(full[lags])]
    return float(full[best] / full[0]), float(best * bin_hz)


def high_band_cepstrum(log_power: np.ndarray) -> list[float]:
    """DCT-II coefficients 1..N_CEPSTRA of the 4-8 kHz log spectrum (its shape, not its level)."""
    from scipy.fft import dct

    return [float(c) for c in dct(log_power, norm="ortho")[1 : N_CEPSTRA + 1]]


def band_coupling(active: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """How the high band follows the low one over (T, F) power frames: the correlation of their log
    energies, and the high band's mean frame-to-frame change over the low band's. A vocoder draws both
    bands from the same mel frames; in real speech, fricatives and breath move the high band alone."""
    if len(active) < 3:
        return np.nan, np.nan
    lo = 10 * np.log10(active[:, low].sum(axis=1) + EPS)
    hi = 10 * np.log10(active[:, high].sum(axis=1) + EPS)
    corr = float(np.corrcoef(lo, hi)[0, 1]) if lo.std() > 0 and hi.std() > 0 else np.nan
    return corr, float(np.mean(np.abs(np.diff(hi))) / (np.mean(np.abs(np.diff(lo))) + EPS))


def spectrum_row(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """float64 (len(NAMES),) the block's values for speech ``audio`` float32 (N,)."""
    frames, freqs = power_frames(audio, sample_rate)
    energy = 10 * np.log10(frames.sum(axis=1) + EPS)
    active = frames[energy > energy.max() - ACTIVE_DB]
    mean_power = frames.mean(axis=0)
    low, high, nyquist = band(freqs, 300, 4000), band(freqs, 4000, 8000), sample_rate / 2
    per_frame = 10 * np.log10(active[:, high].sum(axis=1) + EPS) - 10 * np.log10(active[:, low].sum(axis=1) + EPS)
    log_high = 10 * np.log10(active[:, high] + EPS)
    flux = float(np.mean(np.abs(np.diff(log_high, axis=0)))) if len(active) > 1 else np.nan
    coupling = band_coupling(active, low, high)
    log_mean = 10 * np.log10(mean_power + EPS)
    slope = float(np.polyfit(freqs[high] / 1000, log_mean[high], 1)[0])
    residual = envelope_residual(log_mean, sample_rate)
    peaks = band(freqs, 4000, nyquist)  # above the voice's strong harmonics
    return np.array([
        ratio_db(mean_power, high, band(freqs, 0, 4000)), ratio_db(mean_power, band(freqs, 6000, 8000), freqs >= 0),
        ratio_db(mean_power, band(freqs, 7000, 8000), band(freqs, 4000, 7000)),
        rolloff_hz(mean_power, freqs, 0.95), rolloff_hz(mean_power, freqs, 0.99),
        flatness(active[:, low]), flatness(active[:, high]), float(np.std(per_frame)), flux, slope,
        float(residual[peaks].max()), float(np.mean(residual[peaks] > PEAK_DB)), float(residual[high].std()),
        *spacing(residual[peaks], sample_rate / N_FFT), *high_band_cepstrum(log_mean[high]), *coupling,
    ], dtype=np.float64)


def compute(perception: Perception) -> np.ndarray:
    """The `voice_spectrum` row of a perception; all NaN without audio or detected speech."""
    excerpt = speech_excerpt(perception, MAX_SPEECH_S)
    if excerpt is None or len(excerpt) < N_FFT:
        return np.full(len(NAMES), np.nan)
    return spectrum_row(excerpt, perception.clip.sample_rate)
