"""Saving and loading a fitted stacker: text and JSON only, checked against a sha256 manifest.

Nothing is pickled (unpickling runs arbitrary code): the booster is LightGBM's own text model, the
calibrator and the verdicts are their coefficients as JSON, and ``config.json`` carries everything
inference needs to rebuild the exact feature row: the feature names and the aggregation config
(preprocessing travels with the weights, as timm's ``pretrained_cfg`` does). ``manifest.json`` lists the
sha256 of every file; a file that does not match is refused, never half-loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lightgbm import Booster
from lightgbm.basic import LightGBMError

from stacking.aggregate import AggregateConfig
from stacking.calibration import calibrator_from_json, calibrator_to_json
from stacking.decision import THRESHOLD_ONLY, BinnedBand, DecisionBand
from stacking.errors import BundleError
from stacking.stacker import LGBMStacker
from stacking.verdicts import LinearVerdict

FORMAT = "stacking.LGBMStacker"
VERSION = 1
BOOSTER, CALIBRATOR, VERDICTS, CONFIG, MANIFEST = (
    "booster.txt", "calibrator.json", "verdicts.json", "config.json", "manifest.json")
FILES = (BOOSTER, CALIBRATOR, VERDICTS, CONFIG)


@dataclass(frozen=True)
class StackerBundle:
    """A loaded stacker and what is needed to build its input rows."""

    stacker: LGBMStacker  # fitted; without the out-of-fold attributes of the original fit
    aggregate: AggregateConfig  # how per-frame and per-window scores became features
    feature_names: tuple[str, ...]  # (F,) column order of the stacker's input
    extra: dict[str, Any]  # free-form facts saved with it (e.g. CV metrics, data sources)
    band: DecisionBand = THRESHOLD_ONLY  # real / inconclusive / fake thresholds, fitted on held-out rows
    binned: BinnedBand | None = None  # or one band per bin of an evidence column, in place of `band`

    def band_for(self, value: float = float("nan")) -> DecisionBand:
        """The band that decides an input whose evidence column (`binned.column`) is ``value``: its bin's,
        or `band` when the bundle has no bins."""
        return self.band if self.binned is None else self.binned.band_for(value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars made Python and NaN made None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _dump(obj: Any) -> bytes:
    return (json.dumps(json_ready(obj), indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def save_bundle(directory: Path | str, stacker: LGBMStacker, *, aggregate: AggregateConfig,
                extra: dict[str, Any] | None = None, band: DecisionBand | None = None,
                binned: BinnedBand | None = None) -> Path:
    """Writes a fitted ``stacker`` (and its decision band, pooled and perhaps ``binned``) into ``directory``;
    returns the manifest path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "version": VERSION, "params": stacker.get_params(),
              "classes": stacker.classes_.tolist(), "feature_names": list(stacker.feature_names_),
              "aggregate": aggregate.to_dict(), "extra": extra or {}}
    if band is not None:
        config["decision"] = band.to_json()
    if binned is not None:
        config["decision_by"] = binned.to_json()
    contents = {
        BOOSTER: _booster_text(stacker),
        CALIBRATOR: _dump(None if stacker.calibrator_ is None else calibrator_to_json(stacker.calibrator_)),
        VERDICTS: _dump({m: v.to_json() for m, v in stacker.verdicts_.items()}),
        CONFIG: _dump(config),
    }
    for name, data in contents.items():
        (directory / name).write_bytes(data)
    manifest = {"format": FORMAT, "files": {name: sha256(data) for name, data in contents.items()}}
    (directory / MANIFEST).write_bytes(_dump(manifest))
    return directory / MANIFEST


def read_verified(directory: Path | str) -> dict[str, bytes]:
    """The bytes of every bundle file, each checked against the manifest's sha256.

    Raises:
        BundleError: the manifest or a file is missing, or a file's sha256 differs (tampered, or
            corrupted in transit).
    """
    directory = Path(directory)
    manifest = _json(directory / MANIFEST, (directory / MANIFEST).read_bytes()
                     if (directory / MANIFEST).is_file() else None)
    hashes = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(hashes, dict) or set(FILES) - set(hashes):
        raise BundleError(f"{directory / MANIFEST}: must list sha256 hashes of {', '.join(FILES)}")
    contents = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{path}: missing from the stacker bundle; re-run `avdetect fit-stacker`")
        data = path.read_bytes()
        if sha256(data) != hashes[name]:
            raise BundleError(f"{path}: sha256 does not match {MANIFEST}; the file was modified or "
                              "corrupted, refusing to load it (re-copy or re-run `avdetect fit-stacker`)")
        contents[name] = data
    return contents


def _json(path: Path, data: bytes | None) -> Any:
    if data is None:
        raise BundleError(f"{path}: not found; is this a folder written by `avdetect fit-stacker`?")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path}: not valid JSON ({err})") from None


def load_bundle(directory: Path | str) -> StackerBundle:
    """Loads a stacker saved by `save_bundle`, after checking every file's sha256.

    Raises:
        BundleError: a file is missing, modified or malformed, or the files disagree with each other.
    """
    directory = Path(directory)
    contents = read_verified(directory)
    config = _json(directory / CONFIG, contents[CONFIG])
    if not isinstance(config, dict) or config.get("format") != FORMAT or config.get("version") != VERSION:
        raise BundleError(f"{directory / CONFIG}: not a version-{VERSION} {FORMAT} bundle")
    try:
        stacker = _rebuild(config, contents, directory)
        band = DecisionBand.from_json(config["decision"]) if "decision" in config else THRESHOLD_ONLY
        binned = BinnedBand.from_json(config["decision_by"]) if "decision_by" in config else None
        return StackerBundle(stacker, AggregateConfig.from_dict(config["aggregate"]),
                             tuple(config["feature_names"]), dict(config["extra"]), band, binned)
    except (KeyError, TypeError, ValueError) as err:
        raise BundleError(f"{directory}: malformed stacker bundle ({type(err).__name__}: {err})") from None


def _rebuild(config: dict[str, Any], contents: dict[str, bytes], directory: Path) -> LGBMStacker:
    params = dict(config["params"])
    params["monotone"] = tuple((str(pattern), int(sign)) for pattern, sign in params.get("monotone", ()))  # JSON lists
    stacker = LGBMStacker(**params)
    stacker.feature_names_ = tuple(config["feature_names"])
    stacker.n_features_in_ = len(stacker.feature_names_)
    stacker.classes_ = np.asarray(config["classes"])
    stacker.booster_ = _rebuild_booster(stacker, contents[BOOSTER], directory)
    calibrator = _json(directory / CALIBRATOR, contents[CALIBRATOR])
    stacker.calibrator_ = None if calibrator is None else calibrator_from_json(calibrator)
    verdicts = _json(directory / VERDICTS, contents[VERDICTS])
    stacker.verdicts_ = {m: LinearVerdict.from_json(raw) for m, raw in verdicts.items()}
    return stacker


def _rebuild_booster(stacker: LGBMStacker, data: bytes, directory: Path) -> Booster | None:
    """The booster of a stacker whose config is read (None for one without trees, ``score_column``)."""
    if stacker.score_column is not None:
        if stacker.score_column not in stacker.feature_names_:
            raise BundleError(f"{directory / CONFIG}: score column {stacker.score_column!r} is not among its features")
        return None
    booster = _booster(data, directory / BOOSTER)
    if booster.num_feature() != stacker.n_features_in_:
        raise BundleError(f"{directory / BOOSTER}: {booster.num_feature()} features, but "
                          f"{CONFIG} names {stacker.n_features_in_}")
    return booster


def _booster_text(stacker: LGBMStacker) -> bytes:
    """LightGBM's text model; for a stacker without trees (``score_column``), a line saying what stands in for it."""
    if stacker.booster_ is None:
        return f"no trees: the raw score is the column {stacker.score_column} (config.json's score_column)\n".encode()
    return stacker.booster_.model_to_string().encode("utf-8")


def _booster(data: bytes, path: Path) -> Booster:
    try:
        # The verified bytes themselves, not a second read of the file that could differ.
        return Booster(model_str=data.decode("utf-8"))
    except (UnicodeDecodeError, LightGBMError) as err:
        raise BundleError(f"{path}: not a LightGBM text model ({err})") from None
