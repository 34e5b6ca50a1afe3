"""What the voice feature blocks cost, and the blocks of every file of a manifest straight from its media.

    .venv/bin/python benchmarks/voice_features.py --time [--seconds 10 --repeats 3]
    .venv/bin/python benchmarks/voice_features.py --manifest M.csv -o RUNS/features [--blocks voice_pitch,...]

``--time`` prints the CPU seconds of speech detection (energy and silero-vad) and of each voice block on
a real speech file of ``../shared/data`` looped to ``--seconds`` (a synthetic vowel without the data).
``--vad N`` compares the two speech detectors on N real utterances of ``../shared/data``, each put
behind a 1.5 s lead-in (digital silence, white noise at 20/10/0 dB SNR over the whole file, a music-like
chord) and on noise alone: how often the detected speech starts inside the lead-in (a false start), how
often it starts over 0.3 s late (speech cut), and the median shift of the start from the same
detector's start on the clean file.
``--manifest`` runs the perception layer on each listed file (audio files and videos; no extraction
cache needed) and appends ``RUNS/features/<block>.csv`` in the format `avdetect video-features` writes,
so `fit-stacker --oof RUNS` and ``benchmarks/generalization.py`` read them; a rerun skips files done.
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "data" / "speech" / "librispeech" / "103-1240-0000.flac"
VOICE_BLOCKS = ("voice_embed", "voice_pitch", "voice_spectrum")  # voice_embed reads the shipped head


def test_audio(seconds: float, sample_rate: int) -> np.ndarray:
    """float32 (N,) real speech looped to ``seconds`` (a 120 Hz vowel-like tone without the shared data)."""
    from avdetect.perception.video import load_audio

    if SPEECH.is_file():
        audio = load_audio(SPEECH, sample_rate)
    else:
        t = np.arange(int(2 * sample_rate)) / sample_rate
        audio = (0.3 * np.sign(np.sin(2 * np.pi * 120 * t)) * np.hanning(len(t))).astype(np.float32)
    return np.resize(audio, int(seconds * sample_rate)).astype(np.float32)


def cpu_seconds(fn, repeats: int) -> float:
    """Median process CPU time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times))


def time_blocks(seconds: float, repeats: int) -> list[tuple[str, float]]:
    """(stage, CPU seconds) of speech detection and each voice block on ``seconds`` of speech."""
    from avdetect.defaults import SAMPLE_RATE
    from avdetect.features.registry import get_extractor
    from avdetect.features.speech_span import audio_perception
    from avdetect.perception.audio import SpeechConfig, detect_speech

    audio = test_audio(seconds, SAMPLE_RATE)
    rows = [(f"speech: {m}", cpu_seconds(lambda m=m: detect_speech(audio, SAMPLE_RATE, SpeechConfig(method=m)),
                                         repeats)) for m in ("energy", "silero")]
    seen = audio_perception(audio, SAMPLE_RATE)
    blocks = [(f"block: {name}", cpu_seconds(lambda name=name: get_extractor(name)(seen), repeats))
              for name in VOICE_BLOCKS]
    return rows + blocks + [("all voice blocks", sum(s for _, s in blocks))]


LEAD_S = 1.5
VAD_CONDITIONS = ("silence", "noise 20 dB", "noise 10 dB", "noise 0 dB", "chord")


def with_lead(speech: np.ndarray, condition: str, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``speech`` behind `LEAD_S` of lead-in; for noise conditions the noise runs under the speech too."""
    lead = np.zeros(int(LEAD_S * rate), np.float32)
    audio = np.r_[lead, speech]
    level = np.sqrt(np.mean(speech**2))
    if condition.startswith("noise"):
        snr = float(condition.split()[1])
        audio = audio + level * 10 ** (-snr / 20) * rng.standard_normal(len(audio))
    elif condition == "chord":
        t = np.arange(len(lead)) / rate
        chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
        audio[: len(lead)] = 0.5 * level * chord * np.hanning(len(lead)) ** 0.2
    return audio.astype(np.float32)


def vad_table(n_files: int) -> list[tuple[str, str, float, float, float]]:
    """(condition, method, false-start rate, speech-cut rate, median |start shift| s) per condition."""
    from avdetect.defaults import SAMPLE_RATE
    from avdetect.perception.audio import SpeechConfig, detect_speech
    from avdetect.perception.video import load_audio

    files = sorted((REPO.parent / "shared" / "data" / "speech").rglob("*.flac"))
    files = [f for f in files if "/fake/" not in f.as_posix()][:: max(1, len(files) // (2 * n_files))][:n_files]
    rng = np.random.default_rng(0)
    clean = [load_audio(f, SAMPLE_RATE) for f in files]
    rows = []
    for method in ("energy", "silero"):
        config = SpeechConfig(method=method)
        starts = [detect_speech(a, SAMPLE_RATE, config) for a in clean]
        base = [s[0, 0] if len(s) else np.nan for s in starts]
        for condition in VAD_CONDITIONS:
            found = [detect_speech(with_lead(a, condition, SAMPLE_RATE, rng), SAMPLE_RATE, config) for a in clean]
            start = np.array([s[0, 0] if len(s) else np.nan for s in found]) - LEAD_S
            rows.append((condition, method, float(np.mean(start < -0.1)), float(np.mean(start > np.add(base, 0.3))),
                         float(np.nanmedian(np.abs(start - base)))))
        noise = [0.05 * rng.standard_normal(3 * SAMPLE_RATE).astype(np.float32) for _ in range(n_files)]
        rows.append(("noise only", method, float(np.mean([len(detect_speech(x, SAMPLE_RATE, config)) > 0
                                                           for x in noise])), np.nan, np.nan))
    return rows


def done_paths(path: Path) -> set[str]:
    """Paths already in a block's CSV (a rerun resumes)."""
    if not path.is_file():
        return set()
    with path.open(newline="", encoding="utf-8") as f:
        return {row["path"] for row in csv.DictReader(f)}


def write_blocks(manifest: Path, out_dir: Path, blocks: list[str]) -> int:
    """Appends each block's row of every manifest file not yet done; returns how many files it measured."""
    from avdetect.corpus.manifest import read_manifest
    from avdetect.errors import AvdetectError
    from avdetect.features.registry import get_extractor
    from avdetect.perception.perceiver import Perceiver, PerceptionConfig

    extractors = {name: get_extractor(name) for name in blocks}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.csv" for name in blocks}
    done = set.intersection(*(done_paths(p) for p in paths.values()))
    perceiver = Perceiver(PerceptionConfig())
    files = {name: p.open("a", newline="", encoding="utf-8") for name, p in paths.items()}
    writers = {name: csv.writer(f) for name, f in files.items()}
    for name, extractor in extractors.items():
        if paths[name].stat().st_size == 0:
            writers[name].writerow(["path", *extractor.names])
    n = 0
    try:
        for row in read_manifest(manifest):
            if str(row.path) in done:
                continue
            try:
                seen = perceiver(row.path)
            except AvdetectError as err:
                logging.warning("%s: %s; left out", row.path, err)
                continue
            for name, extractor in extractors.items():
                writers[name].writerow([str(row.path), *(f"{v:.6g}" for v in extractor(seen))])
                files[name].flush()
            n += 1
    finally:
        for f in files.values():
            f.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time", action="store_true", help="print the cost table")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio length for --time (default 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vad", type=int, metavar="N", help="compare the speech detectors on N utterances")
    parser.add_argument("--manifest", type=Path, help="write the blocks of every file of this manifest")
    parser.add_argument("-o", "--output", type=Path, help="folder for <block>.csv (with --manifest)")
    parser.add_argument("--blocks", default=",".join(VOICE_BLOCKS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.time:
        print(f"CPU seconds for {args.seconds:g} s of 16 kHz speech, median of {args.repeats}, "
              f"{args.threads} torch thread(s)")
        print(f"{'stage':<24} {'cpu s':>7} {'x real time':>12}")
        for stage, seconds in time_blocks(args.seconds, args.repeats):
            print(f"{stage:<24} {seconds:>7.4f} {seconds / args.seconds:>12.4f}")
    if args.vad:
        print(f"speech detectors on {args.vad} real utterances behind a {LEAD_S} s lead-in")
        print(f"{'condition':<12} {'method':<7} {'false start':>11} {'speech cut':>10} {'|shift| s':>9}")
        for condition, method, false_start, cut, shift in vad_table(args.vad):
            print(f"{condition:<12} {method:<7} {false_start:>11.3f} {cut:>10.3f} {shift:>9.3f}")
    if args.manifest:
        if args.output is None:
            parser.error("--manifest needs -o")
        n = write_blocks(args.manifest, args.output, [b.strip() for b in args.blocks.split(",") if b.strip()])
        print(f"{args.output}: measured {n} file(s)")


if __name__ == "__main__":
    main()
