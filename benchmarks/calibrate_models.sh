#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Threshold calibration of the conv models as trained (models/*-uncalibrated.npz) on their own validation
# split (session 12), then the test accuracy of both under both rules. Writes OUT/<name>.npz,
# OUT/<name>.png (output-threshold scan) and OUT/<name>.log. Committed files and where they come from:
#   models/conv-mnist.npz = OUT/conv-mnist-wf600-shift-e60.npz (session 18; session 16's is
#   models/conv-mnist-wf600.npz, session 14's models/conv-mnist-wide60-shift.npz = OUT/<the same name>.npz),
#   models/conv-mnist-wf600-s1.npz,
#   conv-mnist-wf600-e60.npz, conv-mnist-wf600-s1-e60.npz (session 16), conv-mnist-wf600-s2.npz,
#   conv-mnist-wk1000.npz, conv-mnist-wf600-shift.npz (session 17), conv-mnist-wf600-shift-e60.npz,
#   conv-mnist-wf600-shift-s1.npz (session 18), conv-fashion-mnist-fc600-eta1-e60.npz (session 19),
#   fc600-fc600-che-sur-shift-mnist.npz, conv-fashion-mnist-c32km.npz, conv-fashion-mnist-c32km-e49.npz (session 21)
#   = OUT/<the same name>.npz,
#   models/conv-mnist-wide60.npz,
#   models/conv-mnist-wide90.npz (session 14), models/conv-mnist-wide.npz (session 13),
#   models/conv-mnist-sur05.npz, models/conv-mnist-fc600.npz = OUT/<the same name>.npz;
#   models/conv-fashion-mnist.npz = OUT/conv-fashion-mnist-fc600-e90.npz (session 15),
#   models/conv-fashion-mnist-fc600-e60.npz (session 14), models/conv-mnist-wide-s1.npz and
#   models/conv-mnist-wide90-shift.npz (session 15) = OUT/<the same name>.npz,
#   models/conv-fashion-mnist-fc600.npz (session 13) and -fc600-e15.npz = OUT/<the same name>.npz;
#   models/conv-fashion-mnist-fo60.npz = OUT/conv-fashion-mnist.npz (OUT/conv-mnist.npz is MO60 calibrated).
# Usage: bash benchmarks/calibrate_models.sh DATA_DIR [OUT] [MODEL ...]   (default: the three conv models)
set -euo pipefail
data="${1:?give the folder holding mnist/ and fashion-mnist/}"
out="${2:-runs-calibrate}"
shift $(( $# > 1 ? 2 : 1 ))
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(models/conv-mnist-uncalibrated.npz models/conv-mnist-fc600-uncalibrated.npz
                                  models/conv-fashion-mnist-fo60-uncalibrated.npz)
export NUMBA_NUM_THREADS=1
mkdir -p "$out"
pairs=()
dataset_of() { python -c "from firstspike.model.conv_network import load_model; print(load_model('$1').meta['dataset'])"; }
# calib MODEL NAME [calibrate options]: writes OUT/NAME.{npz,png,log} and adds OUT/NAME.npz to the table
calib() {
    local model=$1 name=$2
    shift 2
    nice -n 10 firstspike calibrate --model "$model" --data-dir "$data" --layers all "$@" \
        --out "$out/$name.npz" --plot "$out/$name.png" > "$out/$name.log"
    tail -1 "$out/$name.log"
    pairs+=("$out/$name.npz:$(dataset_of "$model")")
}
for model in "${models[@]}"; do
    name=$(basename "$model" .npz)
    pairs+=("$model:$(dataset_of "$model")")
    calib "$model" "${name%-uncalibrated}" --rounds 2
done
if [[ $# -eq 0 ]]; then
    # one sweep each: models/conv-mnist-sur05.npz (run 15-MO30-sur05 of conv_recipe_sweep.sh s12);
    # conv-mnist-wide60-shift (run 29zz-MWft15-shift of conv_recipe_sweep.sh s14; models/conv-mnist until s16);
    # conv-mnist-wide60 (run 29-MW30r60-sur05 of s14); conv-mnist-wide90 (run 33-MW60r90-sur05 of s14);
    # conv-mnist-wide (run 21-MW30-sur05 of s13); conv-fashion-mnist-fc600-e60 (run 28-FS30r60-sur05 of s14;
    # models/conv-fashion-mnist in s14); conv-fashion-mnist-fc600 (run 22-FS30-sur05 of s13);
    # conv-fashion-mnist-fc600-e15 (run 20-FS15-sur05); the FC nets of the conv trainer's recipe with Che init
    # (runs 26-FCM30-che, 27-FCF30-che of s14) and with the BS4NN init (31-FCM30-bs4nn; only their
    # trained files are committed); session 15 (conv_recipe_sweep.sh s15): conv-fashion-mnist-fc600-e90
    # (run 34-FS60r90-sur05) = models/conv-fashion-mnist.npz, conv-mnist-wide-s1 (35-MW30-s1-sur05),
    # conv-mnist-wide90-shift (38-MW90ft20-shift), fc600-che-real-mnist (40-FCM60-che-real),
    # conv-fashion-mnist-c32-e15 (39c-FW15-c32), conv-fashion-mnist-fc600-e90-flip (42-FSft15-flip),
    # fc1000-che-real-fashion-mnist (41-FCF40-che-real); session 16 (s16): conv-mnist-wf600 (43-MWF40;
    # models/conv-mnist in s16-s17), conv-mnist-wf600-s1 (45-MWF40-s1), conv-mnist-wf600-e60 (46-MWF40r60),
    # conv-mnist-wf600-s1-e60 (47-MWF40r60-s1); session 17 (s17): conv-mnist-wf600-s2 (50-MWF40-s2),
    # conv-mnist-wk1000 (51-MWK40), conv-mnist-wf600-shift (52-MWF40-shift); session 18 (s18):
    # conv-mnist-wf600-shift-e60 (53-MWF40r60-shift) = models/conv-mnist.npz, conv-mnist-wf600-shift-s1
    # (54-MWF40-shift-s1); session 19 (s19): conv-fashion-mnist-fc600-eta1-e60 (77-FS30r60-eta1); session 21
    # (s21): fc600-fc600-che-sur-shift-mnist (92-FF2M40-shift), conv-fashion-mnist-c32km (93-FS30-c32km),
    # conv-fashion-mnist-c32km-e49 (97-FS30r60-c32km, stopped after epoch 49)
    for name in conv-mnist-sur05 conv-mnist-wide conv-mnist-wide60 conv-mnist-wide60-shift conv-mnist-wide90 \
                conv-fashion-mnist-fc600 conv-fashion-mnist-fc600-e15 conv-fashion-mnist-fc600-e60 \
                fc600-che-mnist fc600-bs4nn-init-mnist fc1000-che-fashion-mnist \
                conv-fashion-mnist-fc600-e90 conv-mnist-wide-s1 conv-mnist-wide90-shift fc600-che-real-mnist \
                conv-fashion-mnist-c32-e15 conv-fashion-mnist-fc600-e90-flip fc1000-che-real-fashion-mnist \
                conv-mnist-wf600 conv-mnist-wf600-s1 conv-mnist-wf600-e60 conv-mnist-wf600-s1-e60 \
                conv-mnist-wf600-s2 conv-mnist-wk1000 conv-mnist-wf600-shift conv-mnist-wf600-shift-e60 \
                conv-mnist-wf600-shift-s1 conv-fashion-mnist-fc600-eta1-e60 \
                fc600-fc600-che-sur-shift-mnist conv-fashion-mnist-c32km conv-fashion-mnist-c32km-e49; do
        pairs+=("models/$name-uncalibrated.npz:$(dataset_of "models/$name-uncalibrated.npz")")
        calib "models/$name-uncalibrated.npz" "$name"
    done
    # the latency-budget row: conv-mnist with its mean decision step kept within 60 (one sweep)
    calib models/conv-mnist-uncalibrated.npz conv-mnist-step60 --max-step 60
fi
# (the MO15 figure of the session-12 A/B section: firstspike calibrate --model RUNS/MO15/model.npz
#  --layers all --data-dir DATA --out MO15.npz, RUNS = the OUT of conv_recipe_sweep.sh ... fit)
python "$(dirname "$0")/accuracy.py" --data-dir "$data" "${pairs[@]}"
