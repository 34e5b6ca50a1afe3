"""Per-stage times of the perception layer on 1080p and 360p clips, as ratios to `ffmpeg -f null`.

    .venv/bin/python benchmarks/perception.py [--repeats 3]

The clips are made at run time from ../shared/data (never copied into the repository): a DFDC-like
10 s 1080p H.264 clip with AAC speech (FaceForensics++ 750_743's 1080p video stream remuxed without
re-encoding, plus a LibriSpeech utterance), the same clip transcoded to 360p, and a real 1080p HEVC
portrait talking head. Every ratio compares times taken in the same run on the same clip, because this
machine is shared and noisy. The ffmpeg binary is imageio-ffmpeg's (a dev dependency).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

SHARED = Path(os.environ.get("AVDETECT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VIDEO_1080 = SHARED / "video/ffpp/Face2Face/750_743.mp4"
SPEECH = SHARED / "speech/librispeech/103-1240-0000.flac"
HEVC_PORTRAIT = SHARED / "video/talking-heads/LatentSync-demo1_video.mp4"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_dfdc_like(out: Path) -> Path:
    """Remuxes the 1080p video stream (no re-encode) and adds 44.1 kHz stereo AAC speech, as DFDC has."""
    from avdetect.perception.video import load_audio

    speech = load_audio(SPEECH, sample_rate=44_100)
    with av.open(str(VIDEO_1080)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=44_100, layout="stereo")
        duration = float(vin.duration * vin.time_base)
        for packet in src.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            dst.mux(packet)
        _encode_audio(dst, aout, speech[: int(duration * 44_100)])
    return out


def _encode_audio(dst, stream, mono: np.ndarray) -> None:
    stereo = np.repeat(mono[None, :], 2, axis=0).astype(np.float32)
    frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
    frame.sample_rate = stream.rate
    for packet in stream.encode(frame):
        dst.mux(packet)
    for packet in stream.encode(None):
        dst.mux(packet)


def make_360p(src: Path, out: Path) -> Path:
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-vf", "scale=-2:360", "-c:v", "libx264"]
    subprocess.run(cmd + ["-preset", "fast", "-crf", "23", "-c:a", "copy", str(out)], check=True)
    return out


def time_ffmpeg(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def decode_everything(path: Path) -> tuple[int, int]:
    """(video frames, audio frames) of `path`, every packet decoded by PyAV's own libavcodec with the
    threading ffmpeg's program sets by default (frame and slice threads, one per core)."""
    counts = {"video": 0, "audio": 0}
    with av.open(str(path)) as container:
        streams = [*container.streams.video, *container.streams.audio]
        for stream in streams:
            stream.thread_type = "AUTO"
            stream.thread_count = 0  # libavcodec picks one thread per core, as the program does
        for frame in container.decode(*streams):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
    return counts["video"], counts["audio"]


def time_libav_decode(path: Path) -> float:
    """Seconds of `decode_everything`: the work `ffmpeg -f null` spends its time on, for a machine without
    the ffmpeg program (the device machine)."""
    start = time.perf_counter()
    decode_everything(path)
    return time.perf_counter() - start


def decode_reference(name: str) -> tuple[str, Callable[[Path], float]]:
    """(name, timer) of the reference decode: ``ffmpeg`` (`time_ffmpeg`, imageio-ffmpeg's program) or
    ``libav`` (`time_libav_decode`); ``auto`` is ffmpeg where imageio-ffmpeg is installed, else libav."""
    if name == "auto":
        try:
            ffmpeg_exe()
            name = "ffmpeg"
        except ImportError:
            name = "libav"
    return name, {"ffmpeg": time_ffmpeg, "libav": time_libav_decode}[name]


def bench_clip(perceiver, path: Path, repeats: int) -> dict:
    rows = []
    for _ in range(repeats):
        ffmpeg_s = time_ffmpeg(path)
        seen = perceiver(path)
        rows.append((ffmpeg_s, seen.times.decode_s, seen.times.faces_s, seen.times.audio_s, seen.times.total_s))
    med = [statistics.median(col) for col in zip(*rows)]
    ratios = statistics.median(r[4] / r[0] for r in rows)
    info = seen.clip.info
    return {
        "clip": path.name,
        "size": f"{info.width}x{info.height}",
        "codec": info.video_codec,
        "dur": info.duration_s,
        "ffmpeg": med[0],
        "decode": med[1],
        "faces": med[2],
        "audio": med[3],
        "total": med[4],
        "ratio": ratios,
        "face_frac": seen.faces.frames_with_face / max(1, seen.faces.n_frames),
        "tracks": len(seen.faces.tracks),
        "audio_s": seen.clip.audio_duration_s,
    }


def print_table(results: list[dict]) -> None:
    head = (
        f"{'clip':<32} {'size':>9} {'codec':>5} {'dur s':>6} {'ffmpeg s':>8} {'decode':>7} {'faces':>7}"
        f" {'audio':>6} {'total':>7} {'total/ffmpeg':>12} {'face frames':>11} {'tracks':>6} {'audio s':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r['clip'][:32]:<32} {r['size']:>9} {r['codec']:>5} {r['dur']:>6.1f} {r['ffmpeg']:>8.2f}"
            f" {r['decode']:>7.2f} {r['faces']:>7.2f} {r['audio']:>6.2f} {r['total']:>7.2f} {r['ratio']:>11.2f}x"
            f" {r['face_frac']:>10.0%} {r['tracks']:>6d} {r['audio_s']:>7.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not VIDEO_1080.exists() or not SPEECH.exists():
        print(f"skipped: shared sample data not found under {SHARED}")
        return 0
    from avdetect.perception.perceiver import Perceiver

    perceiver = Perceiver()
    with tempfile.TemporaryDirectory() as tmp:
        clip_1080 = make_dfdc_like(Path(tmp) / "dfdc_like_1080p.mp4")
        clips = [clip_1080, make_360p(clip_1080, Path(tmp) / "dfdc_like_360p.mp4")]
        if HEVC_PORTRAIT.exists():
            clips.append(HEVC_PORTRAIT)
        perceiver(clips[-1])  # warm-up: first MTCNN call and page cache
        results = [bench_clip(perceiver, clip, args.repeats) for clip in clips]
    print(f"median of {args.repeats} runs; seconds; ratio = avdetect perception / `ffmpeg -i CLIP -f null -`")
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
