"""The test-media generators make what they claim."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media import (
    SPEECH_LEAD_S,
    load_face_images,
    make_audio,
    make_video,
    read_frame_index,
    render_frames,
    speech_intervals,
    speech_like,
)
from media_bad import LONG_S, UHD, VFR_TIMES_S, BadInput
from PIL import Image

OK_NAMES = ("truncated_moov_front", "audio_only_m4a", "audio_only_wav", "video_only", "no_face",
            "silent_audio", "audio_8k_stereo", "three_minutes", "rotated_90", "vfr", "tiny_64", "uhd_4k",
            "one_frame", "gif", "mpeg2_ps", "webm_vp9_opus", "non_ascii_name", "fragmented_mp4", "hevc",
            "four_faces", "speech_clip")
ERROR_NAMES = ("zero_bytes", "text_as_mp4", "random_bytes", "truncated_moov_end")
AUDIO_CASES = [(".wav", 16000, 1), (".flac", 44100, 2), (".mp3", 22050, 1), (".m4a", 8000, 2),
               (".ogg", 48000, 1)]  # (suffix, rate, channels) for make_audio
MARKED = ("no_face", "hevc", "webm_vp9_opus", "mpeg2_ps", "tiny_64", "fragmented_mp4", "rotated_90", "vfr",
          "uhd_4k", "three_minutes", "four_faces")  # GIF is left out: its 3-3-2 palette blurs the grays


def _get(bad_inputs: dict[str, BadInput], name: str) -> BadInput:
    if name not in bad_inputs:
        pytest.skip(f"{name} not made here (no shared faces or no encoder)")
    return bad_inputs[name]


def _video_frames(path: Path, *, until_error: bool = False) -> list[av.VideoFrame]:
    """Decoded video frames; with ``until_error``, those before the first decoding error (cut files)."""
    frames = []
    with av.open(str(path)) as container:
        try:
            frames.extend(container.decode(video=0))
        except av.FFmpegError:
            if not until_error:
                raise
    return frames


def _audio(path: Path) -> tuple[np.ndarray, int]:
    """float32 (C, N) decoded audio and its rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=stream.rate)
        frames = [out.to_ndarray() for frame in container.decode(stream) for out in resampler.resample(frame)]
    return np.concatenate(frames, axis=1), stream.rate


def test_all_names_are_known(bad_inputs):
    assert set(bad_inputs) <= set(OK_NAMES) | set(ERROR_NAMES)
    assert all(entry.expect in ("ok", "error") and entry.path.exists() for entry in bad_inputs.values())


@pytest.mark.parametrize("name", OK_NAMES)
def test_ok_inputs_have_the_streams_they_claim(bad_inputs, name):
    entry = _get(bad_inputs, name)
    with av.open(str(entry.path)) as container:
        assert bool(container.streams.video) == entry.has_video
        assert bool(container.streams.audio) == entry.has_audio
    if entry.has_video:
        assert len(_video_frames(entry.path, until_error=name.startswith("truncated"))) >= 1
    if entry.has_audio and not name.startswith("truncated"):
        assert _audio(entry.path)[0].shape[1] > 0


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_error_inputs_fail_to_open(bad_inputs, name):
    entry = _get(bad_inputs, name)
    assert entry.expect == "error"
    with pytest.raises(av.FFmpegError):
        av.open(str(entry.path)).close()


@pytest.mark.parametrize("name", MARKED)
def test_frame_index_marker_survives_coding(bad_inputs, name):
    entry = _get(bad_inputs, name)
    frames = _video_frames(entry.path)
    read = [read_frame_index(frame.to_ndarray(format="rgb24")) for frame in frames]
    assert read == list(range(len(frames)))


@pytest.mark.parametrize("height, width, scale, n", [(240, 320, 0.5, 935), (480, 640, 0.5, 62),
                                                     (1080, 1920, 2 / 3, 62)])
def test_marker_reads_resized_and_rotated_frames(height, width, scale, n):
    size = (round(width * scale), round(height * scale))
    for k, frame in enumerate(render_frames(n, height=height, width=width, fps=25)):
        if k in (0, 1, 29, 30, 61, 934):
            assert read_frame_index(np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))) == k
            assert read_frame_index(np.rot90(frame, 1), rotation=90) == k


def test_rotation_is_stored_as_display_matrix(bad_inputs):
    frames = _video_frames(bad_inputs["rotated_90"].path)
    assert (frames[0].width, frames[0].height, frames[0].rotation) == (320, 240, 90)


def test_sizes_and_frame_counts(bad_inputs):
    assert {f.width for f in _video_frames(bad_inputs["tiny_64"].path)} == {64}
    uhd = _video_frames(bad_inputs["uhd_4k"].path)
    assert (uhd[0].width, uhd[0].height, len(uhd)) == (*UHD, 5)
    assert len(_video_frames(bad_inputs["one_frame"].path)) == 1
    assert len(_video_frames(bad_inputs["gif"].path)) == 10
    assert 0 < len(_video_frames(bad_inputs["truncated_moov_front"].path, until_error=True)) < 50


def test_vfr_frame_times(bad_inputs):
    times = [float(frame.time) for frame in _video_frames(bad_inputs["vfr"].path)]
    np.testing.assert_allclose(times, VFR_TIMES_S, atol=1e-3)
    assert len(set(np.round(np.diff(times), 2))) == 2


def test_three_minutes_duration(bad_inputs):
    with av.open(str(bad_inputs["three_minutes"].path)) as container:
        assert container.duration / av.time_base == pytest.approx(LONG_S, abs=0.5)
        assert container.streams.video[0].frames == 900
    assert bad_inputs["three_minutes"].path.stat().st_size < 1_000_000


def test_audio_tracks(bad_inputs):
    silent, _ = _audio(bad_inputs["silent_audio"].path)
    assert not np.any(silent)
    stereo, rate = _audio(bad_inputs["audio_8k_stereo"].path)
    assert (stereo.shape[0], rate) == (2, 8000)
    _, opus_rate = _audio(bad_inputs["webm_vp9_opus"].path)
    assert opus_rate == 48000


def test_speech_like_has_leading_silence_and_bursts():
    rate = 16000
    signal = speech_like(3.0, rate)
    intervals = speech_intervals(3.0)
    assert not np.any(signal[: int(SPEECH_LEAD_S * rate)])
    assert intervals[0][0] == SPEECH_LEAD_S and len(intervals) >= 5
    start, end = intervals[1]
    assert np.abs(signal[int(start * rate):int(end * rate)]).max() > 0.1


@pytest.mark.parametrize("suffix, rate, channels", AUDIO_CASES)
def test_make_audio_formats(media_dir, suffix, rate, channels):
    path = make_audio(media_dir / f"audio_{rate}{suffix}", rate=rate, channels=channels, duration_s=1.0)
    samples, got_rate = _audio(path)
    assert (samples.shape[0], got_rate) == (channels, rate)
    assert samples.shape[1] == pytest.approx(rate, rel=0.1)


def test_missing_shared_data_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("AVDETECT_SHARED_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError):
        load_face_images(1)


@pytest.mark.slow  # 2-3 s on two idle cores, over 10 s when they are shared
@pytest.mark.parametrize("n, background", [(0, None), (1, None), (4, None), (1, "plain"), (4, "plain")])
def test_mtcnn_finds_each_pasted_face(media_dir, face_images, n, background):
    from facenet_pytorch import MTCNN

    path = make_video(media_dir / f"faces_{n}_{background}.mp4", faces=face_images[:n], background=background,
                      audio=False, duration_s=1.0)
    frames = [frame.to_ndarray(format="rgb24") for frame in _video_frames(path)[::12]]
    boxes, _ = MTCNN(keep_all=True, device="cpu").detect(frames)
    assert [0 if b is None else len(b) for b in boxes] == [n] * len(frames)
