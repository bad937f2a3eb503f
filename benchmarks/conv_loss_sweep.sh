#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The 12,000-image MNIST subset runs behind the "mini-batch Adam" table of BENCHMARKS.md
# (conv section): 4 epochs each, 10,000 training / 2,000 validation images, seed 0.
# Usage: bash benchmarks/conv_loss_sweep.sh DATA_DIR [OUT]
set -euo pipefail
data="${1:?give the folder holding mnist/}"
out="${2:-runs-conv-sweep}"
export NUMBA_NUM_THREADS=1
run() {
    name=$1; shift
    nice -n 10 firstspike train --dataset mnist --data-dir "$data" --train-limit 12000 --val-size 2000 \
        --arch 28x28-c8k5-p2-c16k5-p2-fc10 --init che --init-high 1 --eta-alpha 0 --optimizer adam \
        --gamma 1 --sampling permutation --epochs 4 --quiet --out "$out/$name" "$@"
}
run a --eta 0.003 --loss ce+hw
run b --eta 0.003 --loss hw
run c --eta 0.01 --loss ce+hw
run d --eta 0.003 --loss ce+hw --hw-scale 4
run e --eta 0.001 --loss ce+hw
run f --eta 0.01 --loss ce+hw --ce-weight 0.25 --hw-scale 1
run g --eta 0.01 --loss hw --hw-scale 1
run h --eta 0.01 --loss ce+hw --ce-weight 0.25 --hw-scale 1 --init-fire 0.5
run i --eta 0.01 --loss relative
run j --eta 0.01 --loss ce+hw --ce-weight 0.25 --hw-scale 1 --fire-reg 1 --fire-band 0.3 0.3
run n --eta 0.01 --loss ce+hw --fire-reg 1 --fire-band 0.05 0.2    # table: first 3 epochs
run o --eta 0.01 --loss hw --hw-scale 1 --fire-reg 1 --fire-band 0.05 0.3    # table: first epoch
run t1 --eta 0.003 --loss ce --tau 8
