"""Synthetic speech made offline and reproducibly, to train and test the voice branch on real generators.

`recipe.synthesize` turns a manifest's real speech into labelled fakes: vocoder copies (`vocoders`:
HiFi-GAN, WORLD, Griffin-Lim) and text-to-speech (`tts`: Piper VITS, eSpeak NG, Festival, Flite), each
row labelled with its `generator` and `family` (`engines.ENGINES`). Several engines are GPL or AGPL:
they are training-data tools, and the scoring path never imports this package.
"""

from avdetect.corpus.synth.base import Synthesis
from avdetect.corpus.synth.engines import ENGINES, get_engines
from avdetect.corpus.synth.outputs import SynthRow, write_synth_manifest
from avdetect.corpus.synth.recipe import DEFAULT_ENGINES, SynthConfig, synthesize
from avdetect.errors import EngineMissingError, SynthesisError

__all__ = [
    "DEFAULT_ENGINES",
    "ENGINES",
    "EngineMissingError",
    "SynthConfig",
    "SynthRow",
    "Synthesis",
    "SynthesisError",
    "get_engines",
    "synthesize",
    "write_synth_manifest",
]
