"""Face pseudo-fakes: self-blends, cross-blends, their masks, and blends along a face track."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from avdetect.pseudofakes.faces import (
    colour_transfer,
    cross_blend,
    nearest_pose,
    pose_distance,
    self_blend,
    similarity_matrix,
)
from avdetect.pseudofakes.jitter import JitterConfig, draw_jitter_params, warp_affine
from avdetect.pseudofakes.masks import draw_mask_params, face_mask
from avdetect.pseudofakes.video import TRACK_MODES, blend_track

SIZE = 256
# A face of eye distance 40 px in the middle of a 256 px image: left eye, right eye, nose, mouth corners.
LANDMARKS = np.array([[108, 108], [148, 108], [128, 130], [112, 150], [144, 150]], np.float32)
FACE_CENTRE = np.array([128.0, 129.0])  # midway between the eye and mouth midpoints
EYE_DIST = 40.0


def textured_image(seed: int, size: int = SIZE) -> np.ndarray:
    """uint8 (size, size, 3) smooth random texture: every jitter changes it."""
    noise = np.random.default_rng(seed).standard_normal((size, size, 3))
    smooth = ndimage.gaussian_filter(noise, (3, 3, 0))
    return np.clip(128 + 60 * smooth / smooth.std(), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image(0)


def distance_from_face(size: int = SIZE) -> np.ndarray:
    ys, xs = np.mgrid[:size, :size]
    return np.hypot(xs - FACE_CENTRE[0], ys - FACE_CENTRE[1])


def inside_hull_points() -> np.ndarray:
    """Points well inside the convex hull of the five landmarks: each pulled halfway to the nose."""
    return (LANDMARKS + LANDMARKS[2]) / 2


def test_self_blend_shapes_and_dtypes(image):
    result = self_blend(image, LANDMARKS, np.random.default_rng(1))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert result.mask.shape == image.shape[:2] and result.mask.dtype == np.float32


def test_self_blend_is_deterministic_under_a_seed(image):
    a = self_blend(image, LANDMARKS, np.random.default_rng(7))
    b = self_blend(image, LANDMARKS, np.random.default_rng(7))
    c = self_blend(image, LANDMARKS, np.random.default_rng(8))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("seed", range(12))
def test_mask_covers_the_face_and_nothing_far_away(image, seed):
    mask = self_blend(image, LANDMARKS, np.random.default_rng(seed)).mask
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    for x, y in np.rint(inside_hull_points()).astype(int):
        assert mask[y, x] >= 0.2, (seed, x, y)  # the lowest blend ratio is 0.25
    assert np.all(mask[distance_from_face() > 2.5 * EYE_DIST] == 0.0)


@pytest.mark.parametrize("seed", range(6))
def test_pixels_outside_the_mask_are_unchanged_and_inside_differ(image, seed):
    result = self_blend(image, LANDMARKS, np.random.default_rng(seed))
    outside = result.mask == 0.0
    assert outside.any() and np.array_equal(result.image[outside], image[outside])
    inside = result.mask > 0.5 * result.mask.max()
    diff = np.abs(result.image.astype(int) - image.astype(int)).mean(axis=2)
    assert diff[inside].mean() > 1.0


def test_cross_blend_pastes_the_other_face_inside_the_mask_only(image):
    source = textured_image(1)
    result = cross_blend(image, LANDMARKS, source, LANDMARKS + 5, np.random.default_rng(0))
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    outside = result.mask == 0.0
    assert np.array_equal(result.image[outside], image[outside])
    full = result.mask >= result.mask.max() - 1e-6
    diff = np.abs(result.image.astype(int) - image.astype(int)).mean(axis=2)
    assert diff[full].mean() > 10.0  # another texture entirely
    again = cross_blend(image, LANDMARKS, source, LANDMARKS + 5, np.random.default_rng(0))
    assert np.array_equal(result.image, again.image)


def test_similarity_matrix_recovers_a_known_similarity():
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = LANDMARKS @ (scale * rotation).T + shift
    matrix = similarity_matrix(LANDMARKS, moved)
    assert np.allclose(matrix[:, :2], scale * rotation, atol=1e-6) and np.allclose(matrix[:, 2], shift, atol=1e-4)
    assert pose_distance(LANDMARKS, moved) < 1e-6


def test_nearest_pose_prefers_the_same_expression_over_a_bigger_copy():
    open_mouth = LANDMARKS.copy()
    open_mouth[3:, 1] += 15
    candidates = np.stack([open_mouth, LANDMARKS * 2.0 + 3.0])
    assert nearest_pose(LANDMARKS, candidates) == 1


def test_colour_transfer_moves_the_mean_towards_the_target():
    source = np.full((32, 32, 3), (200, 120, 90), np.uint8)
    target = np.full((32, 32, 3), (90, 110, 160), np.uint8)
    weight = np.ones((32, 32), np.float32)
    full = colour_transfer(source, target, weight, 1.0).astype(float).mean(axis=(0, 1))
    half = colour_transfer(source, target, weight, 0.5).astype(float).mean(axis=(0, 1))
    assert np.abs(full - target[0, 0]).max() <= 2.0
    assert np.abs(half - target[0, 0]).max() < np.abs(source[0, 0].astype(float) - target[0, 0]).max()
    assert np.abs(half - target[0, 0]).max() > 5.0  # stops short: the colour mismatch remains


def test_identity_warp_keeps_the_image(image):
    assert np.array_equal(warp_affine(image, np.array([[1.0, 0, 0], [0, 1.0, 0]])), image)


def test_bad_inputs_raise_value_errors(image):
    with pytest.raises(ValueError, match="landmarks"):
        face_mask(SIZE, SIZE, LANDMARKS[:4], draw_mask_params(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="uint8"):
        self_blend(image.astype(np.float32), LANDMARKS, np.random.default_rng(0))
    with pytest.raises(ValueError, match="valid"):
        draw_jitter_params(np.random.default_rng(0), JitterConfig(filters=("median",)))


def moving_track(n: int = 6, step: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A face crop sliding right by `step` pixels a frame, with its landmarks."""
    big = textured_image(3, SIZE + n * step)
    crops = np.stack([big[:SIZE, (n - t) * step : (n - t) * step + SIZE] for t in range(n)])
    landmarks = np.stack([LANDMARKS + [t * step, 0] for t in range(n)]).astype(np.float32)
    return crops, landmarks


def test_steady_track_mask_moves_with_the_face():
    crops, landmarks = moving_track()
    out = blend_track(crops, landmarks, np.random.default_rng(0), mode="steady")
    assert out.crops.shape == crops.shape and out.masks.shape == crops.shape[:3] and out.fake.all()
    assert np.allclose(out.masks[1][:, 6:], out.masks[0][:, :-6], atol=1e-4)


def test_flicker_track_redraws_the_mask_every_frame():
    crops, landmarks = moving_track()
    out = blend_track(crops, landmarks, np.random.default_rng(0), mode="flicker")
    assert not np.allclose(out.masks[1][:, 6:], out.masks[0][:, :-6], atol=1e-2)


@pytest.mark.parametrize("seed", range(4))
def test_partial_track_fakes_one_stretch_and_leaves_the_rest(seed):
    crops, landmarks = moving_track(n=10)
    out = blend_track(crops, landmarks, np.random.default_rng(seed), mode="partial")
    faked = np.flatnonzero(out.fake)
    assert len(faked) >= 2 and np.array_equal(faked, np.arange(faked[0], faked[-1] + 1))
    assert np.array_equal(out.crops[~out.fake], crops[~out.fake]) and not out.masks[~out.fake].any()
    assert all(out.masks[t].max() > 0 for t in faked)


def test_track_rejects_unknown_modes_and_half_a_source():
    crops, landmarks = moving_track(n=2)
    with pytest.raises(ValueError, match=", ".join(repr(m) for m in sorted(TRACK_MODES))):
        blend_track(crops, landmarks, np.random.default_rng(0), mode="wobbly")
    with pytest.raises(ValueError, match="together"):
        blend_track(crops, landmarks, np.random.default_rng(0), source_image=crops[0])


def test_cross_blend_track_with_one_source_face():
    crops, landmarks = moving_track(n=3)
    source = textured_image(9)
    out = blend_track(crops, landmarks, np.random.default_rng(0), source_image=source, source_landmarks=LANDMARKS)
    assert out.fake.all() and not np.array_equal(out.crops, crops)


@pytest.mark.slow
def test_preview_writes_a_small_png(shared_data, tmp_path):
    import torch

    from avdetect.cli import main

    out = tmp_path / "preview.png"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # MTCNN on two threads of a busy two-core machine ran several times slower
    try:
        assert main(["pseudofakes", "--preview", str(out), "--n", "2", "--data", str(shared_data)]) == 0
    finally:
        torch.set_num_threads(threads)
    with Image.open(out) as png:
        assert png.size[1] == 4 * 128 and png.size[0] > 2 * 128
    assert out.stat().st_size < 500_000
