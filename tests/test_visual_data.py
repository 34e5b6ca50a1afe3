"""Visual training data: crop sets, seeded augmentations, on-the-fly pseudo-fakes and pairs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from avdetect.training.visual_augment import (
    AUGMENTATIONS,
    AugmentConfig,
    augment,
    jpeg_compress,
    resize_cycle,
    zoom_crop,
)
from avdetect.training.visual_data import CropDataset, CropSet, same_frame_rows

SIZE = 64
# Five landmarks of a frontal face filling a SIZE crop with a third of margin: eyes, nose, mouth corners.
LANDMARKS = np.array([[24, 26], [40, 26], [32, 34], [26, 43], [38, 43]], np.float32)
NEVER = AugmentConfig(**{name: 0.0 for name in AUGMENTATIONS})


def face_like(seed: int) -> np.ndarray:
    """A smooth, skin-toned image with some texture, so blends and codecs have something to change."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIZE, :SIZE]
    base = np.array([190, 140, 120]) * (0.7 + 0.3 * np.cos((x - 32) / 20.0)[..., None])
    return np.clip(base + rng.normal(0, 10, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)


def crop_set(labels: list[int], *, groups: list[str] | None = None, frames: list[int] | None = None,
             landmarks: bool = True) -> CropSet:
    n = len(labels)
    marks = np.tile(LANDMARKS, (n, 1, 1)) if landmarks else np.full((n, 5, 2), np.nan, np.float32)
    crops = CropSet.from_images(np.stack([face_like(i) for i in range(n)]), marks, np.array(labels), groups=groups)
    return replace(crops, frames=np.array(frames if frames is not None else [0] * n, np.int64))


def test_augment_keeps_shape_and_dtype_and_follows_the_seed() -> None:
    image = face_like(0)
    outs = [augment(image, np.random.default_rng(seed)) for seed in range(8)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    np.testing.assert_array_equal(outs[3], augment(image, np.random.default_rng(3)))
    assert len({o.tobytes() for o in outs}) > 4


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_each_augmentation_changes_the_image_but_keeps_its_form(name: str) -> None:
    image = face_like(1)
    config = replace(NEVER, **{name: 1.0})
    out = augment(image, np.random.default_rng(0), config)
    assert out.shape == image.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    assert not np.array_equal(out, image)


def test_no_augmentation_leaves_the_image_alone() -> None:
    image = face_like(2)
    np.testing.assert_array_equal(augment(image, np.random.default_rng(0), NEVER), image)


def test_jpeg_loses_more_at_low_quality() -> None:
    image = face_like(3).astype(np.float64)
    errors = [np.abs(jpeg_compress(image.astype(np.uint8), q) - image).mean() for q in (10, 50, 95)]
    assert errors[0] > errors[1] > errors[2] > 0


def test_resize_cycle_and_zoom_keep_the_size() -> None:
    image = face_like(4)
    assert resize_cycle(image, 0.3).shape == image.shape
    assert zoom_crop(image, 0.5, (0.0, 0.0)).shape == image.shape
    np.testing.assert_array_equal(zoom_crop(image, 1.0, (0.5, 0.5)), image)


def test_crop_set_checks_lengths_and_takes_rows() -> None:
    crops = crop_set([0, 1, 0])
    assert len(crops.take(np.array([2, 0]))) == 2
    assert len(CropSet.concat([crops, crops])) == 6
    with pytest.raises(ValueError, match="differ in length"):
        replace(crops, labels=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="uint8"):
        replace(crops, crops=crops.crops.astype(np.float32))


def test_pseudo_fakes_are_made_from_real_crops_with_landmarks() -> None:
    crops = CropSet.concat([crop_set([0, 0, 1]), crop_set([0], landmarks=False)])
    dataset = CropDataset(crops, p_pseudo=1.0, augment=None)
    items = [dataset[i] for i in range(len(dataset))]
    assert [float(labels[0]) for _, labels in items] == [1.0, 1.0, 1.0, 0.0]
    assert all(images.shape == (1, SIZE, SIZE, 3) and images.dtype == np.uint8 for images, _ in items)
    assert not np.array_equal(items[0][0][0], crops.crops[0])  # blended
    np.testing.assert_array_equal(items[2][0][0], crops.crops[2])  # a real fake stays as it is
    np.testing.assert_array_equal(items[3][0][0], crops.crops[3])  # no landmarks: stays real


def test_dataset_draws_follow_seed_epoch_and_item() -> None:
    crops = crop_set([0] * 4)
    a, b = CropDataset(crops, seed=1), CropDataset(crops, seed=1)
    np.testing.assert_array_equal(a[2][0], b[2][0])
    before = a[2][0]
    a.set_epoch(1)
    assert not np.array_equal(a[2][0], before)


def test_p_pseudo_zero_keeps_every_label() -> None:
    crops = crop_set([0, 1, 0, 1])
    labels = [float(CropDataset(crops, p_pseudo=0.0)[i][1][0]) for i in range(4)]
    assert labels == [0.0, 1.0, 0.0, 1.0]


def test_same_frame_rows_match_group_and_frame() -> None:
    crops = crop_set([0, 1, 1, 0, 1], groups=["a", "a", "a", "b", "a"], frames=[3, 5, 3, 3, 3])
    fakes = same_frame_rows(crops, 1)
    assert set(fakes) == {("a", 5), ("a", 3)}
    np.testing.assert_array_equal(fakes[("a", 3)], [2, 4])
    assert set(same_frame_rows(crops, 0)) == {("a", 3), ("b", 3)}


def test_pairs_share_the_augmentation_and_use_a_real_fake_when_there_is_one() -> None:
    crops = crop_set([0, 1, 0], groups=["a", "a", "b"], frames=[0, 0, 0])
    dataset = CropDataset(crops, p_pseudo=0.0, paired=True, augment=replace(NEVER, flip=1.0))
    assert len(dataset) == 2  # the two real crops
    images, labels = dataset[0]
    assert images.shape == (2, SIZE, SIZE, 3) and labels.tolist() == [0.0, 1.0]
    np.testing.assert_array_equal(images[0], crops.crops[0][:, ::-1])  # same flip on both
    np.testing.assert_array_equal(images[1], crops.crops[1][:, ::-1])
    images, _ = dataset[1]  # no real fake for group b: its self-blend
    assert not np.array_equal(images[1], images[0])


def test_pairs_of_every_fake_keep_fakes_whose_source_is_missing() -> None:
    # group a: a real and its fake at frame 0; group c: a fake whose source is not in the data
    crops = crop_set([0, 1, 1], groups=["a", "a", "c"], frames=[0, 0, 0], landmarks=False)
    assert len(CropDataset(crops, paired=True, augment=None)) == 1  # pairs of real rows only: c never trains
    dataset = CropDataset(crops, every_fake=True, augment=None)  # pairs, without being told `paired`
    assert dataset.paired and len(dataset) == 3
    for i in range(3):
        images, labels = dataset[i]
        assert labels.tolist() == [0.0, 1.0]
        np.testing.assert_array_equal(images[0], crops.crops[0])  # the only real crop, beside each fake
    np.testing.assert_array_equal(dataset[1][0][1], crops.crops[1])
    np.testing.assert_array_equal(dataset[2][0][1], crops.crops[2])


def test_a_real_crop_pairs_with_any_fake_of_its_source_and_frame() -> None:
    crops = crop_set([0, 1, 1], groups=["a", "a", "a"], frames=[0, 0, 0], landmarks=False)
    dataset = CropDataset(crops, paired=True, augment=None)
    seen = set()
    for epoch in range(12):
        dataset.set_epoch(epoch)
        seen.add(dataset[0][0][1].tobytes())
    assert seen == {crops.crops[1].tobytes(), crops.crops[2].tobytes()}


def test_cross_blends_paste_a_face_of_another_group() -> None:
    crops = crop_set([0, 0, 0], groups=["a", "a", "b"])
    crossed = CropDataset(crops, p_pseudo=1.0, p_cross=1.0, augment=None)
    rng = np.random.default_rng(0)
    assert {crossed._donor(0, rng) for _ in range(10)} == {2}  # never its own group
    assert {crossed._donor(2, rng) for _ in range(10)} <= {0, 1}
    images, labels = crossed[0]
    assert labels.tolist() == [1.0]
    selfish = CropDataset(crops, p_pseudo=1.0, p_cross=0.0, augment=None)
    assert not np.array_equal(images, selfish[0][0])


def test_cross_blends_fall_back_to_self_blends_without_another_group() -> None:
    crops = crop_set([0, 0], groups=["a", "a"])
    crossed, selfish = (CropDataset(crops, p_pseudo=1.0, p_cross=p, augment=None) for p in (1.0, 0.0))
    assert crossed._donor(0, np.random.default_rng(0)) == -1
    assert float(crossed[0][1][0]) == 1.0 and not np.array_equal(crossed[0][0][0], crops.crops[0])
