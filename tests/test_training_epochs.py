"""The shared optimisation loop: learning-rate schedule, quick budget, resume after a kill."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from avdetect.errors import ModelFileError
from avdetect.training.epochs import QUICK_STEPS, TrainConfig, fit_epochs, lr_at, remove_epoch_state

CONFIG = TrainConfig(epochs=4, lr=0.05, warmup=0.25)


def batches(epoch: int, *, fail_at: int | None = None):
    """Four seeded batches of a linearly separable problem; raises at epoch `fail_at` (a kill)."""
    if epoch == fail_at:
        raise KeyboardInterrupt
    rng = np.random.default_rng(epoch)
    for _ in range(4):
        x = torch.from_numpy(rng.normal(size=(8, 3)).astype(np.float32))
        yield x, (x[:, 0] > 0).float()


def linear() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 1), nn.Flatten(0))


def test_lr_warms_up_then_decays_to_a_percent() -> None:
    total = 100
    rates = [lr_at(s, total, CONFIG) for s in range(total)]
    assert rates[0] < rates[10] < rates[24] == pytest.approx(CONFIG.lr)
    assert all(a >= b for a, b in zip(rates[24:], rates[25:]))
    assert rates[-1] == pytest.approx(0.01 * CONFIG.lr, rel=0.05)


def test_quick_budget_is_one_short_epoch() -> None:
    assert TrainConfig(quick=True).budget(100) == (1, QUICK_STEPS)
    assert TrainConfig(epochs=3, steps_per_epoch=5).budget(100) == (3, 5)
    assert TrainConfig(epochs=3, steps_per_epoch=500).budget(100) == (3, 100)


def test_training_lowers_the_loss_and_reports_every_step(tmp_path: Path) -> None:
    ticks = []
    curves = fit_epochs(linear(), batches, n_batches=4, config=CONFIG, state_dir=tmp_path, progress=ticks.append,
                        on_epoch=lambda: {"extra": 1.0})
    assert [c["epoch"] for c in curves] == [1, 2, 3, 4] and curves[-1]["extra"] == 1.0
    assert curves[-1]["loss"] < curves[0]["loss"]
    assert [t.step for t in ticks] == list(range(1, 17)) and ticks[-1].total == 16


def test_a_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight = linear()
    fit_epochs(straight, batches, n_batches=4, config=CONFIG, state_dir=tmp_path / "a")
    resumed = linear()
    with pytest.raises(KeyboardInterrupt):
        fit_epochs(resumed, lambda e: batches(e, fail_at=2), n_batches=4, config=CONFIG, state_dir=tmp_path / "b")
    fresh = linear()  # a new process: new module and optimizer, state read back from disk
    curves = fit_epochs(fresh, batches, n_batches=4, config=CONFIG, state_dir=tmp_path / "b")
    assert len(curves) == 4
    for a, b in zip(straight.state_dict().values(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_micro_batches_take_the_whole_batchs_step(tmp_path: Path) -> None:
    """Without batch statistics, passes of 3 (8 = 3 + 3 + 2) sum to the whole batch's gradient: same weights."""
    whole, micro = linear(), linear()
    curves = fit_epochs(whole, batches, n_batches=4, config=CONFIG, state_dir=tmp_path / "a")
    split = fit_epochs(micro, batches, n_batches=4, config=replace(CONFIG, micro_batch=3), state_dir=tmp_path / "b")
    assert [c["loss"] for c in split] == pytest.approx([c["loss"] for c in curves], rel=1e-5)
    for a, b in zip(whole.state_dict().values(), micro.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_resume_refuses_other_options(tmp_path: Path) -> None:
    fit_epochs(linear(), batches, n_batches=4, config=TrainConfig(epochs=1), state_dir=tmp_path)
    with pytest.raises(ModelFileError, match="other options"):
        fit_epochs(linear(), batches, n_batches=4, config=TrainConfig(epochs=1, lr=1.0), state_dir=tmp_path)
    remove_epoch_state(tmp_path)
    assert not list(tmp_path.iterdir())
