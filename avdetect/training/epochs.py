"""The optimisation loop every branch trains with: AdamW, warm-up then cosine, resumable per epoch.

A branch hands `fit_epochs` its network (inputs -> one logit per sample) and a function giving an
epoch's batches; the loop does the rest and saves its state (weights, optimizer moments, curves) after
every epoch as safetensors + JSON, so a killed run resumes at the last finished epoch. Data draws are
seeded by the branch per (seed, epoch, item) and dropout per (seed, epoch), so a resumed run continues
as the uninterrupted one would have.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from avdetect.branches.checkpoint import load_checkpoint, save_checkpoint
from avdetect.errors import ModelFileError

log = logging.getLogger(__name__)

QUICK_STEPS = 3  # optimizer steps of a --quick run (one epoch): a smoke test of the whole loop
STATE_NAME = "state"  # state_dir/state.{safetensors,json}: the last finished epoch


@dataclass(frozen=True)
class TrainConfig:
    """Options of the optimisation loop, the same for every branch.

    Attributes:
        epochs: passes over the training samples.
        batch_size: samples per optimizer step.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        warmup: fraction of the steps over which the learning rate rises linearly from 0.
        steps_per_epoch: cap on the steps of an epoch; None is one full pass.
        seed: seeds every random draw (data order, augmentation, dropout).
        workers: worker processes preparing data (visual: data loader; audio: window cutting); 0 = in process.
        device: torch device.
        quick: one epoch of QUICK_STEPS steps, for tests and smoke runs.
        eval_every_epoch: score the held-out samples after every epoch (curves), not only at the end.
        micro_batch: forward and backward passes of at most this many samples, their gradients summed
            into the step's, for a batch that does not fit in memory at once (BatchNorm normalises each
            pass on its own); None passes the whole batch.
    """

    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-2
    warmup: float = 0.05
    steps_per_epoch: int | None = None
    seed: int = 0
    workers: int = 0
    device: str = "cpu"
    quick: bool = False
    eval_every_epoch: bool = True
    micro_batch: int | None = None

    def budget(self, n_batches: int) -> tuple[int, int]:
        """(epochs, steps per epoch) given `n_batches` batches in one pass."""
        steps = min(n_batches, self.steps_per_epoch or n_batches)
        return (1, min(steps, QUICK_STEPS)) if self.quick else (self.epochs, steps)


@dataclass(frozen=True)
class Tick:
    """One optimizer step done, for progress display."""

    task: str  # e.g. "fold 2/5" or "refit"
    step: int  # steps done in this task
    total: int  # steps this task will take
    loss: float


Progress = Callable[[Tick], None]


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Learning rate of `step` of `total`: linear warm-up, then cosine decay to 1% of the peak."""
    warm = max(1, round(config.warmup * total))
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(1, total - warm)
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def fit_epochs(module: nn.Module, batches: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]], *,
               n_batches: int, config: TrainConfig, state_dir: Path, task: str = "train",
               progress: Progress | None = None, on_epoch: Callable[[], dict[str, Any]] | None = None,
               options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Trains `module` (inputs -> (B,) logits) with binary cross-entropy, resuming from `state_dir`.

    Args:
        module: the network, on its device; only parameters with ``requires_grad`` are optimised.
        batches: epoch -> iterable of (inputs, float targets (B,)) on the module's device.
        n_batches: batches in one pass of `batches`.
        config: optimisation options.
        state_dir: where the state after each epoch is saved (and read back to resume).
        task: name shown in progress ticks.
        progress: called after every step.
        on_epoch: called after every epoch; its metrics join the epoch's record.
        options: JSON-able branch options the run depends on; a saved state made with other options (or
            another `config`) is refused rather than resumed.

    Returns:
        Per-epoch records {"epoch", "loss", ...on_epoch metrics}, resumed epochs included.
    """
    epochs, steps = config.budget(n_batches)
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=config.lr,
                                  weight_decay=config.weight_decay)
    # What the weights depend on; workers, device and curves do not change them.
    fingerprint = {**asdict(config), "workers": None, "device": None, "eval_every_epoch": None, "task": task,
                   "options": options}
    start, curves = load_epoch_state(state_dir, module, optimizer, fingerprint=fingerprint)
    for epoch in range(start, epochs):
        torch.manual_seed(config.seed * 1000 + epoch)  # dropout; data draws are seeded by the branch
        loss = _run_epoch(module, optimizer, batches(epoch), (epoch * steps, steps, epochs * steps), config,
                          _ticker(progress, task, epochs * steps))
        curves.append({"epoch": epoch + 1, "loss": loss, **(on_epoch() if on_epoch else {})})
        save_epoch_state(state_dir, module, optimizer, curves=curves, fingerprint=fingerprint)
        log.info("%s epoch %d/%d: %s", task, epoch + 1, epochs, curves[-1])
    return curves


def _ticker(progress: Progress | None, task: str, total: int) -> Callable[[int, float], None]:
    def tick(step: int, loss: float) -> None:
        if progress is not None:
            progress(Tick(task, step, total, loss))

    return tick


def _run_epoch(module: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable,
               steps: tuple[int, int, int], config: TrainConfig, tick: Callable[[int, float], None]) -> float:
    """One epoch; `steps` is (steps done before, steps in this epoch, steps in all epochs)."""
    module.train()
    first, count, total = steps
    losses = []
    for step, (inputs, targets) in enumerate(itertools.islice(batches, count), first):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, total, config)
        optimizer.zero_grad(set_to_none=True)
        losses.append(_backward(module, inputs, targets.to(inputs.device).float(), config.micro_batch))
        optimizer.step()
        tick(step + 1, losses[-1])
    return float(np.mean(losses)) if losses else math.nan


def _backward(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, micro_batch: int | None) -> float:
    """Back-propagates the batch's mean binary cross-entropy in passes of `micro_batch`; returns the loss."""
    n = len(inputs)
    size = micro_batch or n
    total = 0.0
    for start in range(0, n, size):
        part = slice(start, start + size)
        loss = F.binary_cross_entropy_with_logits(module(inputs[part]), targets[part], reduction="sum") / n
        loss.backward()
        total += float(loss.detach())
    return total


def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able copy of a nested state with tensors moved into `tensors` (dict keys keep their type)."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__items__": [[k, _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__items__" in obj:
        return {k: _unflatten(v, tensors) for k, v in obj["__items__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_epoch_state(state_dir: Path, module: nn.Module, optimizer: torch.optim.Optimizer, *,
                     curves: list[dict[str, Any]], fingerprint: dict[str, Any]) -> Path:
    """Writes `state_dir/state.{safetensors,json}`: weights, optimizer and curves after an epoch."""
    tensors = {f"model.{k}": v for k, v in module.state_dict().items()}
    structure = _flatten(optimizer.state_dict(), "optim", tensors)
    config = {"epoch": len(curves), "curves": curves, "optimizer": structure, "fingerprint": fingerprint}
    return save_checkpoint(state_dir, STATE_NAME, tensors, config)


def load_epoch_state(state_dir: Path, module: nn.Module, optimizer: torch.optim.Optimizer, *,
                     fingerprint: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Restores the last saved epoch into `module` and `optimizer`; (0, []) when there is none.

    Raises:
        ModelFileError: the saved state was made with other options (resume needs the same ones).
    """
    path = state_dir / f"{STATE_NAME}.json"
    if not path.is_file():
        return 0, []
    tensors, config = load_checkpoint(path)
    if json.loads(json.dumps(fingerprint)) != config["fingerprint"]:
        raise ModelFileError(f"{state_dir}: saved training state has other options; use the same options "
                             "to resume, or another output folder")
    prefix = len("model.")
    module.load_state_dict({k[prefix:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_unflatten(config["optimizer"], tensors))
    log.info("%s: resuming after epoch %d", state_dir, config["epoch"])
    return int(config["epoch"]), list(config["curves"])


def remove_epoch_state(state_dir: Path) -> None:
    """Deletes the saved epoch state (once the final model is written it is only a large leftover)."""
    for suffix in (".json", ".safetensors"):
        (state_dir / f"{STATE_NAME}{suffix}").unlink(missing_ok=True)
