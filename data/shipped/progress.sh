#!/usr/bin/env bash
# Carries the recipe's finished training stages from one machine (or session) to the next through the
# repository: the full recipe takes longer than a 2-core machine is held, and WORK_DIR (caches, runs)
# does not outlive it.
#
#   data/shipped/progress.sh save    WORK_DIR STAGE KEY   # WORK_DIR's outputs of STAGE -> data/shipped/progress/STAGE
#   data/shipped/progress.sh restore WORK_DIR STAGE KEY   # back into WORK_DIR; exit 1 when there is none for KEY
#
# STAGE is visual, audio or sync. A stage keeps only what the later steps read (the out-of-fold table and
# the refit model of a branch; the out-of-fold learnt-sync features and the shipped sync net), never data.
# KEY names the stage's settings (its budget knobs); the saved stage also records the sha256 of WORK_DIR's
# all.csv and folds.csv. A stage is restored only when all three match: out-of-fold predictions made on
# other folds or other rows would leak into the stacker or miss rows, so they are trained again instead.
# PROGRESS_DIR (default data/shipped/progress) moves the store. Manifests hold absolute paths: the recipe must run in the same checkout folder to reuse a stage.
set -euo pipefail
ACTION=$1 W=$(cd "$2" && pwd) STAGE=$3 KEY=$4
P=${PROGRESS_DIR:-$(cd "$(dirname "$0")" && pwd)/progress}/$STAGE

case $STAGE in
  visual|audio) FILES="runs/$STAGE/oof.csv runs/$STAGE/metrics.json runs/$STAGE/refit" ;;
  sync) FILES="runs/features/sync_learnt.csv runs/sync_all/sync.json runs/sync_all/sync.safetensors" ;;
  *) echo "progress.sh: unknown stage '$STAGE' (visual, audio, sync)" >&2; exit 2 ;;
esac

stamp() {  # the settings and inputs a stage's outputs belong to
  echo "key: $KEY"
  (cd "$W" && sha256sum all.csv folds.csv)
}

case $ACTION in
  save)
    rm -rf "$P" && mkdir -p "$P"
    (cd "$W" && cp -r --parents $FILES "$P/")
    stamp > "$P/STAMP"
    echo "progress.sh: saved $STAGE to $P ($(du -sh "$P" | cut -f1))" ;;
  restore)
    if [ ! -f "$P/STAMP" ]; then
      exit 1
    fi
    if ! stamp | cmp -s - "$P/STAMP"; then
      echo "progress.sh: $P was made with other settings or manifests; training $STAGE again" >&2
      diff <(stamp) "$P/STAMP" >&2 || true
      exit 1
    fi
    (cd "$P" && cp -r --parents $FILES "$W/")
    echo "progress.sh: restored $STAGE from $P" ;;
  *) echo "progress.sh: unknown action '$ACTION' (save, restore)" >&2; exit 2 ;;
esac
