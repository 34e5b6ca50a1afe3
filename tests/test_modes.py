"""Scoring modes: what --fast changes, and that the flag reaches the worker's scorer and the summary."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from avdetect.perception.perceiver import PerceptionConfig
from avdetect.scoring.batch import ScorerSpec
from avdetect.scoring.modes import FAST, FULL, ScoringMode, get_mode
from avdetect.scoring.scores import VideoScore


class ModeScorer:
    """Says in its row which mode its factory was given."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def score(self, path: Path) -> VideoScore:
        return VideoScore(path=str(path), status="ok", p_fake=0.5, verdict="inconclusive", why=f"mode {self.mode}")


def make_mode_scorer(model_dir: str | None, device: str, *, mode: str = "full") -> ModeScorer:
    return ModeScorer(mode)


def make_modeless_scorer(model_dir: str | None, device: str) -> ModeScorer:
    return ModeScorer("none")


def test_unknown_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="full, fast"):
        get_mode("quick")
    assert get_mode("fast") is FAST and get_mode(FULL) is FULL


def test_full_mode_is_the_spec_and_fast_changes_only_what_it_names():
    spec = PerceptionConfig()
    assert FULL.perception(spec) == spec and FULL.describe() == "the model's spec"
    fast = FAST.perception(spec)
    assert fast.decode.n_frames == FAST.n_frames < spec.decode.n_frames and fast.decode.skip_nonref
    assert fast == replace(spec, decode=replace(spec.decode, n_frames=FAST.n_frames, skip_nonref=True))
    assert ScoringMode(stacker_crops_only=True).perception(spec) == spec  # the CNN's picks change no input
    assert f"{FAST.n_frames} sampled frames" in FAST.describe()


def test_scorer_spec_passes_a_mode_only_to_factories_that_get_one():
    assert ScorerSpec("test_modes:make_mode_scorer", mode="fast").build().mode == "fast"
    assert ScorerSpec("test_modes:make_modeless_scorer").build().mode == "none"  # full: no mode= passed


@pytest.mark.parametrize("flags, mode", [([], "full"), (["--fast"], "fast")])
def test_fast_flag_reaches_the_scorer_and_is_said(tmp_path, capsys, flags, mode):
    from avdetect.cli import main

    clip, out = tmp_path / "clip.mp4", tmp_path / "scores.csv"
    clip.write_bytes(b"not decoded by this scorer")
    assert main(["score", str(clip), "-o", str(out), "--scorer", "test_modes:make_mode_scorer", *flags]) == 0
    assert [row["why"] for row in csv.DictReader(out.open())] == [f"mode {mode}"]
    said = capsys.readouterr()
    assert ("in fast mode" in said.out) == (mode == "fast") and ("fast mode (" in said.err) == (mode == "fast")
