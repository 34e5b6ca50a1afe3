"""Six DFDC-like clips for the speed benchmarks: 10 s, 1080p H.264 + 44.1 kHz stereo AAC, from shared data.

    .venv/bin/python benchmarks/bench_clips.py DIR   # makes them in DIR (kept; made again only if missing)

DFDC's test videos are 10 s 1920x1080 (or 1080x1920) H.264 with AAC. The shared data has one such stream
(FF++ 750_743, remuxed as it is); the others are FF++ 720p clips (two fakes, two reals) upscaled to
1080p and the portrait LatentSync demo, re-encoded with x264 (preset veryfast, CRF 23, B-frames on as in
DFDC). Clips without a soundtrack get a LibriSpeech utterance, padded with silence to 10 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perception import SHARED, ffmpeg_exe  # noqa: E402

# (name, video, speech or None to keep the clip's own audio, scale filter or None to copy the stream)
SOURCES = (
    ("ffpp_750_743_f2f", "video/ffpp/Face2Face/750_743.mp4", "speech/librispeech/103-1240-0000.flac", None),
    ("ffpp_634_660_swap", "video/ffpp/FaceSwap/634_660.mp4", "speech/librispeech/1040-133433-0000.flac",
     "scale=1920:1080"),
    ("ffpp_004_982_nt", "video/ffpp/NeuralTextures/004_982.mp4", "speech/librispeech/1081-125237-0000.flac",
     "scale=1920:1080"),
    ("ffpp_004_real", "video/ffpp/youtube/004.mp4", "speech/librispeech/1098-133695-0000.flac",
     "scale=1920:1080"),
    ("ffpp_634_real", "video/ffpp/youtube/634.mp4", "speech/librispeech/125-121124-0000.flac",
     "scale=1920:1080"),
    ("latentsync_demo1_portrait", "video/talking-heads/LatentSync-demo1_video.mp4", None, "scale=1080:1920"),
)
SECONDS = 10.0


def encode_command(video: Path, speech: Path | None, scale: str | None, out: Path) -> list[str]:
    """The ffmpeg command line that makes one clip."""
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-t", str(SECONDS), "-i", str(video)]
    if speech is not None:
        cmd += ["-i", str(speech), "-map", "0:v:0", "-map", "1:a:0", "-af", "apad"]
    else:
        cmd += ["-map", "0:v:0", "-map", "0:a:0"]
    if scale is None:
        cmd += ["-c:v", "copy"]
    else:
        cmd += ["-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    return cmd + ["-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-ac", "2", "-t", str(SECONDS), str(out)]


def make_clips(folder: Path) -> list[Path]:
    """The clips in `folder`, made where missing; [] when one is missing and the shared data is not there."""
    clips = [folder / f"{name}.mp4" for name, *_ in SOURCES]
    if all(clip.exists() for clip in clips):
        return clips  # made earlier (or elsewhere and carried here): no shared data needed
    if not all((SHARED / video).exists() for _, video, _, _ in SOURCES):
        return []
    folder.mkdir(parents=True, exist_ok=True)
    for (_, video, speech, scale), out in zip(SOURCES, clips):
        if not out.exists():
            part = out.with_suffix(".part.mp4")
            subprocess.run(encode_command(SHARED / video, SHARED / speech if speech else None, scale, part),
                           check=True)
            part.rename(out)
    return clips


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path, help="where the clips go (kept; made again only if missing)")
    for clip in make_clips(parser.parse_args().directory):
        print(clip)
