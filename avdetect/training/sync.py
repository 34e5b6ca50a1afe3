"""Training the learnt sync network (`avdetect.branches.sync`) on real talkers only, resumable on a CPU.

Each step draws mouth windows from distinct real clips (where someone speaks) and asks the network to
pick each window's own sound among the batch's other clips' sounds (dubbed audio) and the same clip's
sound moved by 0.2-1 s (shifted audio) — a symmetric InfoNCE loss, as SyncNet's shifted negatives
(Chung & Zisserman 2016) and CLIP's in-batch ones. Some talkers (by actor) and the paths matching
`holdout_paths` (GRID) never train it, so its features can be measured on talkers it never saw.

OUT/last.{safetensors,json} + last_optim.safetensors + state.json   resume point, every `save_every` steps
OUT/sync.{safetensors,json}    the final model (float16), OUT/split.csv, OUT/train.log, OUT/metrics.jsonl
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from avdetect.branches.sync import (
    SyncNet,
    SyncNetConfig,
    clip_log_mel,
    load_sync_model,
    mel_index,
    resample_mouth,
    save_sync_model,
    standardise_crops,
)
from avdetect.corpus.cache_index import cache_loader
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError
from avdetect.features.sync_learnt import window_starts
from avdetect.records import Perception

log = logging.getLogger(__name__)

# Real talkers whose fakes are in the shared data (Wav2Lip of akash and kim, GeneFace of May, ...) stay out
# of training, so lip-sync fakes are measured against talkers the network never saw.
HOLDOUT_ACTORS = ("akash-assignment-speaker", "w2lgfpgan-kim", "theresa_may", "donald_trump", "andrew_ng")


@dataclass(frozen=True)
class SyncTrainConfig:
    """Attributes:
    steps: optimiser steps in all.
    batch_size: windows per step, each from another clip when there are enough clips.
    shifted: shifted-audio negatives per window.
    shift_s: (min, max) |shift| of those negatives, seconds.
    lr, weight_decay: AdamW; the learning rate follows a cosine from `lr` to 0.
    holdout_fraction: share of actors (by a hash of the actor, else the group) kept out of training.
    holdout_actors: actors always kept out.
    holdout_paths: substrings of paths always kept out ("/grid/": GRID).
    min_speech: a window counts when this share of it lies in speech.
    save_every: steps between resume points (and held-out checks).
    seed: random seed.
    threads: torch CPU threads.
    net: the network and its preprocessing.
    """

    steps: int = 4000
    batch_size: int = 32
    shifted: int = 4
    shift_s: tuple[float, float] = (0.2, 1.0)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    holdout_fraction: float = 0.25
    holdout_actors: tuple[str, ...] = HOLDOUT_ACTORS
    holdout_paths: tuple[str, ...] = ("/grid/",)
    mel_noise: float = 0.0
    mel_mask: int = 0
    min_speech: float = 0.5
    save_every: int = 250
    seed: int = 0
    threads: int = 1
    net: SyncNetConfig = field(default_factory=SyncNetConfig)


@dataclass(frozen=True)
class SyncClip:
    """One real talking clip, ready for sampling."""

    path: str
    actor: str
    crops: np.ndarray  # uint8 (N, h, w) mouth crops at net.fps
    start_s: float  # time of crops[0], seconds
    mel: np.ndarray  # float32 (F, n_mels) standardised log-mel of the whole clip
    starts: np.ndarray  # int64 (M,) window starts (crop index) in speech whose own audio fits


def is_held_out(row: ManifestRow, config: SyncTrainConfig) -> bool:
    """True for rows that never train the network: listed actors, listed paths, and a hashed share of actors."""
    who = row.actor or row.group
    if who in config.holdout_actors or any(p in str(row.path) for p in config.holdout_paths):
        return True
    return zlib.crc32(who.encode()) % 1000 < config.holdout_fraction * 1000


def make_clip(path: str, actor: str, perception: Perception, net: SyncNetConfig, min_speech: float) -> SyncClip | None:
    """The clip's longest mouth track and its audio, or None without audio, mouth or speech windows."""
    if perception.audio is None or not perception.mouths or len(perception.clip.audio) == 0:
        return None
    crops, start_s = resample_mouth(max(perception.mouths, key=lambda m: len(m.times_s)), net.fps)
    mel = clip_log_mel(perception.clip.audio, net)
    starts = window_starts(len(crops), start_s, len(mel), perception.audio.speech_segments, net, 1, min_speech)
    return SyncClip(path, actor, crops, start_s, mel, starts) if len(starts) else None


def load_clips(rows: Sequence[ManifestRow], cache_dir: Path, config: SyncTrainConfig) -> list[SyncClip]:
    """The usable real clips among `rows` (REAL, cached, with audio, a mouth and speech)."""
    load, clips = cache_loader(cache_dir), []
    for row in rows:
        if row.label != "REAL":
            continue
        try:
            clip = make_clip(str(row.path), row.actor or row.group, load(row.path), config.net, config.min_speech)
        except AvdetectError as err:
            log.debug("%s: %s", row.path, err)
            continue
        if clip is not None:
            clips.append(clip)
    return clips


class Sampler:
    """Batches of (video windows, own audio, shifted audio) drawn from distinct clips."""

    def __init__(self, clips: Sequence[SyncClip], config: SyncTrainConfig, rng: np.random.Generator) -> None:
        self.clips, self.config, self.rng = list(clips), config, rng
        weights = np.array([math.sqrt(len(c.starts)) for c in self.clips])
        self.p = weights / weights.sum()

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, h, w) video, (B, F, n_mels) own audio, (B, K, F, n_mels) shifted audio."""
        n = min(self.config.batch_size, len(self.clips))
        picks = self.rng.choice(len(self.clips), size=n, replace=False, p=self.p)
        items = [self._item(self.clips[i]) for i in picks]
        return tuple(torch.from_numpy(np.stack(parts)) for parts in zip(*items))

    def _item(self, clip: SyncClip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        net, rng = self.config.net, self.rng
        s = int(rng.choice(clip.starts))
        video = augment_video(standardise_crops(clip.crops[s:s + net.window_frames]), rng)
        first = int(mel_index(clip.start_s + s / net.fps, net))
        shifted = [clip.mel[f:f + net.mel_frames] for f in self._shifted_firsts(first, len(clip.mel))]
        own = self._augment_mel(clip.mel[first:first + net.mel_frames])
        return video, own, np.stack([self._augment_mel(m) for m in shifted])

    def _augment_mel(self, mel: np.ndarray) -> np.ndarray:
        """(F, n_mels) with noise and a masked band, when the config asks for them."""
        mel = mel + self.rng.normal(0, self.config.mel_noise, mel.shape).astype(np.float32) \
            if self.config.mel_noise else mel.copy()
        if self.config.mel_mask:
            width = int(self.rng.integers(0, self.config.mel_mask + 1))
            low = int(self.rng.integers(0, mel.shape[1] - width + 1))
            mel[:, low:low + width] = 0.0
        return mel

    def _shifted_firsts(self, first: int, n_mel: int) -> list[int]:
        """Mel frames of `shifted` windows moved by 0.2-1 s from `first`, flipping sides where one runs out."""
        net, lo, hi = self.config.net, *self.config.shift_s
        out = []
        for _ in range(self.config.shifted):
            move = int(mel_index(self.rng.uniform(lo, hi), net)) * int(self.rng.choice([-1, 1]))
            for m in (move, -move):
                if 0 <= first + m <= n_mel - net.mel_frames:
                    out.append(first + m)
                    break
            else:  # clip too short for this shift either way: the farthest end
                out.append(0 if first > n_mel - net.mel_frames - first else n_mel - net.mel_frames)
        return out


def augment_video(video: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror, a shift of up to 2 px, and a little noise: the same for every frame of the window."""
    if rng.random() < 0.5:
        video = video[:, :, ::-1]
    dy, dx = rng.integers(-2, 3, size=2)
    video = np.roll(video, (int(dy), int(dx)), axis=(1, 2))
    return np.ascontiguousarray(video + rng.normal(0, 0.05, video.shape).astype(np.float32))


def contrastive_loss(model: SyncNet, video: torch.Tensor, own: torch.Tensor, shifted: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over the batch's audio, plus each window's shifted audio as extra negatives."""
    b, k = shifted.shape[:2]
    v = model.embed_video(video)
    a = model.embed_audio(torch.cat([own, shifted.flatten(0, 1)]))
    a_own, a_shift = a[:b], a[b:].view(b, k, -1)
    tau = model.config.temperature
    logits = torch.cat([v @ a_own.T, torch.einsum("be,bke->bk", v, a_shift)], dim=1) / tau
    target = torch.arange(b)
    ce = torch.nn.functional.cross_entropy
    return (ce(logits, target) + ce((a_own @ v.T) / tau, target)) / 2


def train_sync(clips: Sequence[SyncClip], held_out: Sequence[SyncClip], out_dir: Path,
               config: SyncTrainConfig = SyncTrainConfig()) -> Path:
    """Trains (or resumes from OUT/last) and writes OUT/sync.{safetensors,json}; returns its JSON path."""
    torch.set_num_threads(config.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, optimiser, step = _resume(out_dir, config)
    sampler = Sampler(clips, config, np.random.default_rng(config.seed + step))
    model.train()
    started, losses = time.time(), []
    while step < config.steps:
        for group in optimiser.param_groups:
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        loss = contrastive_loss(model, *sampler.batch())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step, losses = step + 1, losses + [loss.item()]
        if step % config.save_every == 0 or step == config.steps:
            _checkpoint(model, optimiser, step, out_dir, config, np.mean(losses), held_out, time.time() - started)
            losses = []
    summary = {"steps": step, "train_clips": len(clips), "held_out_clips": len(held_out),
               "held_out_offset_ok": offset_accuracy(model.eval(), held_out)}
    return save_sync_model(model, out_dir, extra={"training": summary, "config": _jsonable(config)}, half=True)


def _resume(out_dir: Path, config: SyncTrainConfig) -> tuple[SyncNet, torch.optim.Optimizer, int]:
    model = SyncNet(config.net)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state_path = out_dir / "state.json"
    if not state_path.is_file():
        return model, optimiser, 0
    model.load_state_dict(load_sync_model(out_dir / "last.json").state_dict())
    tensors = load_file(str(out_dir / "last_optim.safetensors"))
    state = {int(k.split(".")[0]): {} for k in tensors}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state[int(index)][name] = value
    optimiser.load_state_dict({"state": state, "param_groups": optimiser.state_dict()["param_groups"]})
    step = json.loads(state_path.read_text())["step"]
    log.info("resumed at step %d", step)
    return model, optimiser, step


def _checkpoint(model: SyncNet, optimiser: torch.optim.Optimizer, step: int, out_dir: Path,
                config: SyncTrainConfig, loss: float, held_out: Sequence[SyncClip], seconds: float) -> None:
    """Resume point (weights, AdamW moments, step) and one line of metrics."""
    save_sync_model(model, out_dir, name="last")
    moments = {f"{i}.{name}": t.detach().clone().contiguous()
               for i, s in optimiser.state_dict()["state"].items() for name, t in s.items()}
    save_file(moments, str(out_dir / "last_optim.safetensors"))
    (out_dir / "state.json").write_text(json.dumps({"step": step}))
    model.eval()
    accuracy = offset_accuracy(model, held_out)
    model.train()
    line = {"step": step, "loss": round(loss, 4), "held_out_offset_ok": accuracy, "seconds": round(seconds, 1)}
    with (out_dir / "metrics.jsonl").open("a") as f:
        f.write(json.dumps(line) + "\n")
    log.info("step %d loss %.4f held-out offset within 0.1 s: %.3f (%.0f s)", step, loss, accuracy, seconds)


def offset_accuracy(model: SyncNet, clips: Sequence[SyncClip]) -> float:
    """Share of `clips` whose learnt offset (the mean curve's peak over +-1 s) is within 0.1 s of 0."""
    from avdetect.features.sync_learnt import ScanConfig, scan_windows, summarise

    hits = []
    for clip in clips:
        sims, offsets_s = scan_windows(model, clip.crops, clip.start_s, clip.mel, clip.starts[::5], ScanConfig())
        hits.append(abs(summarise(sims, offsets_s)[0]) <= 0.1)
    return float(np.mean(hits)) if hits else float("nan")


def write_split(path: Path, train: Sequence[SyncClip], held_out: Sequence[SyncClip]) -> None:
    """path,actor,split,windows for every usable clip."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "actor", "split", "windows"])
        for split, clips in (("train", train), ("held_out", held_out)):
            writer.writerows([c.path, c.actor, split, len(c.starts)] for c in clips)


def _jsonable(config: SyncTrainConfig) -> dict:
    return json.loads(json.dumps(asdict(config)))
