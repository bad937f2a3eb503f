#!/usr/bin/env bash
# The training runs behind the committed golden models (models/*.npz) and the figures in
# BENCHMARKS.md. Each run writes checkpoint.npz, model.npz, metrics.json and curve.png into its
# folder and can be resumed with --resume. Usage: bash benchmarks/train_golden_models.sh DATA_DIR [OUT]
set -euo pipefail
data="${1:?give the folder holding mnist/ and fashion-mnist/}"
out="${2:-runs}"
export NUMBA_NUM_THREADS=1
fs() { firstspike train --data-dir "$data" --quiet "$@"; }

# BS4NN exactly as the authors' notebook (gamma 1, eta 0.1, alpha 5, sampling with replacement)
fs --algorithm bs4nn --arch 784-600-10 --dataset mnist --epochs 200 --out "$out/bs4nn-mnist"
# S4NN exactly as S4NN.py (gamma 3, eta 0.2, lambda 1e-6, natural order, dead-neuron reset)
fs --algorithm s4nn --arch 784-400-10 --dataset mnist --epochs 60 --out "$out/s4nn-mnist"
# BS4NN on Fashion-MNIST: hidden threshold 100 (alpha 1) because Fashion images carry ~392 input
# events against MNIST's ~151 (with alpha 5 the hidden layer fires after 21 events and learns little)
fs --algorithm bs4nn --arch 784-600-10 --dataset fashion-mnist --epochs 30 --alpha-init 1 5 --out "$out/bs4nn-fashion-600"
