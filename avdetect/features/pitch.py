"""The `voice_pitch` block: pitch and periodicity of the speech by CREPE tiny (``torchcrepe==0.0.24``).

Neural vocoders and TTS models reproduce the spectral envelope well but not the fine behaviour of the
glottal source: their periodicity is too even and their pitch too smooth (or too jumpy). A quick probe
in issue 11 separated LJSpeech from its MelGAN copies at AUC 0.87-0.89 from periodicity statistics alone,
still 0.87 after AAC or MP3. CREPE tiny's weights ship in the torchcrepe wheel; it runs here at a 20 ms
hop on at most `MAX_SPEECH_S` of speech (the middle of the detected span), which keeps the block within
the voice features' CPU budget (``benchmarks/voice_features.py``).

Absolute pitch is left out on purpose: it tells speakers (and a TTS engine's one voice) apart, not real
from synthetic.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from avdetect.features.speech_span import speech_excerpt
from avdetect.records import Perception

HOP_S = 0.02  # seconds between CREPE frames
MAX_SPEECH_S = 3.0  # seconds of speech analysed at most (150 frames)
VOICED = 0.5  # CREPE periodicity above which a frame is voiced and its pitch trusted
JUMP_ST = 1.0  # semitones between consecutive voiced frames that count as a jump
N_EMBED = 32  # channels of CREPE tiny's embedding (conv5), each averaged over frames and positions

STAT_NAMES = (
    "pitch_periodicity_mean", "pitch_periodicity_std", "pitch_periodicity_q10", "pitch_periodicity_q50",
    "pitch_periodicity_q90", "pitch_periodicity_delta", "pitch_voiced_fraction", "pitch_voiced_run_s",
    "pitch_f0_std_st", "pitch_f0_range_st", "pitch_jitter_st", "pitch_jitter_mean_st", "pitch_smoothness_st",
    "pitch_jump_fraction",
)
NAMES = STAT_NAMES + tuple(f"pitch_embed_{i:02d}" for i in range(N_EMBED))


@functools.lru_cache(maxsize=1)
def crepe_tiny() -> Any:
    """CREPE tiny from the torchcrepe wheel, in eval mode, loaded once per process."""
    import torchcrepe

    torchcrepe.load.model("cpu", "tiny")
    return torchcrepe.infer.model.eval()


def crepe_frames(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CREPE tiny on ``audio`` float32 (N,) every `HOP_S`.

    Returns:
        periodicity float64 (T,) in [0, 1], f0 float64 (T,) Hz, embedding float64 (T, N_EMBED).
    """
    import torch
    import torchcrepe

    model = crepe_tiny()
    x = torch.from_numpy(np.ascontiguousarray(audio, np.float32))[None]
    with torch.no_grad():
        frames = next(torchcrepe.preprocess(x, sample_rate, int(round(HOP_S * sample_rate)), batch_size=None))
        # Model.forward run in its two halves, so one pass gives both the embedding and the pitch bins.
        embedding = model.embed(frames)  # (T, 32, 8, 1)
        hidden = model.layer(embedding, model.conv6, model.conv6_BN)
        probs = torch.sigmoid(model.classifier(hidden.permute(0, 2, 1, 3).reshape(-1, model.in_features)))
        _, f0 = torchcrepe.decode.weighted_argmax(probs.T[None].clone())
    return (probs.max(dim=1).values.double().numpy(), f0[0].double().numpy(),
            embedding.mean(dim=(2, 3)).double().numpy())


def periodicity_stats(periodicity: np.ndarray) -> list[float]:
    """Mean, std, q10, q50, q90, mean |change| between frames, voiced fraction, mean voiced run (s)."""
    voiced = periodicity > VOICED
    q10, q50, q90 = np.quantile(periodicity, [0.1, 0.5, 0.9])
    delta = float(np.mean(np.abs(np.diff(periodicity)))) if len(periodicity) > 1 else np.nan
    return [float(periodicity.mean()), float(periodicity.std()), q10, q50, q90, delta,
            float(voiced.mean()), _mean_run(voiced) * HOP_S]


def _mean_run(mask: np.ndarray) -> float:
    """Mean length in frames of the runs of True in ``mask``; NaN without any."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return float(lengths.mean()) if len(lengths) else np.nan


def contour_stats(f0: np.ndarray, voiced: np.ndarray) -> list[float]:
    """Over voiced frames, in semitones: std, q95-q5 range, median and mean |step| between consecutive
    voiced frames (jitter), mean |second difference| (smoothness), fraction of steps above `JUMP_ST`."""
    if voiced.sum() < 3:
        return [np.nan] * 6
    st = 12 * np.log2(np.maximum(f0, 1.0))
    steps = np.diff(st)[voiced[1:] & voiced[:-1]]
    both = voiced[2:] & voiced[1:-1] & voiced[:-2]
    curvature = np.abs(np.diff(st, 2))[both]
    q5, q95 = np.quantile(st[voiced], [0.05, 0.95])
    jitter = [float(np.median(np.abs(steps))), float(np.mean(np.abs(steps)))] if len(steps) else [np.nan] * 2
    return [float(st[voiced].std()), float(q95 - q5), *jitter,
            float(curvature.mean()) if len(curvature) else np.nan,
            float(np.mean(np.abs(steps) > JUMP_ST)) if len(steps) else np.nan]


def pitch_row(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """float64 (len(NAMES),) the block's values for speech ``audio`` float32 (N,)."""
    periodicity, f0, embedding = crepe_frames(audio, sample_rate)
    voiced = periodicity > VOICED
    stats = periodicity_stats(periodicity) + contour_stats(f0, voiced)
    return np.array(stats + list(embedding.mean(axis=0)), dtype=np.float64)


def compute(perception: Perception) -> np.ndarray:
    """The `voice_pitch` row of a perception; all NaN without audio or detected speech."""
    excerpt = speech_excerpt(perception, MAX_SPEECH_S)
    if excerpt is None:
        return np.full(len(NAMES), np.nan)
    return pitch_row(excerpt, perception.clip.sample_rate)
