"""Which way each stacker input may push P(fake): LightGBM's monotone constraints, named by pattern.

A few hundred videos from a few dozen sources let the trees learn any bend of a column, and some bends are
corpus, not evidence: a face CNN that scores one public-speech set's real faces 0.95 and its fakes 0.8
teaches "very fake-looking face = real". Evidence has a direction: more fake-looking frames or windows,
a larger lip-sync lag or a weaker audio-visual correlation never make a video *less* likely fake. The
`EVIDENCE` rules say so for the branch-score statistics and the hand-made sync columns; everything else
(the hand-made feature blocks, spreads, counts, flags) stays free.

Measured on the shipped recipe's table (`benchmarks/stacker_ablation.py`, generator families held out,
seeds 0-3): mean AUC over the held-out families 0.722 -> 0.733, over those with n >= 10 0.788 -> 0.796,
overall AUC unchanged (0.796); the numbers are in the README's fusion table.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from stacking.aggregate import AUDIO, SYNC, VISUAL

# the pooled statistics (`stacking.aggregate.AGGREGATORS`) that rise with the share of fake-looking scores
RISING_STATS = ("mean", "median", "max", "q10", "q25", "q75", "q90", "frac_gt50", "frac_gt80", "confident_mean")

EVIDENCE: tuple[tuple[str, int], ...] = (
    *((f"{VISUAL}*_{stat}", 1) for stat in RISING_STATS),
    *((f"{AUDIO}{stat}", 1) for stat in RISING_STATS),
    (f"{SYNC}*abs_lag_s", 1),  # the plain `sync_` columns and the `sync_motion_` block alike
    (f"{SYNC}*window_lag_std_s", 1),
    (f"{SYNC}*peak", -1),
    (f"{SYNC}*at_zero", -1),
    (f"{SYNC}*sharpness", -1),
    (f"{SYNC}*window_agreement", -1),
    ("voice_embed_logit", 1),  # the speaker-encoder head's logit (avdetect.features.voice_embed)
)
RULES = {"evidence": EVIDENCE, "none": ()}  # fit-stacker's --monotone choices


def constraints(names: Sequence[str], rules: Sequence[Sequence]) -> list[int]:
    """LightGBM's `monotone_constraints` for columns `names`: the sign (+1 rising, -1 falling) of the first
    (pattern, sign) rule whose fnmatch pattern matches the name, 0 (free) where none does.

    Raises:
        ValueError: a sign other than -1, 0 or 1.
    """
    for pattern, sign in rules:
        if sign not in (-1, 0, 1):
            raise ValueError(f"monotone rule {pattern!r}: sign {sign!r} is not -1, 0 or 1")
    return [next((int(sign) for pattern, sign in rules if fnmatchcase(name, pattern)), 0) for name in names]
