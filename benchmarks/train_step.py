"""Seconds per training step of the shipped model's CNNs on this CPU: with glibc's default malloc and with
the thresholds `avdetect` sets (`avdetect/allocator.py`), whole batches and micro-batches.

    .venv/bin/python benchmarks/train_step.py [--batch 32] [--micro 32,16,8] [--rounds 3] [--threads 2]

One AdamW step (forward, backward, update) on random inputs of the branches' own shapes: the face CNN
(efficientnet_lite0, 224 px crops, channels-last as `train visual` runs it) and the voice CNN (resnet10t on
log-mel windows), each batch passed whole or in micro-batches (`TrainConfig.micro_batch`, gradients
summed). The default-malloc table comes from a child process (`--default-malloc`), as the setting cannot
be undone in one. Rounds are interleaved; the tables give the median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def step_seconds(net: torch.nn.Module, inputs: torch.Tensor, micro: int) -> float:
    """Wall seconds of one optimizer step over `inputs` in passes of `micro`."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    targets = (torch.arange(len(inputs)) % 2).float()
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for i in range(0, len(inputs), micro):
        logits = net(inputs[i : i + micro]).reshape(-1)
        (F.binary_cross_entropy_with_logits(logits, targets[i : i + micro], reduction="sum") / len(inputs)).backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="samples per optimizer step (default 32)")
    parser.add_argument("--micro", default="32,16,8", help="micro-batch sizes to compare (default 32,16,8)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--default-malloc", action="store_true", help="only the table with glibc's own thresholds")
    args = parser.parse_args()
    if not args.default_malloc:
        subprocess.run([sys.executable, __file__, "--default-malloc", *sys.argv[1:]], check=True)
        from avdetect.allocator import keep_large_buffers

        keep_large_buffers()
    torch.set_num_threads(args.threads)
    from avdetect.bundle import load_bundle
    from avdetect.branches.audio import AudioClassifier
    from avdetect.branches.visual import VisualClassifier

    bundle = load_bundle(None)
    visual, audio = VisualClassifier.load(bundle.visual), AudioClassifier.load(bundle.audio)
    side = visual.config.input_size
    nets = {
        f"face CNN, {side} px crops": (visual.net.float().to(memory_format=torch.channels_last).train(),
                                       torch.randn(args.batch, 3, side, side).to(memory_format=torch.channels_last)),
        "voice CNN, log-mel windows": (audio.net.float().train(), torch.randn(args.batch, *audio.input_shape)),
    }
    micros = [int(m) for m in args.micro.split(",")]
    times: dict[tuple[str, int], list[float]] = {}
    for net, inputs in nets.values():
        step_seconds(net, inputs, micros[0])  # warm-up
    for _ in range(args.rounds):
        for name, (net, inputs) in nets.items():
            for micro in micros:
                times.setdefault((name, micro), []).append(step_seconds(net, inputs, micro))
    malloc = "glibc's default malloc" if args.default_malloc else "malloc thresholds raised (as avdetect runs)"
    print(f"one AdamW step of {args.batch} samples, {args.threads} torch threads, {malloc}, "
          f"median of {args.rounds} rounds")
    print(f"{'network':<28} " + " ".join(f"{'passes of ' + str(m):>13}" for m in micros))
    for name in nets:
        print(f"{name:<28} " + " ".join(f"{statistics.median(times[(name, m)]):>12.2f}s" for m in micros))


if __name__ == "__main__":
    main()
