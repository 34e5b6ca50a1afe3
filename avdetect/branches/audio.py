"""Audio branch: a small CNN that scores log-mel windows of speech as real (0) or synthetic (1).

Synthetic-speech detectors that work well on CPU are small image CNNs over log-mel or LFCC frames
(LCNN, Lavrentyeva et al., Interspeech 2019; ResNet front-ends of the ASVspoof 2021 baselines). Here a
timm backbone with one input channel and no pretrained weights reads (n_mels, t) windows from
`avdetect.perception.audio.MelExtractor`; each mel band is standardised with mean/std measured on the training
windows. The checkpoint carries those statistics and every MelConfig/SpeechConfig field, so scoring
cuts exactly the windows the model was trained on.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from torch import nn

from avdetect.branches.checkpoint import load_checkpoint, save_checkpoint
from avdetect.errors import ModelFileError
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig, analyze_audio, saved_speech_config
from avdetect.records import AudioFeatures

CONFIG_VERSION = 1  # bump when the meaning of a checkpoint config field changes
BRANCH = "audio"


@dataclass(frozen=True)
class AudioModelConfig:
    """Architecture of the audio classifier.

    Attributes:
        backbone: timm model name, built with ``in_chans=1, num_classes=0, pretrained=False``.
        dropout: before the linear head.
    """

    backbone: str = "resnet10t"
    dropout: float = 0.2


class AudioNet(nn.Module):
    """Per-band standardisation, a timm backbone and a one-logit head.

    Args:
        config: architecture.
        mean: float32 (n_mels,) per-band mean of training log-mels, dB.
        std: float32 (n_mels,) per-band standard deviation, dB.
    """

    def __init__(self, config: AudioModelConfig, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        if not timm.is_model(config.backbone):
            raise ValueError(f"unknown timm backbone {config.backbone!r}; e.g. resnet10t, mobilenetv3_small_100")
        self.backbone = timm.create_model(config.backbone, pretrained=False, in_chans=1, num_classes=0)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(self.backbone.num_features, 1))
        # Not persistent: the statistics live in the JSON config, the one place preprocessing is kept.
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32)[:, None], persistent=False)
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32)[:, None], persistent=False)

    def normalise(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, t) dB -> standardised (B, n_mels, t)."""
        return (mels - self.mean) / self.std

    def classify(self, normalised: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, t) standardised -> logits (B,)."""
        return self.head(self.backbone(normalised[:, None])).squeeze(1)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, t) log-mel dB -> logits (B,), positive for synthetic."""
        return self.classify(self.normalise(mels))


def band_stats(mels: np.ndarray, *, min_std: float = 1e-3, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """float32 (n_mels,) mean and std of each band over all windows and frames of `mels` (W, n_mels, t).

    Accumulated in float64 a chunk of windows at a time, so a float16 bank is never copied whole.
    """
    if len(mels) == 0:
        raise ValueError("no windows to measure band statistics on")
    total = np.zeros(mels.shape[1])
    squares = np.zeros(mels.shape[1])
    for i in range(0, len(mels), chunk):
        x = np.asarray(mels[i : i + chunk], np.float64)
        total += x.sum(axis=(0, 2))
        squares += np.square(x).sum(axis=(0, 2))
    count = len(mels) * mels.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32)


class AudioClassifier:
    """The trained audio branch: windows in, probabilities of "synthetic" out.

    Args:
        net: the network (its buffers hold the band statistics).
        mel: how windows are cut; inputs must have (mel.n_mels, mel.window_frames).
        speech: how speech is found before windows are cut.
        model: the architecture `net` was built from.
        device: torch device to score on.
    """

    def __init__(self, net: AudioNet, *, mel: MelConfig, speech: SpeechConfig, model: AudioModelConfig,
                 device: str | torch.device = "cpu"):
        self.net = net.to(device).eval()
        self.mel = mel
        self.speech = speech
        self.model = model
        self.device = torch.device(device)
        self._extractor: MelExtractor | None = None

    @classmethod
    def create(cls, *, mean: np.ndarray, std: np.ndarray, mel: MelConfig = MelConfig(),
               speech: SpeechConfig = SpeechConfig(), model: AudioModelConfig = AudioModelConfig(),
               device: str | torch.device = "cpu") -> AudioClassifier:
        """A freshly initialised (untrained) classifier with the given band statistics."""
        return cls(AudioNet(model, mean, std), mel=mel, speech=speech, model=model, device=device)

    @property
    def input_shape(self) -> tuple[int, int]:
        """(n_mels, t) of one window."""
        return self.mel.n_mels, self.mel.window_frames

    def predict_windows(self, mels: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """float32 (W,) probability that each window of `mels` float32 (W, n_mels, t) is synthetic.

        Raises:
            ValueError: windows of another shape than `input_shape`.
        """
        mels = np.asarray(mels, np.float32)
        if mels.ndim != 3 or mels.shape[1:] != self.input_shape:
            raise ValueError(f"expected windows (W, {self.input_shape[0]}, {self.input_shape[1]}), got {mels.shape}")
        self.net.eval()
        out = [self._probs(mels[i : i + batch_size]) for i in range(0, len(mels), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    @torch.no_grad()
    def _probs(self, batch: np.ndarray) -> np.ndarray:
        logits = self.net(torch.from_numpy(batch).to(self.device))
        return torch.sigmoid(logits).float().cpu().numpy()

    def analyze(self, audio: np.ndarray, sample_rate: int) -> AudioFeatures:
        """Speech segments and windows of `audio` float32 (N,), cut as in training."""
        if self._extractor is None:
            self._extractor = MelExtractor(self.mel)
        return analyze_audio(audio, sample_rate, self._extractor, self.speech)

    def config(self) -> dict[str, Any]:
        """JSON-able config: everything needed to rebuild the net and cut its inputs."""
        return {
            "branch": BRANCH,
            "version": CONFIG_VERSION,
            "model": asdict(self.model),
            "mel": asdict(self.mel),
            "speech": asdict(self.speech),
            "band_mean": self.net.mean[:, 0].cpu().tolist(),
            "band_std": self.net.std[:, 0].cpu().tolist(),
        }

    def save(self, directory: str | os.PathLike, name: str = BRANCH) -> Path:
        """Writes `directory/name.safetensors` and `.json`; returns the JSON path."""
        return save_checkpoint(directory, name, self.net.state_dict(), self.config())

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> AudioClassifier:
        """Reads a checkpoint written by `save` (JSON path, or folder + stem); never unpickles.

        Raises:
            ModelFileError: missing or tampered files, a config of another branch or version, or
                weights that do not fit the architecture.
        """
        state, config = load_checkpoint(path)
        mel, speech, model, mean, std = parse_config(config, source=str(path))
        classifier = cls.create(mean=mean, std=std, mel=mel, speech=speech, model=model, device=device)
        try:
            classifier.net.load_state_dict(state)
        except RuntimeError as err:
            raise ModelFileError(f"{path}: weights do not fit {model.backbone} ({str(err)[:200]})") from None
        return classifier


def parse_config(config: dict[str, Any], *, source: str
                 ) -> tuple[MelConfig, SpeechConfig, AudioModelConfig, np.ndarray, np.ndarray]:
    """Checks an audio checkpoint config and rebuilds its parts.

    Raises:
        ModelFileError: not an audio-branch config, a newer version, or missing/unknown fields.
    """
    if config.get("branch") != BRANCH:
        raise ModelFileError(f"{source}: a {config.get('branch')!r} checkpoint, not the audio branch")
    if config.get("version", 0) > CONFIG_VERSION:
        raise ModelFileError(f"{source}: audio config version {config['version']} is newer than this avdetect")
    try:
        mel = MelConfig(**config["mel"])
        speech = saved_speech_config(config["speech"])
        model = AudioModelConfig(**config["model"])
        mean = np.asarray(config["band_mean"], np.float32)
        std = np.asarray(config["band_std"], np.float32)
    except (KeyError, TypeError) as err:
        raise ModelFileError(f"{source}: malformed audio config ({err})") from None
    if mean.shape != (mel.n_mels,) or std.shape != (mel.n_mels,):
        raise ModelFileError(f"{source}: band statistics do not have n_mels={mel.n_mels} entries")
    return mel, speech, model, mean, std
