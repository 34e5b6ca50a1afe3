#!/usr/bin/env bash
# Carries the recipe's training stages from one machine (or session) to the next through the repository:
# the full recipe takes longer than a 2-core machine is held, and WORK_DIR (caches, runs) does not outlive it.
#
#   data/shipped/progress.sh save    WORK_DIR STAGE KEY   # WORK_DIR's outputs of STAGE -> data/shipped/progress/STAGE
#   data/shipped/progress.sh restore WORK_DIR STAGE KEY   # back into WORK_DIR
#
# STAGE is visual, audio or sync. Only what the later steps read is kept, never data:
# - visual, audio: the out-of-fold table and the refit model of the finished branch; of one still training,
#   each finished fold's predictions (predictions.npz, curves.json, model.json: not its weights, which
#   nothing after the fold reads), so that `avdetect train` resumes after the last finished fold;
# - sync: the out-of-fold learnt-sync features and the net that ships; while training, the finished fold nets.
# `restore` exits 0 when the stage is finished (the recipe skips it), 1 when it is not (the recipe trains it,
# from the restored folds if any). KEY names the stage's settings (its budget knobs); a saved stage also records
# the sha256 of WORK_DIR's all.csv and folds.csv, and is restored only when all three match: out-of-fold
# predictions made on other folds or rows would leak into the stacker or miss rows. PROGRESS_DIR (default
# data/shipped/progress) moves the store. `save` replaces a stage saved with the same KEY (a retrain on new
# manifests) but keeps one saved with another (a knob tried, e.g. VIS_PAIRS=1, would otherwise replace the
# shipped model's stage): PROGRESS_REPLACE=1 replaces it anyway. Manifests hold the shared data's absolute
# paths: keep it in the same place to reuse a stage (any checkout folder and WORK_DIR will do).
set -euo pipefail
ACTION=$1 W=$(cd "$2" && pwd) STAGE=$3 KEY=$4
P=${PROGRESS_DIR:-$(cd "$(dirname "$0")" && pwd)/progress}/$STAGE

finished_files() {  # what a finished stage keeps, relative to WORK_DIR
  case $STAGE in
    visual|audio)  # train_config.json: the visual run's crops per track go into the bundle's scoring spec
      echo "runs/$STAGE/oof.csv runs/$STAGE/metrics.json runs/$STAGE/refit"
      if [ -f "$W/runs/$STAGE/train_config.json" ]; then echo "runs/$STAGE/train_config.json"; fi ;;
    sync) echo "runs/features/sync_learnt.csv runs/sync_all/sync.json runs/sync_all/sync.safetensors" ;;
  esac
}

finished() {  # is STAGE finished in folder $1?
  case $STAGE in
    visual|audio) [ -f "$1/runs/$STAGE/oof.csv" ] && [ -f "$1/runs/$STAGE/refit/samples.npz" ] ;;
    sync) [ -f "$1/runs/features/sync_learnt.csv" ] && [ -f "$1/runs/sync_all/sync.json" ] ;;
  esac
}

fold_files() {  # the finished folds of a stage still training, relative to WORK_DIR
  local d
  case $STAGE in
    visual|audio)
      for d in "$W/runs/$STAGE"/fold*; do
        if [ -f "$d/curves.json" ] && [ -f "$d/predictions.npz" ] && [ -f "$d/model.json" ]; then
          echo "${d#"$W"/}/predictions.npz ${d#"$W"/}/curves.json ${d#"$W"/}/model.json"
        fi
      done ;;
    sync)
      for d in "$W/runs/sync_folds"/fold*/sync; do
        if [ -f "$d/sync.json" ]; then echo "${d#"$W"/}/sync.json ${d#"$W"/}/sync.safetensors"; fi
      done ;;
  esac
}

stamp() {  # the settings and inputs a stage's outputs belong to
  echo "key: $KEY"
  (cd "$W" && sha256sum all.csv folds.csv)
}

case $STAGE in
  visual|audio|sync) ;;
  *) echo "progress.sh: unknown stage '$STAGE' (visual, audio, sync)" >&2; exit 2 ;;
esac

case $ACTION in
  save)
    if [ -f "$P/STAMP" ] && [ "${PROGRESS_REPLACE:-0}" != 1 ] && ! grep -qxF "key: $KEY" "$P/STAMP"; then
      echo "progress.sh: kept $P, saved with other settings ($(head -n 1 "$P/STAMP")); this $STAGE (key: $KEY)" \
           "is not saved over it: give the run a PROGRESS_DIR of its own, or PROGRESS_REPLACE=1 to replace it" >&2
      exit 0
    fi
    if finished "$W"; then FILES=$(finished_files); else FILES=$(fold_files); fi
    rm -rf "$P"
    if [ -z "$FILES" ]; then
      echo "progress.sh: nothing of $STAGE to save"
      exit 0
    fi
    mkdir -p "$P"
    # shellcheck disable=SC2086  # FILES is a list of paths without spaces
    (cd "$W" && cp -r --parents $FILES "$P/")
    stamp > "$P/STAMP"
    if finished "$P"; then state=finished; else state="$(echo "$FILES" | wc -l) finished fold(s)"; fi
    echo "progress.sh: saved $STAGE ($state) to $P ($(du -sh "$P" | cut -f1))" ;;
  restore)
    if [ ! -f "$P/STAMP" ]; then
      exit 1
    fi
    if ! stamp | cmp -s - "$P/STAMP"; then
      echo "progress.sh: $P was made with other settings or manifests; training $STAGE again" >&2
      diff <(stamp) "$P/STAMP" >&2 || true
      exit 1
    fi
    (cd "$P" && find runs -type f | xargs cp --parents -t "$W/")
    if finished "$P"; then
      echo "progress.sh: restored $STAGE from $P"
    else
      echo "progress.sh: restored the finished folds of $STAGE from $P; training the rest"
      exit 1
    fi ;;
  *) echo "progress.sh: unknown action '$ACTION' (save, restore)" >&2; exit 2 ;;
esac
