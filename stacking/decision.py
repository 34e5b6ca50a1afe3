"""The verdict: real, fake or inconclusive, from a calibrated P(fake) and a band fitted on held-out data.

A single 0.5 threshold forces a call on every video, and log loss and users both punish a confident
wrong one. `fit_band` picks, on out-of-fold probabilities, the widest region of confident calls whose
measured error stays within ``max_error`` for each decided verdict: among videos called real, at most
that share is fake; among videos called fake, at most that share is real. Between the two thresholds
the verdict is "inconclusive" and the report says which modality pushed it where.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

REAL, FAKE, INCONCLUSIVE = "real", "fake", "inconclusive"
VERDICTS = (REAL, FAKE, INCONCLUSIVE)
DEFAULT_MAX_ERROR = 0.05  # each decided verdict's error rate on held-out videos


@dataclass(frozen=True)
class DecisionBand:
    """Thresholds on P(fake) and what they achieved on the held-out data they were chosen on."""

    low: float  # P(fake) below this: "real"
    high: float  # P(fake) at or above this: "fake"; low <= 0.5 <= high
    max_error: float  # the error rate each decided verdict was held to
    real_error: float = float("nan")  # share of fakes among the held-out videos called real
    fake_error: float = float("nan")  # share of reals among those called fake
    inconclusive_rate: float = float("nan")  # share of held-out videos left inconclusive
    n: int = 0  # held-out videos it was fitted on

    def verdicts(self, p: np.ndarray) -> np.ndarray:
        """str (n,) "real", "fake" or "inconclusive" (also for NaN, a video nothing could be said of)."""
        p = np.asarray(p, dtype=np.float64)
        out = np.full(p.shape, INCONCLUSIVE, dtype=object)
        out[p < self.low] = REAL
        out[p >= self.high] = FAKE
        return out.astype(str)

    def to_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionBand:
        return cls(**{k: float("nan") if v is None else v for k, v in raw.items()})


# A bundle fitted before bands existed decides at 0.5, with no inconclusive region (stated, not silent:
# its `max_error` is NaN and the report says so).
THRESHOLD_ONLY = DecisionBand(low=0.5, high=0.5, max_error=float("nan"))


def fit_band(y: np.ndarray, p: np.ndarray, *, max_error: float = 0.05,
             sample_weight: np.ndarray | None = None) -> DecisionBand:
    """The band of held-out labels ``y`` (0/1) and calibrated probabilities ``p``; NaN rows left out.

    ``high`` is the lowest threshold at or above 0.5 whose "fake" calls are at most ``max_error`` real,
    ``low`` the highest at or below 0.5 whose "real" calls are at most ``max_error`` fake; with no such
    threshold the side never decides (1.0 / 0.0 + inconclusive). Shares are weighted by ``sample_weight``
    when given, e.g. `stacking.metrics.equal_class_weights`: the error rates at the prior a class-balanced
    stacker is calibrated to, not at the share of fakes the held-out set happens to have.
    """
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    ok = ~np.isnan(p)
    y, p, w = y[ok], p[ok], w[ok]
    high = _lowest_safe_high(y, p, w, max_error)
    low = _highest_safe_low(y, p, w, max_error)
    band = DecisionBand(low=low, high=high, max_error=max_error)
    called = band.verdicts(p)
    return DecisionBand(low=low, high=high, max_error=max_error,
                        real_error=_share(y[called == REAL] == 1, w[called == REAL]),
                        fake_error=_share(y[called == FAKE] == 0, w[called == FAKE]),
                        inconclusive_rate=_share(called == INCONCLUSIVE, w), n=int(len(p)))


def _lowest_safe_high(y: np.ndarray, p: np.ndarray, w: np.ndarray, max_error: float) -> float:
    candidates = np.unique(np.concatenate([[0.5], p[p >= 0.5]]))
    for t in candidates:
        called = p >= t
        if called.any() and _share(y[called] == 0, w[called]) <= max_error:
            return float(t)
    return 1.0 + 1e-9  # nothing is ever called fake


def _highest_safe_low(y: np.ndarray, p: np.ndarray, w: np.ndarray, max_error: float) -> float:
    candidates = np.unique(np.concatenate([[0.5], np.nextafter(p[p < 0.5], 1.0)]))[::-1]
    for t in candidates:
        called = p < t
        if called.any() and _share(y[called] == 1, w[called]) <= max_error:
            return float(t)
    return 0.0  # nothing is ever called real


def _share(hit: np.ndarray, w: np.ndarray) -> float:
    """Weighted share of True in ``hit``; NaN when empty."""
    return float(np.average(hit, weights=w)) if len(hit) else float("nan")


@dataclass(frozen=True)
class BinnedBand:
    """One band per bin of an evidence column (e.g. seconds of speech), each fitted on the held-out rows of its
    bin with both classes weighing the same there, so that the verdicts on short inputs are held to the error
    on those rows, not only pooled with the long, easy ones (which would pay for them). Like any band, it keeps
    its word best on the rows it was chosen on: `benchmarks/voice_by_length.py` measures it cross-fitted."""

    column: str  # the feature column the bins are of
    edges: tuple[float, ...]  # inner bin edges, ascending: bins [-inf, e0), [e0, e1), ..., [e_last, inf]
    bands: tuple[DecisionBand, ...]  # len(edges) + 1, one per bin

    def band_for(self, value: float) -> DecisionBand:
        """The band of the bin holding ``value``; a NaN value (no evidence measured) takes the first bin's."""
        return self.bands[int(bin_index(self.edges, value))]

    def verdicts(self, p: np.ndarray, values: np.ndarray) -> np.ndarray:
        """str (n,) the verdict of each P(fake) in ``p`` by the band of the bin of its row's ``values``."""
        p, bins = np.asarray(p, dtype=np.float64), bin_index(self.edges, values)
        out = np.full(p.shape, INCONCLUSIVE, dtype=object)
        for k, band in enumerate(self.bands):
            out[bins == k] = band.verdicts(p[bins == k])
        return out.astype(str)

    def bin_name(self, value: float) -> str:
        """The name of the bin holding ``value`` (`bin_label`)."""
        return self.bin_label(int(bin_index(self.edges, value)))

    def bin_label(self, k: int) -> str:
        """"{column} 2-4" for bin ``k`` ("under 2", "6 or more" at the ends)."""
        if k == 0:
            return f"{self.column} under {self.edges[0]:g}"
        if k == len(self.edges):
            return f"{self.column} {self.edges[-1]:g} or more"
        return f"{self.column} {self.edges[k - 1]:g}-{self.edges[k]:g}"

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "edges": list(self.edges), "bands": [b.to_json() for b in self.bands]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BinnedBand:
        edges, bands = tuple(float(e) for e in raw["edges"]), tuple(DecisionBand.from_json(b) for b in raw["bands"])
        if len(bands) != len(edges) + 1 or list(edges) != sorted(set(edges)):
            raise ValueError(f"{len(edges)} ascending edges need {len(edges) + 1} bands, got {len(bands)}")
        return cls(str(raw["column"]), edges, bands)


def bin_index(edges: tuple[float, ...], values: float | np.ndarray) -> np.ndarray:
    """int64 bin of each value among ``edges`` (ascending inner edges: bin k holds [edges[k-1], edges[k])); a NaN
    or None value, no evidence measured, is in bin 0."""
    values = np.asarray(values if values is not None else np.nan, dtype=np.float64)
    return np.where(np.isnan(values), 0, np.searchsorted(edges, np.nan_to_num(values), side="right")).astype(np.int64)


def fit_binned_band(y: np.ndarray, p: np.ndarray, values: np.ndarray, *, column: str, edges: tuple[float, ...],
                    max_error: float = 0.05, equal_classes: bool = True) -> BinnedBand:
    """`fit_band` within each bin of ``values`` (the rows' ``column``; NaN in the first bin), each held to
    ``max_error`` with both classes weighing the same within the bin when ``equal_classes``.

    Raises:
        ValueError: no edges, or edges not ascending.
    """
    from stacking.metrics import equal_class_weights

    edges = tuple(float(e) for e in edges)
    if not edges or list(edges) != sorted(set(edges)):
        raise ValueError(f"bin edges must be ascending and distinct, got {edges}")
    bins = bin_index(edges, values)
    bands = []
    for k in range(len(edges) + 1):
        inside = bins == k
        weights = equal_class_weights(y[inside]) if equal_classes else None
        bands.append(fit_band(y[inside], p[inside], max_error=max_error, sample_weight=weights))
    return BinnedBand(column, edges, tuple(bands))


def why(p_fake: float, modalities: dict[str, float], band: DecisionBand) -> str:
    """One line saying which modality pushed the verdict, e.g. "voice 0.91, lip-sync 0.64 say fake"."""
    present = {name: p for name, p in modalities.items() if p is not None and not np.isnan(p)}
    if p_fake is None or np.isnan(p_fake):
        return "no score"
    ranked = sorted(present.items(), key=lambda kv: -kv[1])
    pushing = [f"{name} {p:.2f}" for name, p in ranked if p >= 0.5]
    verdict = band.verdicts(np.array([p_fake]))[0]
    if verdict == FAKE:
        return f"{', '.join(pushing)} say fake" if pushing else "only the modalities together say fake"
    if verdict == REAL:
        return "no modality says fake" if not pushing else f"{', '.join(pushing)} lean fake, outweighed"
    top = ", ".join(f"{name} {p:.2f}" for name, p in ranked[:2]) or "nothing"
    if band.low <= 0 and band.high > 1:
        return f"P(fake) {p_fake:.2f}, but nothing here is decided (no held-out data); highest: {top}"
    if band.low <= 0:
        return f"P(fake) {p_fake:.2f} is under {band.high:.2f}, and nothing here is called real; highest: {top}"
    if band.high > 1:
        return f"P(fake) {p_fake:.2f} is over {band.low:.2f}, and nothing here is called fake; highest: {top}"
    return f"P(fake) {p_fake:.2f} lies between {band.low:.2f} and {band.high:.2f}; highest: {top}"
