#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Threshold calibration of the conv models as trained (models/*-uncalibrated.npz) on their own validation
# split (session 12), then the test accuracy of both under both rules. Writes OUT/<name>.npz,
# OUT/<name>.png (output-threshold scan) and OUT/<name>.log. models/conv-mnist.npz = OUT/conv-mnist-wide.npz
# (session 13), models/conv-mnist-sur05.npz = OUT/conv-mnist-sur05.npz, models/conv-fashion-mnist.npz = OUT/conv-fashion-mnist-fc600.npz (session 13; -e15 likewise), models/conv-mnist-fc600.npz =
# OUT/conv-mnist-fc600.npz, models/conv-fashion-mnist-fo60.npz = OUT/conv-fashion-mnist.npz (OUT/conv-mnist.npz
# is MO60 calibrated).
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
for model in "${models[@]}"; do
    name=$(basename "$model" .npz)
    name=${name%-uncalibrated}
    nice -n 10 firstspike calibrate --model "$model" --data-dir "$data" --layers all --rounds 2 \
        --out "$out/$name.npz" --plot "$out/$name.png" > "$out/$name.log"
    tail -1 "$out/$name.log"
    dataset=$(python -c "from firstspike.model.conv_network import load_model; print(load_model('$model').meta['dataset'])")
    pairs+=("$model:$dataset" "$out/$name.npz:$dataset")
done
if [[ $# -eq 0 ]]; then
    # models/conv-mnist-sur05.npz: the surrogate-trained net (run 15-MO30-sur05 of conv_recipe_sweep.sh s12), one sweep
    nice -n 10 firstspike calibrate --model models/conv-mnist-sur05-uncalibrated.npz --data-dir "$data" --layers all \
        --out "$out/conv-mnist-sur05.npz" --plot "$out/conv-mnist-sur05.png" > "$out/conv-mnist-sur05.log"
    tail -1 "$out/conv-mnist-sur05.log"
    pairs+=(models/conv-mnist-sur05-uncalibrated.npz:mnist "$out/conv-mnist-sur05.npz:mnist")
    # models/conv-mnist.npz (session 13): run 21-MW30-sur05 of conv_recipe_sweep.sh s13, one sweep
    nice -n 10 firstspike calibrate --model models/conv-mnist-wide-uncalibrated.npz --data-dir "$data" --layers all \
        --out "$out/conv-mnist-wide.npz" --plot "$out/conv-mnist-wide.png" > "$out/conv-mnist-wide.log"
    tail -1 "$out/conv-mnist-wide.log"
    pairs+=(models/conv-mnist-wide-uncalibrated.npz:mnist "$out/conv-mnist-wide.npz:mnist")
    # models/conv-fashion-mnist.npz (session 13): run 22-FS30-sur05 of conv_recipe_sweep.sh s13, one sweep;
    # models/conv-fashion-mnist-fc600-e15.npz: run 20-FS15-sur05, the same
    for name in conv-fashion-mnist-fc600 conv-fashion-mnist-fc600-e15; do
        nice -n 10 firstspike calibrate --model "models/$name-uncalibrated.npz" --data-dir "$data" --layers all \
            --out "$out/$name.npz" --plot "$out/$name.png" > "$out/$name.log"
        tail -1 "$out/$name.log"
        pairs+=("models/$name-uncalibrated.npz:fashion-mnist" "$out/$name.npz:fashion-mnist")
    done
    # the latency-budget row: conv-mnist with its mean decision step kept within 60 (one sweep)
    nice -n 10 firstspike calibrate --model models/conv-mnist-uncalibrated.npz --data-dir "$data" --layers all \
        --max-step 60 --out "$out/conv-mnist-step60.npz" --plot "$out/conv-mnist-step60.png" > "$out/conv-mnist-step60.log"
    tail -1 "$out/conv-mnist-step60.log"
    pairs+=("$out/conv-mnist-step60.npz:mnist")
fi
# (the MO15 figure of the session-12 A/B section: firstspike calibrate --model RUNS/MO15/model.npz
#  --layers all --data-dir DATA --out MO15.npz, RUNS = the OUT of conv_recipe_sweep.sh ... fit)
python "$(dirname "$0")/accuracy.py" --data-dir "$data" "${pairs[@]}"
