"""What a training run reports: detection metrics, the out-of-fold table and a PNG of the curves.

Metrics follow the DFDC and ASVspoof habits (`stacking.metrics.summarize`: ROC AUC, equal error rate, log
loss, ...), on frames (or windows) and on videos (mean probability of a video's samples). The curves are drawn with PIL, so no
plotting library is needed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from stacking.metrics import Metrics

OOF_COLUMNS = ("path", "track", "position", "time_s", "end_s", "label", "fold", "probability")
COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


@dataclass(frozen=True)
class TrainingMetrics:
    """What `run_folds` measured: each held-out fold, and the whole OOF table by sample and by video."""

    folds: dict[str, Metrics]  # "fold{k}" -> metrics of that fold's held-out samples
    oof: Metrics  # every sample, scored by the model of its held-out fold
    oof_video: Metrics  # one row per video: the mean of its samples

    def to_json(self) -> dict[str, Any]:
        return {"folds": {k: m.to_json() for k, m in self.folds.items()}, "oof": self.oof.to_json(),
                "oof_video": self.oof_video.to_json()}

    def table(self) -> dict[str, Metrics]:
        return {**self.folds, "oof": self.oof, "oof video": self.oof_video}


def video_means(videos: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per video (in order of first appearance): (label int64 (V,), mean probability float64 (V,))."""
    names, first, inverse = np.unique(np.asarray(videos, dtype=str), return_index=True, return_inverse=True)
    means = np.bincount(inverse, weights=probs) / np.bincount(inverse)
    order = np.argsort(first)
    return np.asarray(labels)[first][order], means[order]


def write_oof(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """Writes the out-of-fold table, one row per sample, with the `OOF_COLUMNS` found in `columns`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [c for c in OOF_COLUMNS if c in columns]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows(zip(*(_formatted(columns[c]) for c in names)))


def _formatted(values: np.ndarray) -> list[str]:
    if np.asarray(values).dtype.kind == "f":
        return [f"{v:.6g}" for v in values]
    return [str(v) for v in values]


def plot_curves(curves: Mapping[str, Sequence[Mapping[str, Any]]], path: Path, *,
                keys: Sequence[str] = ("loss", "heldout_auc", "heldout_log_loss")) -> Path:
    """Draws one panel per key (value against epoch), one line per run; keys nobody logged are left out.

    Args:
        curves: run name (e.g. "fold0") -> per-epoch records with "epoch" and the keys.
        path: PNG to write.
        keys: record keys to draw.
    """
    keys = [k for k in keys if any(r.get(k) is not None for rs in curves.values() for r in rs)] or ["loss"]
    panel_w, panel_h = 360, 260
    image = Image.new("RGB", (panel_w * len(keys), panel_h + 20 * (len(curves) // 4 + 1)), "white")
    draw = ImageDraw.Draw(image)
    for p, key in enumerate(keys):
        _panel(draw, (p * panel_w, 0, (p + 1) * panel_w, panel_h), key, curves)
    for i, name in enumerate(curves):
        x, y = 10 + (i % 4) * 90, panel_h + 4 + (i // 4) * 20
        draw.line((x, y + 7, x + 20, y + 7), fill=COLOURS[i % len(COLOURS)], width=3)
        draw.text((x + 25, y), name, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], key: str,
           curves: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    left, top, right, bottom = box[0] + 50, box[1] + 25, box[2] - 15, box[3] - 30
    points = [(r["epoch"], r[key]) for rs in curves.values() for r in rs if _finite(r.get(key))]
    draw.rectangle((left, top, right, bottom), outline="black")
    draw.text((left, box[1] + 6), key, fill="black")
    if not points:
        return
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(max(xs), min(xs) + 1), min(ys), max(max(ys), min(ys) + 1e-6)
    draw.text((box[0] + 4, bottom - 6), f"{y0:.3g}", fill="black")
    draw.text((box[0] + 4, top), f"{y1:.3g}", fill="black")
    draw.text((left, bottom + 6), f"epoch {x0}", fill="black")
    draw.text((right - 40, bottom + 6), f"{x1}", fill="black")

    def at(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)

    for i, records in enumerate(curves.values()):
        line = [at(r["epoch"], r[key]) for r in records if _finite(r.get(key))]
        colour = COLOURS[i % len(COLOURS)]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for x, y in line:
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
