"""`make demo`: the main job on the shipped model, offline, on media made at run time.

From a real talking-head clip of ../shared/data (GRID) it makes six inputs: the clip itself, the clip
with its audio 0.6 s late, the clip dubbed with another speaker's audio, the clip with another speaker's
face swapped in (aligned on the landmarks and blended, frame by frame) and with its own face
self-blended in every frame, and its voice alone as a WAV (no face: the bundle's voice stacker decides).
It scores them with `avdetect score` and the shipped model, prints the table and writes an HTML report.
Without the sample data it scores a clip it synthesises instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from avdetect.cli import main as cli_main
from avdetect.corpus.media_writer import write_clip, write_wav
from avdetect.corpus.synth_faces.swap import DonorFaces, Landmarks, donor_faces, read_frames, swap_frame
from avdetect.defaults import SAMPLE_RATE

SOURCE, DONOR = "video/grid/bbaf2n.mpg", "video/grid/swiz3n.mpg"
OUT = Path("out/demo")


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("AVDETECT_SHARED_DATA", default))


def all_frames(path: Path) -> tuple[np.ndarray, float]:
    frames, fps = read_frames(path)
    return np.stack(frames), fps


def blend_faces(frames: np.ndarray, found: list[tuple[np.ndarray, np.ndarray] | None], seed: int = 0) -> np.ndarray:
    """Every frame's face self-blended with one steady draw (a video-level pseudo-fake)."""
    from avdetect.pseudofakes.faces import apply_self_blend, draw_blend_params

    params, out = draw_blend_params(np.random.default_rng(seed)), frames.copy()
    for i, (frame, face) in enumerate(zip(frames, found)):
        if face is not None:
            out[i] = apply_self_blend(frame, face[1], params).image
    return out


def swap_faces(frames: np.ndarray, found: list[tuple[np.ndarray, np.ndarray] | None], donor: DonorFaces,
               seed: int = 0) -> np.ndarray:
    """Every frame's face replaced by the donor's face nearest in pose (the classical swap of `synth-swaps`)."""
    from avdetect.pseudofakes.faces import draw_blend_params

    params, out = draw_blend_params(np.random.default_rng(seed)), frames.copy()
    for i, (frame, face) in enumerate(zip(frames, found)):
        if face is not None:
            out[i] = swap_frame(frame, face, donor, params)
    return out


def make_inputs(root: Path, folder: Path) -> list[Path]:
    from avdetect.perception.video import load_audio
    from avdetect.pseudofakes.sync import replace_audio, shift_audio

    frames, fps = all_frames(root / SOURCE)
    audio, donor = load_audio(root / SOURCE), load_audio(root / DONOR)
    find = Landmarks()
    found = [find(frame) for frame in frames]  # once, for the swap and the blend
    donor_face = donor_faces(read_frames(root / DONOR, every=5)[0], find)
    return [
        write_clip(folder / "real.mp4", frames, fps, audio),
        write_clip(folder / "audio_0.6s_late.mp4", frames, fps, shift_audio(audio, SAMPLE_RATE, 0.6)),
        write_clip(folder / "dubbed.mp4", frames, fps, replace_audio(audio, donor)),
        write_clip(folder / "face_swapped.mp4", swap_faces(frames, found, donor_face), fps, audio),
        write_clip(folder / "face_blended.mp4", blend_faces(frames, found), fps, audio),
        write_wav(folder / "voice_only.wav", audio),  # no face: the voice stacker decides
    ]


def main() -> int:
    root = shared_data()
    inputs = OUT / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    if (root / SOURCE).exists():
        paths = make_inputs(root, inputs)
    else:
        from avdetect.pseudofakes.sync import shift_audio

        print(f"(no sample data under {root}: scoring a synthetic clip without a face)")
        t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
        frames = np.tile(np.linspace(0, 255, 320, dtype=np.uint8)[None, None, :, None], (75, 240, 1, 3))
        paths = [write_clip(inputs / "synthetic.mp4", frames, 25, tone),
                 write_clip(inputs / "synthetic_shifted.mp4", frames, 25, shift_audio(tone, SAMPLE_RATE, 0.6))]
    scores = OUT / "scores.csv"
    scores.unlink(missing_ok=True)
    code = cli_main(["score", *map(str, paths), "-o", str(scores), "--report", str(OUT / "report")])
    if scores.exists():
        print_table(scores)
        print(f"report: {(OUT / 'report' / 'index.html').resolve()}")
    return code


def print_table(scores: Path) -> None:
    import csv

    with scores.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    print(f"\n{'input':<24} {'p_fake':>7} {'verdict':>12} {'p_visual':>8} {'p_audio':>7} {'p_sync':>7}  status")
    for row in rows:
        cells = [_cell(row[k]) for k in ("p_fake", "p_visual", "p_audio", "p_sync")]
        print(f"{Path(row['path']).name:<24} {cells[0]:>7} {row['verdict'] or '-':>12} {cells[1]:>8} {cells[2]:>7} "
              f"{cells[3]:>7}  {row['status']}")
    for row in rows:  # what an undecided verdict rests on
        if row["verdict"] == "inconclusive" and row.get("why"):
            print(f"  {Path(row['path']).name}: {row['why']}")


def _cell(value: str) -> str:
    return f"{float(value):.3f}" if value else "-"


if __name__ == "__main__":
    sys.exit(main())
