"""Learnt audio-visual sync: a two-tower network that embeds a short mouth clip and the log-mel of a span.

SyncNet's idea (Chung & Zisserman, "Out of time", ACCV 2016 workshops): embed ~0.4 s of mouth crops and
the sound of a span, and train on real talkers only so that the mouth's own sound lies closer than the
same clip's sound shifted by 0.2-1 s or another clip's sound (contrastive, as AVAD, Feng et al. CVPR 2023,
and AVH-Align, Smeu et al. 2025, learn sync from real videos alone). Scanning the audio offset then gives
the clip's offset and a confidence; `avdetect.features.sync_learnt` turns that into the stacker's block.

Inputs are what the perception layer keeps: `MouthTrack` luma crops (resampled to `fps`) and the clip's
16 kHz mono audio. The preprocessing (frame rate, window, crop size, mel settings) is the checkpoint's config.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import nn

from avdetect.branches.checkpoint import load_checkpoint, save_checkpoint
from avdetect.defaults import SAMPLE_RATE
from avdetect.errors import ModelFileError
from avdetect.records import MouthTrack

MEL_RANGE_DB = 80.0  # log-mels are floored this far below the clip's loudest bin (digital silence is -inf)


@dataclass(frozen=True)
class SyncNetConfig:
    """Architecture and preprocessing of the sync network; saved with its weights.

    Attributes:
        fps: mouth crops are resampled to this rate (nearest frame), frames per second.
        window_frames: mouth frames per window; the audio window spans the same time.
        crop_hw: (height, width) of the mouth crops, as `MouthConfig.crop_hw`.
        sample_rate, n_fft, win_length, hop_length, n_mels, f_min, f_max: log-mel settings.
        channels: conv widths of both towers, four stages.
        embed_dim: size of the L2-normalised embeddings.
        temperature: cosine similarities are divided by this in the contrastive loss.
    """

    fps: float = 25.0
    window_frames: int = 10
    crop_hw: tuple[int, int] = (32, 64)
    sample_rate: int = SAMPLE_RATE
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 8_000.0
    channels: tuple[int, int, int, int] = (16, 32, 64, 96)
    embed_dim: int = 64
    temperature: float = 0.1

    @property
    def window_s(self) -> float:
        return self.window_frames / self.fps

    @property
    def mel_frames(self) -> int:
        """Log-mel frames per window (10 ms hop: 40 frames for 0.4 s)."""
        return int(round(self.window_s * self.sample_rate / self.hop_length))

    @classmethod
    def from_dict(cls, values: dict) -> SyncNetConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names})


def _block3d(c_in: int, c_out: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm3d(c_out), nn.ReLU(inplace=True))


def _block2d(c_in: int, c_out: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SyncNet(nn.Module):
    """Two towers: mouth frames (B, T, H, W) and log-mels (B, F, n_mels) -> unit embeddings (B, E) each."""

    def __init__(self, config: SyncNetConfig = SyncNetConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        steps = max(1, config.window_frames // 2)  # time steps each tower keeps before its linear head
        self.video = nn.Sequential(
            _block3d(1, c[0], (1, 2, 2)), _block3d(c[0], c[1], (1, 2, 2)),
            _block3d(c[1], c[2], (2, 2, 2)), _block3d(c[2], c[3], (1, 2, 2)),
            nn.AdaptiveAvgPool3d((steps, 1, 1)), nn.Flatten(), nn.Linear(c[3] * steps, config.embed_dim))
        self.audio = nn.Sequential(
            _block2d(1, c[0], (2, 1)), _block2d(c[0], c[1], (2, 2)),
            _block2d(c[1], c[2], (2, 2)), _block2d(c[2], c[3], (2, 2)),
            nn.AdaptiveAvgPool2d((1, steps)), nn.Flatten(), nn.Linear(c[3] * steps, config.embed_dim))

    def embed_video(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W) standardised mouth crops -> (B, E) unit vectors."""
        return nn.functional.normalize(self.video(frames[:, None]), dim=1)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, F, n_mels) standardised log-mels -> (B, E) unit vectors."""
        return nn.functional.normalize(self.audio(mels.transpose(1, 2)[:, None]), dim=1)


# Preprocessing, shared by training and scoring.

def resample_mouth(mouth: MouthTrack, fps: float) -> tuple[np.ndarray, float]:
    """The track's crops at `fps` (nearest dense frame) and the time of the first, seconds.

    Returns:
        uint8 (N, h, w) crops on the grid ``start_s + k / fps`` and ``start_s``; (0, h, w) for an empty track.
    """
    times = mouth.times_s
    if len(times) == 0:
        return mouth.crops[:0], 0.0
    grid = np.arange(times[0], times[-1] + 0.5 / fps, 1.0 / fps)
    index = np.clip(np.searchsorted(times, grid), 0, len(times) - 1)
    earlier = np.clip(index - 1, 0, len(times) - 1)
    index = np.where(np.abs(times[earlier] - grid) < np.abs(times[index] - grid), earlier, index)
    return mouth.crops[index], float(times[0])


def standardise_crops(crops: np.ndarray) -> np.ndarray:
    """float32 (..., h, w) crops, each with zero mean and unit variance (lighting does not count)."""
    c = crops.astype(np.float32)
    mean = c.mean(axis=(-2, -1), keepdims=True)
    return (c - mean) / (c.std(axis=(-2, -1), keepdims=True) + 1e-3)


def clip_log_mel(audio: np.ndarray, config: SyncNetConfig) -> np.ndarray:
    """float32 (F, n_mels) log-mel of a whole clip, standardised per band over the clip.

    Frame i covers samples [i * hop, i * hop + win_length) (not centred), so a window starting at t
    seconds starts at frame ``round(t * sample_rate / hop)``.
    """
    if len(audio) < config.n_fft:
        return np.zeros((0, config.n_mels), np.float32)
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
        hop_length=config.hop_length, n_mels=config.n_mels, f_min=config.f_min, f_max=config.f_max, center=False)
    with torch.no_grad():
        mel = transform(torch.from_numpy(np.ascontiguousarray(audio, np.float32))).numpy().T  # (F, n_mels)
    db = 10 * np.log10(mel + 1e-10)
    db = np.maximum(db, db.max() - MEL_RANGE_DB)
    return ((db - db.mean(axis=0)) / (db.std(axis=0) + 1e-3)).astype(np.float32)


def mel_index(time_s: np.ndarray | float, config: SyncNetConfig) -> np.ndarray:
    """int64 first log-mel frame of windows starting at `time_s` seconds."""
    return np.round(np.asarray(time_s) * config.sample_rate / config.hop_length).astype(np.int64)


# Inference over a clip.

def similarity_grid(model: SyncNet, crops: np.ndarray, crops_start_s: float, mel: np.ndarray,
                    starts: np.ndarray, offsets: np.ndarray, *, batch: int = 256) -> np.ndarray:
    """Cosine similarity of each mouth window with the audio window moved by each offset.

    Args:
        model: the network, in eval mode.
        crops: uint8 (N, h, w) mouth crops at ``model.config.fps`` (`resample_mouth`).
        crops_start_s: time of ``crops[0]``, seconds.
        mel: float32 (F, n_mels) from `clip_log_mel`.
        starts: int64 (W,) first crop of each window; windows must fit in `crops`.
        offsets: int64 (D,) audio offsets in frames at ``fps`` (> 0: the audio taken later).

    Returns:
        float64 (W, D); NaN where the moved audio window leaves the clip.
    """
    cfg = model.config
    video = standardise_crops(np.stack([crops[s:s + cfg.window_frames] for s in starts]))
    audio_frames = starts[:, None] + offsets[None, :]  # in crop frames
    firsts = mel_index(crops_start_s + audio_frames / cfg.fps, cfg)
    inside = (firsts >= 0) & (firsts + cfg.mel_frames <= len(mel))
    unique = np.unique(firsts[inside])
    with torch.no_grad():
        v = _embed(model.embed_video, video, batch)
        a = _embed(model.embed_audio, np.stack([mel[f:f + cfg.mel_frames] for f in unique]), batch) \
            if len(unique) else np.zeros((0, cfg.embed_dim), np.float32)
    sims = np.full(firsts.shape, np.nan)
    rows, cols = np.nonzero(inside)
    sims[rows, cols] = np.sum(v[rows] * a[np.searchsorted(unique, firsts[rows, cols])], axis=1)
    return sims


def _embed(tower, x: np.ndarray, batch: int) -> np.ndarray:
    parts = [tower(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(parts).astype(np.float64)


# Checkpoints.

def save_sync_model(model: SyncNet, directory: str | os.PathLike, *, name: str = "sync",
                    extra: dict | None = None, half: bool = False) -> Path:
    """Writes `directory/name.{safetensors,json}` (config + `extra`, e.g. the training summary)."""
    config = {"kind": "sync", **dataclasses.asdict(model.config), "extra": extra or {}}
    return save_checkpoint(directory, name, model.state_dict(), config, half=half)


def load_sync_model(path: str | os.PathLike) -> SyncNet:
    """The network of a checkpoint written by `save_sync_model`, in eval mode, on CPU.

    Raises:
        ModelFileError: missing or corrupt files, or a checkpoint of another kind.
    """
    state, config = load_checkpoint(path)
    if config.get("kind") != "sync":
        raise ModelFileError(f"{path}: not a sync checkpoint (kind {config.get('kind')!r})")
    model = SyncNet(SyncNetConfig.from_dict(config))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ModelFileError(f"{path}: weights do not fit the config ({str(e).splitlines()[0]})") from e
    return model.eval()
