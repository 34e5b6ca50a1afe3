"""Small PNG charts drawn with Pillow (no plotting library needed): curves, reliability bars, importances.

Each function writes one PNG and returns its path. Data coordinates map onto a fixed plot box; text uses
Pillow's built-in font, so the charts render the same on any machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))
GREY, BLACK = (170, 170, 170), (0, 0, 0)


@dataclass(frozen=True)
class Frame:
    """A plot box in pixels and the data ranges it shows."""

    box: tuple[int, int, int, int]  # left, top, right, bottom pixels of the plotting area
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Pixel of data point (x, y); y grows upwards."""
        left, top, right, bottom = self.box
        fx = (x - self.xlim[0]) / (self.xlim[1] - self.xlim[0])
        fy = (y - self.ylim[0]) / (self.ylim[1] - self.ylim[0])
        return left + fx * (right - left), bottom - fy * (bottom - top)


def _canvas(width: int, height: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (width, height), "white")
    return image, ImageDraw.Draw(image)


def _axes(draw: ImageDraw.ImageDraw, frame: Frame, *, title: str, xlabel: str, ylabel: str) -> None:
    font = ImageFont.load_default()
    left, top, right, bottom = frame.box
    draw.rectangle(frame.box, outline=BLACK)
    for i in range(6):
        x = frame.xlim[0] + i * (frame.xlim[1] - frame.xlim[0]) / 5
        y = frame.ylim[0] + i * (frame.ylim[1] - frame.ylim[0]) / 5
        px, _ = frame.px(x, frame.ylim[0])
        _, py = frame.px(frame.xlim[0], y)
        draw.line([(px, bottom), (px, bottom + 4)], fill=BLACK)
        draw.text((px - 8, bottom + 6), f"{x:.1f}", fill=BLACK, font=font)
        draw.line([(left - 4, py), (left, py)], fill=BLACK)
        draw.text((left - 30, py - 5), f"{y:.1f}", fill=BLACK, font=font)
    draw.text((left, 8), title, fill=BLACK, font=font)
    draw.text(((left + right) / 2 - 3 * len(xlabel), bottom + 22), xlabel, fill=BLACK, font=font)
    draw.text((8, top - 22), ylabel, fill=BLACK, font=font)


def curves_png(path: Path | str, curves: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str,
               xlabel: str, ylabel: str, diagonal: bool = True) -> Path:
    """Lines on [0, 1] x [0, 1] (e.g. ROC curves), one colour each, with a legend."""
    image, draw = _canvas(520, 490)
    frame = Frame((60, 50, 500, 430), (0.0, 1.0), (0.0, 1.0))
    _axes(draw, frame, title=title, xlabel=xlabel, ylabel=ylabel)
    if diagonal:
        draw.line([frame.px(0, 0), frame.px(1, 1)], fill=GREY)
    for i, (name, (x, y)) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        points = [frame.px(float(a), float(b)) for a, b in zip(x, y)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((frame.box[2] - 200, frame.box[3] - 18 * (i + 1)), name, fill=colour)
    return _save(image, path)


def reliability_png(path: Path | str, mean_p: np.ndarray, rate: np.ndarray, counts: np.ndarray, *,
                    title: str) -> Path:
    """Reliability diagram: observed fake rate per probability bin (bars) against the diagonal."""
    image, draw = _canvas(520, 490)
    frame = Frame((60, 50, 500, 430), (0.0, 1.0), (0.0, 1.0))
    _axes(draw, frame, title=title, xlabel="predicted P(fake)", ylabel="observed fake rate")
    n_bins = len(counts)
    for i in range(n_bins):
        if counts[i] == 0:
            continue
        x0, y0 = frame.px(i / n_bins, 0.0)
        x1, y1 = frame.px((i + 1) / n_bins, float(rate[i]))
        draw.rectangle([x0 + 1, y1, x1 - 1, y0], fill=(158, 202, 225), outline=COLOURS[0])
        draw.ellipse([*(c - 3 for c in frame.px(float(mean_p[i]), float(rate[i]))),
                      *(c + 3 for c in frame.px(float(mean_p[i]), float(rate[i])))], fill=COLOURS[1])
    draw.line([frame.px(0, 0), frame.px(1, 1)], fill=GREY, width=1)
    return _save(image, path)


def bars_png(path: Path | str, labels: Sequence[str], values: Sequence[float], *, title: str,
             top: int = 25) -> Path:
    """Horizontal bars of the ``top`` largest positive values (e.g. feature importances), largest first."""
    values = np.asarray(values, dtype=np.float64)
    order = [i for i in np.argsort(-values, kind="stable")[:top] if values[i] > 0]
    height = 60 + 18 * max(len(order), 1)
    image, draw = _canvas(640, height)
    draw.text((10, 10), title, fill=BLACK)
    largest = max(float(np.max(values)) if len(values) else 0.0, 1e-12)
    for row, i in enumerate(order):
        y = 40 + 18 * row
        width = 360 * float(values[i]) / largest
        draw.text((10, y), str(labels[i])[:32], fill=BLACK)
        draw.rectangle([220, y + 2, 220 + max(width, 1), y + 13], fill=COLOURS[0])
        draw.text((226 + width, y), f"{float(values[i]):.3g}", fill=BLACK)
    return _save(image, path)


def _save(image: Image.Image, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path
