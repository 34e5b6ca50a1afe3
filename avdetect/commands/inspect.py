"""`avdetect inspect PATH... [--json] [--save-crops DIR]`: what the perception layer sees in each input."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from avdetect.errors import AvdetectError
from avdetect.records import FaceTrack, Perception

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="show the frames, faces and speech the perception layer finds")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="video or audio files")
    p.add_argument("--json", action="store_true", help="one JSON object per input on stdout")
    p.add_argument("--save-crops", type=Path, metavar="DIR", help="write face crops as JPEG under DIR")
    p.add_argument("--frames", type=int, default=32, help="frames to sample evenly in time (default 32)")
    p.add_argument("--device", default="cpu", help="torch device for the face detector")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.perception.perceiver import Perceiver, PerceptionConfig
    from avdetect.perception.video import DecodeConfig

    perceiver = Perceiver(PerceptionConfig(decode=DecodeConfig(n_frames=args.frames)), device=args.device)
    failed = 0
    for path in args.paths:
        try:
            seen = perceiver(path)
        except AvdetectError as e:
            failed += 1
            _report_error(path, e, type(e).__name__, e.code, args.json)
            continue
        except Exception as e:  # last resort: one bad input must not end the batch or show a traceback
            failed += 1
            log.debug("unexpected failure on %s", path, exc_info=True)
            _report_error(path, e, type(e).__name__, "internal_error", args.json)
            continue
        summary = summarize(seen)
        if args.save_crops and seen.faces.tracks:
            summary["crops_dir"] = str(save_crops(seen, args.save_crops))
        print(json.dumps(summary) if args.json else format_summary(summary), flush=True)
    return 1 if failed else 0


def _report_error(path: Path, error: Exception, kind: str, code: str, as_json: bool) -> None:
    reason = str(error).splitlines()[0] if str(error) else kind
    if str(path) not in reason:
        reason = f"{path}: {reason}"
    print(f"avdetect inspect: {kind}: {reason}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({"path": str(path), "status": "error", "error": code, "reason": reason}), flush=True)


def summarize(seen: Perception) -> dict:
    """JSON-able summary of what was seen in one input."""
    clip, info = seen.clip, seen.clip.info
    return {
        "path": info.path,
        "status": "ok",
        "container": {
            "format": info.format_name,
            "duration_s": round(info.duration_s, 3),
            "size_bytes": info.size_bytes,
            "video_codec": info.video_codec,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "rotation": info.rotation,
            "audio_codec": info.audio_codec,
            "audio_sample_rate": info.audio_sample_rate,
            "audio_channels": info.audio_channels,
        },
        "frames": {
            "sampled": int(len(clip.frames)),
            "decoded": clip.n_decoded_frames,
            "size": list(clip.frames.shape[1:3]),
            "first_s": _round(clip.times_s[:1]),
            "last_s": _round(clip.times_s[-1:]),
            "truncated": clip.truncated,
        },
        "faces": {
            "tracks": [_track_summary(t) for t in seen.faces.tracks],
            "frames_with_face": seen.faces.frames_with_face,
            "frames_detected": int(len(seen.faces.detected_frame_idx)),
        },
        "audio": _audio_summary(seen, clip.audio_duration_s),
        "seconds": {
            "decode": round(seen.times.decode_s, 3),
            "faces": round(seen.times.faces_s, 3),
            "audio": round(seen.times.audio_s, 3),
            "total": round(seen.times.total_s, 3),
        },
    }


def _round(values: np.ndarray) -> float | None:
    return round(float(values[0]), 3) if len(values) else None


def _track_summary(track: FaceTrack) -> dict:
    return {
        "id": track.track_id,
        "frames": len(track),
        "detected": int(track.detected.sum()),
        "start_s": round(float(track.times_s[0]), 3),
        "end_s": round(float(track.times_s[-1]), 3),
        "box_px": round(float(np.median(track.face_size)), 1),
        "prob_mean": round(float(track.probs.mean()), 4),
        "prob_min": round(float(track.probs.min()), 4),
    }


def _audio_summary(seen: Perception, duration_s: float) -> dict:
    if seen.audio is None:
        return {"present": False}
    a = seen.audio
    return {
        "present": True,
        "duration_s": round(duration_s, 3),
        "speech_s": round(a.speech_s, 3),
        "speech_start_s": round(a.speech_start_s, 3),
        "speech_end_s": round(a.speech_end_s, 3),
        "segments": int(len(a.speech_segments)),
        "mel_windows": int(len(a.windows.mels)),
    }


def format_summary(s: dict) -> str:
    """Human-readable lines for one input."""
    c, fr, fa, au, sec = s["container"], s["frames"], s["faces"], s["audio"], s["seconds"]
    video = f"{c['video_codec']} {c['width']}x{c['height']} @ {c['fps']} fps" if c["video_codec"] else "no video"
    if c["rotation"]:
        video += f", rotated {c['rotation']}°"
    audio = "no audio"
    if au["present"]:
        audio = f"{c['audio_codec']} {c['audio_sample_rate']} Hz x{c['audio_channels']}"
        audio += f"; speech {au['speech_s']:.1f} s in {au['speech_start_s']:.2f}-{au['speech_end_s']:.2f} s"
    lines = [
        s["path"],
        f"  {c['format'].split(',')[0]}, {c['duration_s']:.2f} s; {video}; {audio}",
        f"  frames: {fr['sampled']} sampled of {fr['decoded']} decoded" + (" (truncated)" if fr["truncated"] else ""),
        f"  faces: {len(fa['tracks'])} track(s), face in {fa['frames_with_face']}/{fr['sampled']} frames "
        f"(detector ran on {fa['frames_detected']})",
    ]
    for t in fa["tracks"]:
        lines.append(
            f"    track {t['id']}: {t['frames']} frames ({t['detected']} detected) {t['start_s']:.2f}-{t['end_s']:.2f} s,"
            f" box {t['box_px']:.0f} px, p {t['prob_mean']:.3f} (min {t['prob_min']:.3f})"
        )
    lines.append(
        f"  seconds: decode {sec['decode']:.2f}, faces {sec['faces']:.2f}, audio {sec['audio']:.2f},"
        f" total {sec['total']:.2f}"
    )
    if "crops_dir" in s:
        lines.append(f"  crops: {s['crops_dir']}")
    return "\n".join(lines)


def save_crops(seen: Perception, root: Path) -> Path:
    """Writes every crop as root/<file stem>/track<i>_frame<j>.jpg, so a person can look."""
    out = root / Path(seen.clip.info.path).stem
    out.mkdir(parents=True, exist_ok=True)
    for track in seen.faces.tracks:
        for frame, image in zip(track.frame_idx, track.crops):
            Image.fromarray(image).save(out / f"track{track.track_id}_frame{frame:03d}.jpg", quality=90)
    return out
