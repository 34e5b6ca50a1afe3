#!/usr/bin/env bash
# Trains the model that ships inside the package (avdetect/model), end to end with the workflow users
# follow: prepare -> extract -> variants -> folds -> train visual/audio -> sync features -> fit-stacker.
# Data: ../shared/data (real faces, voices and talking heads, their pseudo-fakes, its few labelled fakes).
#
#   data/shipped/train.sh [WORK_DIR]        # default out/shipped; resumable: finished steps are kept
#
# Budget knobs (environment): FOLDS (3), VIS_EPOCHS (2), VIS_STEPS (30), AUD_EPOCHS (3), AUD_STEPS (60).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${AVDETECT_SHARED_DATA:-$(cd .. && pwd)/shared/data}
W=${1:-out/shipped}
A=".venv/bin/avdetect"
FOLDS=${FOLDS:-3}
mkdir -p "$W"

$A prepare folder "$SHARED" --csv "$SHARED/MANIFEST.csv" -o "$W/base.csv"
$A extract "$W/base.csv" -o "$W/cache"
$A variants "$W/base.csv" --cache "$W/cache" -o "$W/all0.csv"
# two more draws of the video-level kinds: the few real talking videos give few sync/dub/blend fakes
$A variants "$W/all0.csv" --cache "$W/cache" --kinds shift,dub,blend --seed 1 -o "$W/all1.csv"
$A variants "$W/all1.csv" --cache "$W/cache" --kinds shift,dub,blend --seed 2 -o "$W/all.csv"
$A folds "$W/all.csv" -k "$FOLDS" -o "$W/folds.csv"
$A train visual --manifest "$W/all.csv" --folds "$W/folds.csv" --cache "$W/cache" -o "$W/runs/visual" \
    --epochs "${VIS_EPOCHS:-2}" --steps-per-epoch "${VIS_STEPS:-30}" --refit --threads 2
$A train audio --manifest "$W/all.csv" --folds "$W/folds.csv" --cache "$W/cache" -o "$W/runs/audio" \
    --epochs "${AUD_EPOCHS:-3}" --steps-per-epoch "${AUD_STEPS:-60}" --refit --threads 2
$A sync-features "$W/all.csv" --cache "$W/cache" -o "$W/runs/sync/features.csv"
$A fit-stacker --oof "$W/runs" --folds "$W/folds.csv" --manifest "$W/all.csv" -o "$W/model" \
    --visual-model "$W/runs/visual/refit/model.json" --audio-model "$W/runs/audio/refit/model.json" \
    --cache "$W/cache"
echo "bundle: $W/model (copy it to avdetect/model to ship it)"
