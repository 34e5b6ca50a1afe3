"""The stacker's cross-validation report: metrics against the frame-mean baseline, charts, JSON.

Every number comes from out-of-fold predictions (the booster and its calibrator cross-fitted over the
shared folds), so the report estimates performance on unseen source videos and actors. The baseline
is the plain mean of all frame probabilities, which is what the stacker has to beat to earn its place.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_curve

from stacking.bundle import json_ready
from stacking.metrics import Metrics, by_group, equal_class_weights, reliability_curve, summarize
from stacking.plots import bars_png, curves_png, reliability_png
from stacking.stacker import LGBMStacker

BASELINE = "vis_all_mean"  # feature holding the plain mean of frame probabilities


@dataclass(frozen=True)
class CvReport:
    """Out-of-fold metrics of a fitted stacker."""

    # "stacker", "frame_mean", "stacker_same_rows" (rows with a face), "stacker_equal_classes" (both classes
    # weigh the same: the prior a class-balanced stacker is calibrated to)
    metrics: dict[str, Metrics]
    verdicts: dict[str, Metrics]  # modality -> its verdict against its own label, where known
    by_group: dict[str, dict[str, Metrics]]  # grouping (e.g. "dataset") -> value -> stacker metrics
    calibration: dict[str, Any]  # method chosen and each method's held-out log loss
    importance: dict[str, float]  # feature -> total gain in the final booster

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "verdicts": {k: m.to_dict() for k, m in self.verdicts.items()},
            "by_group": {g: {k: m.to_dict() for k, m in d.items()} for g, d in self.by_group.items()},
            "calibration": self.calibration,
            "importance": self.importance,
        }


def cv_report(stacker: LGBMStacker, y: np.ndarray, *, baseline: np.ndarray,
              modality_labels: dict[str, np.ndarray] | None = None,
              groups: dict[str, Sequence[str]] | None = None) -> CvReport:
    """Summarises a fitted stacker's out-of-fold predictions.

    Args:
        stacker: fitted on the same rows as ``y``.
        y: int (n,) 0/1 labels.
        baseline: float (n,) the baseline score (NaN where it has none, e.g. no face).
        modality_labels: "visual"/"audio"/"sync" -> int (n,) 1/0/-1; a verdict is scored only where
            its label is known (against ``y`` for a modality not given).
        groups: grouping name -> (n,) values, e.g. {"dataset": [...]}.
    """
    p = stacker.oof_proba_
    has = ~np.isnan(baseline)
    metrics = {"stacker": summarize(y, p), "frame_mean": summarize(y, baseline),
               "stacker_same_rows": summarize(y[has], p[has]),
               "stacker_equal_classes": summarize(y, p, equal_classes=True)}
    verdicts = {}
    for modality, oof in stacker.oof_verdicts_.items():
        labels = np.asarray((modality_labels or {}).get(modality, y), dtype=np.int64)
        known = labels >= 0
        verdicts[modality] = summarize(labels[known], oof[known])
    calibration = {"method": None if stacker.calibrator_ is None else stacker.calibrator_.method_,
                   "held_out_log_loss": {} if stacker.calibrator_ is None
                   else stacker.calibrator_.held_out_log_loss_}
    return CvReport(metrics, verdicts, {g: by_group(y, p, v) for g, v in (groups or {}).items()},
                    calibration, stacker.feature_importance("gain"))


def score_plots(directory: Path | str, scored: dict[str, tuple[np.ndarray, np.ndarray]], *,
                calibrated: str, equal_classes: bool = False) -> list[Path]:
    """``roc.png`` of every (labels, scores) pair and ``reliability.png`` of ``scored[calibrated]``.

    NaN scores (a modality that was absent) and labels below 0 (unknown) are left out.
    """
    directory = Path(directory)
    curves = {}
    for name, (y, p) in scored.items():
        ok = ~np.isnan(p) & (y >= 0)
        if len(np.unique(y[ok])) == 2:
            fpr, tpr, _ = roc_curve(y[ok], p[ok])
            curves[name] = (fpr, tpr)
    roc = curves_png(directory / "roc.png", curves, title="ROC",
                     xlabel="false-positive rate", ylabel="true-positive rate")
    y, p = scored[calibrated]
    ok = ~np.isnan(p) & (y >= 0)
    weights = equal_class_weights(y[ok]) if equal_classes else None
    reliability = reliability_png(directory / "reliability.png",
                                  *reliability_curve(y[ok], p[ok], sample_weight=weights),
                                  title=f"reliability of {calibrated} (15 bins"
                                  f"{', classes weighed equally' if equal_classes else ''})")
    return [roc, reliability]


def write_report(directory: Path | str, report: CvReport, y: np.ndarray, *, p: np.ndarray,
                 baseline: np.ndarray, extra: dict[str, Any] | None = None, equal_classes: bool = False) -> list[Path]:
    """Writes ``report.json``, ``roc.png``, ``reliability.png`` (with `equal_classes`, both classes weigh the
    same in it: the prior a class-balanced stacker is calibrated to) and ``importance.png``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(json_ready({**report.to_json(), **(extra or {})}), indent=2) + "\n",
                    encoding="utf-8")
    plots = score_plots(directory, {"stacker": (y, p), "frame mean": (y, baseline)}, calibrated="stacker",
                        equal_classes=equal_classes)
    names = list(report.importance)
    importance = bars_png(directory / "importance.png", names, [report.importance[n] for n in names],
                          title="stacker feature importance (total gain)")
    return [path, *plots, importance]


def write_scores(path: Path | str, videos: Sequence[str], columns: dict[str, np.ndarray]) -> Path:
    """A CSV ``path,<columns...>`` with a row per video; NaN is written as an empty cell."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *columns])
        for i, video in enumerate(videos):
            writer.writerow([video, *(_cell(values[i]) for values in columns.values())])
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{float(value):.6g}"
    return str(value)
