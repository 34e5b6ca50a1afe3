"""Decoding: even sampling in one pass, rotation, variable frame rate, audio, limits, bad inputs."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from media import make_video, read_frame_index
from media_bad import VFR_TIMES_S

from avdetect.errors import AvdetectError, DecodeError, EmptyMediaError, InputError
from avdetect.perception.video import DecodeConfig, load_audio, probe, read_audio_alone, read_clip


@pytest.fixture(scope="module")
def clip_path(media_dir):
    return make_video(media_dir / "plain_4s.mp4", duration_s=4.0, fps=25)


def test_samples_evenly_in_one_pass(clip_path):
    clip = read_clip(clip_path, DecodeConfig(n_frames=8))
    assert clip.frames.shape == (8, 240, 320, 3) and clip.frames.dtype == np.uint8
    assert clip.n_decoded_frames == 100  # every frame decoded once, no seeking
    targets = 4.0 * (np.arange(8) + 0.5) / 8
    assert np.all(np.abs(clip.times_s - targets) <= 0.5 / 25 + 1e-6)


def test_kept_frame_is_the_frame_at_its_time(clip_path):
    clip = read_clip(clip_path, DecodeConfig(n_frames=8))
    indices = [read_frame_index(f) for f in clip.frames]
    assert indices == [round(t * 25) for t in clip.times_s]


def test_audio_is_16k_mono_float_and_aligned(clip_path):
    clip = read_clip(clip_path)
    assert clip.sample_rate == 16_000 and clip.audio.dtype == np.float32 and clip.audio.ndim == 1
    assert abs(clip.audio_duration_s - 4.0) < 0.1
    assert np.abs(clip.audio).max() <= 1.0


def test_fewer_frames_than_asked_keeps_each_once(bad_inputs):
    clip = read_clip(bad_inputs["one_frame"].path, DecodeConfig(n_frames=32))
    assert len(clip.frames) == 1 and len(clip.times_s) == 1


def test_rotation_matches_ffmpeg_autorotate(bad_inputs):
    path = bad_inputs["rotated_90"].path
    clip = read_clip(path, DecodeConfig(n_frames=16))
    assert clip.info.rotation == 90 and (clip.info.width, clip.info.height) == (240, 320)
    assert clip.frames.shape[1:3] == (320, 240)
    reference = _ffmpeg_frames(path, 240, 320, count=4)  # ffmpeg applies the display matrix itself
    index = round(clip.times_s[0] * 25)
    assert np.abs(clip.frames[0].astype(int) - reference[index].astype(int)).mean() < 3.0


def _ffmpeg_frames(path, width: int, height: int, *, count: int) -> np.ndarray:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-frames:v", str(count)]
    raw = subprocess.run(cmd + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(count, height, width, 3)


def test_variable_frame_rate_uses_timestamps(bad_inputs):
    clip = read_clip(bad_inputs["vfr"].path, DecodeConfig(n_frames=10))
    stamps = np.array(VFR_TIMES_S)
    nearest = stamps[np.abs(stamps[None, :] - clip.times_s[:, None]).argmin(axis=1)]
    assert np.allclose(clip.times_s, nearest, atol=2e-3)
    assert clip.times_s[-1] > 1.5  # the slow second half is sampled by time, not by frame count


def test_resolution_limit_downscales(bad_inputs):
    clip = read_clip(bad_inputs["uhd_4k"].path, DecodeConfig(n_frames=2))
    assert clip.frames.shape[1:3] == (1080, 1920) and clip.scale == pytest.approx(0.5)
    assert (clip.info.width, clip.info.height) == (3840, 2160)


def test_duration_limit_truncates(bad_inputs):
    clip = read_clip(bad_inputs["three_minutes"].path, DecodeConfig(n_frames=4, max_duration_s=20))
    assert clip.truncated and clip.times_s.max() < 20.0
    assert clip.audio_duration_s <= 20.0 + 1e-6


def test_long_file_decodes_whole(bad_inputs):
    clip = read_clip(bad_inputs["three_minutes"].path, DecodeConfig(n_frames=8))
    assert not clip.truncated and clip.times_s[-1] > 160 and abs(clip.audio_duration_s - 180) < 1


def test_odd_audio_is_resampled(bad_inputs):
    audio = read_clip(bad_inputs["audio_8k_stereo"].path).audio
    assert abs(len(audio) / 16_000 - 2.0) < 0.1 and np.abs(audio).max() > 0.05
    assert not np.any(read_clip(bad_inputs["silent_audio"].path).audio)


def test_audio_only_and_video_only(bad_inputs):
    audio_only = read_clip(bad_inputs["audio_only_wav"].path)
    assert audio_only.frames.shape == (0, 0, 0, 3) and len(audio_only.audio) > 0
    video_only = read_clip(bad_inputs["video_only"].path, DecodeConfig(n_frames=4))
    assert video_only.audio.shape == (0,) and len(video_only.frames) == 4
    assert load_audio(bad_inputs["video_only"].path).shape == (0,)


def test_dense_luma_covers_every_frame(clip_path):
    clip = read_clip(clip_path, DecodeConfig(dense_max_s=2.0))
    assert clip.luma.dtype == np.uint8 and clip.luma.shape == (50, 240, 320)
    assert np.allclose(np.diff(clip.luma_times_s), 1 / 25)


@pytest.mark.parametrize(
    "name",
    ["zero_bytes", "text_as_mp4", "random_bytes", "truncated_moov_end", "truncated_moov_front", "audio_only_m4a",
     "audio_only_wav", "video_only", "no_face", "silent_audio", "audio_8k_stereo", "rotated_90", "vfr", "tiny_64",
     "uhd_4k", "one_frame", "gif", "mpeg2_ps", "webm_vp9_opus", "non_ascii_name", "fragmented_mp4", "hevc"],
)
def test_bad_inputs_open_or_fail_typed(bad_inputs, name):
    if name not in bad_inputs:
        pytest.skip(f"{name}: encoder not in this PyAV build")
    case = bad_inputs[name]
    if case.expect == "error":
        with pytest.raises(AvdetectError) as info:
            read_clip(case.path)
        assert case.path.name in str(info.value)
        return
    clip = read_clip(case.path, DecodeConfig(n_frames=8))
    assert (len(clip.frames) > 0) == case.has_video
    assert (len(clip.audio) > 0) == case.has_audio


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError):
        read_clip(tmp_path / "nope.mp4")


def test_no_streams_wanted_is_empty_media(clip_path):
    with pytest.raises(EmptyMediaError):
        read_clip(clip_path, DecodeConfig(read_video=False, read_audio=False))


def test_probe_reads_facts_without_decoding(bad_inputs):
    info = probe(bad_inputs["webm_vp9_opus"].path)
    assert info.video_codec == "vp9" and info.audio_codec == "opus" and info.has_audio
    with pytest.raises(DecodeError):
        probe(bad_inputs["random_bytes"].path)


def test_audio_alone_is_the_one_pass_audio(bad_inputs, clip_path):
    for path in (clip_path, bad_inputs["mpeg2_ps"].path, bad_inputs["audio_8k_stereo"].path):
        both, alone = read_clip(path), read_audio_alone(path)
        assert np.array_equal(both.audio, alone.audio) and len(alone.frames) == 0  # lead padding included
    assert read_audio_alone(bad_inputs["video_only"].path) is None


def test_skip_nonref_decodes_about_half_the_frames_at_their_own_times(clip_path):
    every, refs = read_clip(clip_path), read_clip(clip_path, DecodeConfig(skip_nonref=True))
    assert every.n_decoded_frames // 3 < refs.n_decoded_frames < every.n_decoded_frames  # B-frames skipped
    assert set(refs.luma_times_s) <= set(every.luma_times_s) and len(refs.frames) == len(every.frames)
    assert np.array_equal(refs.audio, every.audio)
