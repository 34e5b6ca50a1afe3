"""The audio branch's window bank: every training view of every source cut into log-mel windows.

`build_bank` cuts the views of `audio_data.source_views` (channel-augmented copies and pseudo-fakes),
`clean_windows` the untouched audio (the samples scored out of fold); with `workers` > 1 the sources are
spread over the worker engine's processes (`avdetect.workers`), each seeded by its index, so the bank is
the same for any number of workers. `save_bank` / `load_bank` keep it on disk between runs, tagged with
`bank_fingerprint` (what it was built from).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig
from avdetect.training.audio_data import BANK_FIELDS, AudioSource, ViewConfig, WindowBank, source_views, view_windows

log = logging.getLogger(__name__)


def build_bank(sources: Sequence[AudioSource], extractor: MelExtractor, *, speech: SpeechConfig = SpeechConfig(),
               views: ViewConfig = ViewConfig(), seed: int = 0, indices: Sequence[int] | None = None,
               progress: Callable[[int, int], None] | None = None, workers: int = 1) -> WindowBank:
    """Windows of every training view of every source (see `source_views`).

    Args:
        sources: the audio of each manifest row, in manifest order.
        extractor: cuts the log-mel windows.
        speech: speech detector used before cutting.
        views: copies, pseudo-fakes and channel.
        seed: with the source index, seeds each source's generator (the bank is the same for any `workers`).
        indices: the sources to use (default all); windows keep the index into `sources`.
        progress: called as progress(done, total) after each source.
        workers: processes cutting windows at once (`avdetect.workers`); 1 cuts them in this process.
    """
    indices = range(len(sources)) if indices is None else indices
    task = WindowTask(extractor.config, speech, views, seed)
    return concat_banks(_map_sources(task, sources, indices, workers, progress), extractor)


@dataclass(frozen=True)
class WindowTask:
    """Cuts the windows of one (index, source): its training views, or with `clean` its untouched audio."""

    mel: MelConfig
    speech: SpeechConfig
    views: ViewConfig
    seed: int
    clean: bool = False

    @cached_property
    def extractor(self) -> MelExtractor:
        return MelExtractor(self.mel)

    def __call__(self, item: tuple[int, AudioSource]) -> list[WindowBank]:
        i, source = item
        if self.clean:
            made = [(source.audio, source.fake_segments)]
        else:
            made = source_views(source, np.random.default_rng([self.seed, int(i)]), self.views,
                                sample_rate=self.mel.sample_rate)
        return [WindowBank.of(*view_windows(audio, segments, self.extractor, self.speech,
                                            min_overlap_s=self.views.min_overlap_s), source=int(i), view=v)
                for v, (audio, segments) in enumerate(made)]


def _map_sources(task: WindowTask, sources: Sequence[AudioSource], indices: Sequence[int], workers: int,
                 progress: Callable[[int, int], None] | None) -> list[WindowBank]:
    """`task`'s windows of each source at `indices`, in that order; `workers` > 1 spreads them over processes."""
    done: dict[int, list[WindowBank]] = {}

    def on_result(result: tuple[int, list[WindowBank]]) -> None:
        done[result[0]] = result[1]
        if progress is not None:
            progress(len(done), len(indices))

    if workers <= 1:
        for i in indices:
            on_result((int(i), task((int(i), sources[i]))))
    else:
        from avdetect.workers import TaskSpec, WorkerPool

        spec = TaskSpec("avdetect.training.audio_bank:indexed_window_task", (task,))
        with WorkerPool(spec, _window_failure, workers=workers, timeout_s=None) as pool:
            pool.run([(int(i), sources[i]) for i in indices], on_result)
    return [part for i in indices for part in done[int(i)]]


def indexed_window_task(task: WindowTask) -> Callable[[tuple[int, AudioSource]], tuple[int, list[WindowBank]]]:
    """`task` for the worker engine: results carry their source index (they come back in finishing order)."""
    return lambda item: (item[0], task(item))


def _window_failure(item: tuple[int, AudioSource], status: str, reason: str, seconds: float) -> tuple[int, list]:
    log.warning("%s: no training windows (%s: %s)", item[1].path, status, reason)
    return item[0], []


def concat_banks(parts: list[WindowBank], extractor: MelExtractor) -> WindowBank:
    """One bank of all windows of `parts`; an empty bank of the extractor's window shape without any."""
    if not parts:
        cfg = extractor.config
        parts = [WindowBank(np.zeros((0, cfg.n_mels, cfg.window_frames), np.float16), np.zeros(0, np.int8),
                            np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0), np.zeros(0))]
    return WindowBank(*(np.concatenate([getattr(p, name) for p in parts]) for name in BANK_FIELDS))


def clean_windows(sources: Sequence[AudioSource], extractor: MelExtractor, *, speech: SpeechConfig,
                  views: ViewConfig, workers: int = 1) -> tuple[WindowBank, list[str]]:
    """The untouched windows of every source (view 0), labels from its fake segments (`views` sets the
    overlap that makes a window fake), and the paths of sources without speech (no window to score)."""
    task = WindowTask(extractor.config, speech, views, seed=0, clean=True)
    bank = concat_banks(_map_sources(task, sources, range(len(sources)), workers, None), extractor)
    silent = [sources[i].path for i in sorted(set(range(len(sources))) - set(bank.source.tolist()))]
    if silent:
        log.warning("%d file(s) have no speech and no windows, e.g. %s", len(silent), silent[:3])
    return bank, silent


def save_bank(bank: WindowBank, path: str | os.PathLike, *, fingerprint: str) -> None:
    """Writes `bank` to an .npz (atomically) tagged with `fingerprint` (what it was built from)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, fingerprint=np.array(fingerprint), **{name: getattr(bank, name) for name in BANK_FIELDS})
    os.replace(tmp, path)


def load_bank(path: str | os.PathLike, *, fingerprint: str) -> WindowBank | None:
    """The bank saved at `path` when it exists and was built from the same `fingerprint`, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["fingerprint"]) != fingerprint:
                return None
            return WindowBank(*(data[name] for name in BANK_FIELDS))
    except (OSError, KeyError, ValueError):
        return None


def bank_fingerprint(sources: Sequence[AudioSource], *, views: ViewConfig, mel: MelConfig, speech: SpeechConfig,
                     seed: int) -> str:
    """What a window bank depends on: the views, mel and speech settings, the seed and the sources."""
    settings = asdict(views)
    if not views.channel.acoustics.active:  # banks made before the acoustics existed keep their fingerprint
        del settings["channel"]["acoustics"]
    digest = hashlib.sha256(json.dumps([settings, asdict(mel), asdict(speech), seed]).encode())
    for source in sources:
        digest.update(f"{source.path}:{source.label}:{source.fake_segments.tolist()};".encode())
        digest.update(np.ascontiguousarray(source.audio).tobytes())
    return digest.hexdigest()


def log_bank(done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) == 0:
        log.info("audio window bank: %d/%d sources", done, total)
