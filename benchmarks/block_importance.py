"""What each feature block weighs in a model's stackers: the share of the final booster's total gain that the
columns of each extractor of its scoring spec carry (`stacker/report.json`, `voice/report.json`).

    .venv/bin/python benchmarks/block_importance.py [--model avdetect/model]

Gain is what the fitted trees drew from a block on the training videos, not what the block adds out of
fold: for that, refit without it (`benchmarks/stacker_ablation.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from avdetect.bundle import load_bundle
from avdetect.spec import extractor_columns
from stacking.bundle import load_bundle as load_stacker


def spec_blocks(model: Path | None = None) -> dict[str, list[str]]:
    """Extractor -> the columns it makes, for every extractor of the scoring spec of `model` (default shipped)."""
    bundle = load_bundle(model)
    aggregate = load_stacker(bundle.stacker).aggregate
    return {name: extractor_columns(name, aggregate) for name in bundle.spec.extractors}


def block_shares(importance: dict[str, float], blocks: dict[str, list[str]]) -> dict[str, float]:
    """Block -> its columns' share of the total gain, largest first; columns of no block count as "other"."""
    owner = {column: block for block, columns in blocks.items() for column in columns}
    total = sum(importance.values()) or 1.0
    shares: dict[str, float] = {}
    for column, gain in importance.items():
        block = owner.get(column, "other")
        shares[block] = shares.get(block, 0.0) + gain / total
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


def print_shares(title: str, shares: dict[str, float]) -> None:
    print(f"\n{title}\n{'block':<16} {'gain':>6}")
    for block, share in shares.items():
        print(f"{block:<16} {100 * share:5.1f} %")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="a model bundle (default the shipped one)")
    args = parser.parse_args(argv)
    bundle = load_bundle(args.model)
    blocks = spec_blocks(args.model)
    for title, part in (("video stacker", bundle.stacker), ("voice stacker", bundle.voice)):
        if part is not None:
            report = json.loads((part / "report.json").read_text())
            print_shares(f"{title} ({part / 'report.json'})", block_shares(report["importance"], blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
