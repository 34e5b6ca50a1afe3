"""Real/fake pairs of audio training windows: partners of the same group and time, shared augmentation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_audio_branch import windows
from test_audio_branch_train import speakers, tiny_config

from avdetect.training.audio import AudioTrainer
from avdetect.training.audio_batches import SpecAugmentConfig, WindowPairs, augment_batch

# group a: a real utterance (windows at 0, 1, 2 s) and its vocoder copy (0.1, 1.1, 2.1 s); group b: a real
# one only; group t: a text-to-speech fake whose group holds no real window.
LABELS = np.array([0, 0, 0, 1, 1, 1, 0, 1, 1], np.int8)
GROUPS = np.array(["a", "a", "a", "a", "a", "a", "b", "t", "t"], dtype=object)
START = np.array([0.0, 1.0, 2.0, 0.1, 1.1, 2.1, 0.0, 0.0, 1.0])


def test_partner_is_of_the_other_class_in_the_same_group_nearest_in_time():
    pairs = WindowPairs(LABELS, GROUPS, START)
    rng = np.random.default_rng(0)
    for row, expected in ((0, 3), (1, 4), (2, 5), (3, 0), (4, 1), (5, 2)):
        assert {pairs.partner(row, rng) for _ in range(20)} == {expected}
    assert {pairs.partner(7, rng) for _ in range(50)} == {0, 1, 2, 6}  # no real in its group: any real
    assert {pairs.partner(6, rng) for _ in range(50)} == {3, 4, 5, 7, 8}
    assert pairs.matched() == pytest.approx(6 / 9)


def test_windows_within_the_gap_are_all_candidates():
    labels, groups = np.array([0, 1, 1, 1], np.int8), np.array(["a"] * 4, dtype=object)
    pairs = WindowPairs(labels, groups, np.array([1.0, 0.9, 1.2, 3.0]), max_gap_s=0.25)
    assert {pairs.partner(0, np.random.default_rng(i)) for i in range(40)} == {1, 2}


def test_draw_gives_real_then_fake_with_both_classes_anchoring():
    pairs = WindowPairs(LABELS, GROUPS, START)
    drawn = pairs.draw(np.random.default_rng(1), 400)
    assert drawn.shape == (400, 2) and np.all(LABELS[drawn[:, 0]] == 0) and np.all(LABELS[drawn[:, 1]] == 1)
    assert set(drawn[:, 1].tolist()) >= {7, 8}  # the fakes without a real of their group train too
    same_group = GROUPS[drawn[:, 0]] == GROUPS[drawn[:, 1]]
    assert 0.4 < same_group.mean() < 0.9
    batch = pairs.draw_batch(np.random.default_rng(1), 7)
    assert batch.shape == (6,) and LABELS[batch].tolist() == [0, 1] * 3
    np.testing.assert_array_equal(pairs.draw(np.random.default_rng(5), 9), pairs.draw(np.random.default_rng(5), 9))


def test_one_class_only_is_a_value_error():
    with pytest.raises(ValueError, match="both classes"):
        WindowPairs(np.zeros(3, np.int8), np.array(["a"] * 3, dtype=object), np.zeros(3))


def test_shared_augmentation_draws_once_per_pair():
    x = np.repeat(windows(3), 2, axis=0)  # three pairs of identical windows
    config = SpecAugmentConfig(gain_db=(-8.0, 8.0), freq_masks=2, freq_width=10, time_masks=2, time_width=30)
    fill = np.full(x.shape[1], 123.0, np.float32)
    out = augment_batch(x, np.random.default_rng(0), config, fill=fill, shared=2)
    assert all(np.array_equal(out[2 * i], out[2 * i + 1]) for i in range(3))
    assert not np.array_equal(out[0] - x[0], out[2] - x[2])
    alone = augment_batch(x, np.random.default_rng(0), config, fill=fill)
    assert not np.array_equal(alone[0], alone[1])  # unshared: each window its own draw


def test_paired_trainer_batches_alternate_real_and_fake_of_one_speaker(tmp_path):
    sources, _ = speakers(3, duration_s=2.5)
    trainer = AudioTrainer(sources, config=replace(tiny_config(batch_size=8, steps_per_epoch=2), pairs=True))
    rows = np.arange(len(trainer.index))
    model, curves = trainer.fit(rows, state_dir=tmp_path)
    assert len(curves) == 2 and np.isfinite(curves[-1]["loss"])
    train = trainer.training_windows(rows)
    batches = trainer._batches(train, trainer._sampler(train), model, [0, 0], 0)
    assert all(labels.tolist() == [0.0, 1.0] * 4 for _, (_, labels) in zip(range(3), batches))
    pairs = WindowPairs(train.labels, trainer.groups[train.source], train.start_s)
    drawn = train.source[pairs.draw(np.random.default_rng(0), 50)]
    assert pairs.matched() == 1.0 and np.all(trainer.groups[drawn[:, 0]] == trainer.groups[drawn[:, 1]])
