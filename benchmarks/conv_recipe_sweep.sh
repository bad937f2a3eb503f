#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The runs behind the "FC recipe on conv layers" tables of BENCHMARKS.md (conv section).
# Short runs: Fashion-MNIST, first 20,000 training images (16,000 train / 4,000 validation), 3 epochs,
# seed 0. Full runs: 55,000 / 5,000 images. Each run writes metrics.json and model.npz into OUT/NAME.
# Fit runs (session 11): 2,500 MNIST training images (2,000 train / 500 validation), 60 epochs.
# Session 12 runs (s12): 15-epoch A/B runs on the whole training set against MO15 / FO15.
# Session 13 runs (s13): the surrogate recipe on a deeper Fashion-MNIST net and a wider MNIST net.
# Session 14 runs (s14, after s13): s13's two best runs continued to 60 epochs (a warm restart of the
# cosine schedule), a fine-tune with shifted images, and the FC nets with Che init or BS4NN init.
# Session 15 runs (s15, after s14): s14's Fashion-MNIST run resumed to 90 epochs, a second seed of the wide
# MNIST recipe, shifted or mirrored fine-tunes, a wider Fashion conv layer, and the FC baselines' exact
# recipes with the Che init.
# Session 16 runs (s16): the wide two-conv-layer stack topped by an FC hidden layer of 600 (MNIST, two
# seeds, 40 and 60 epochs; Fashion-MNIST stopped).
# Session 17 runs (s17): the same MNIST recipe with a third seed, an FC hidden layer of 1000, and
# +-1 pixel shifts from the start.
# Session 18 runs (s18, after s17): the shifted run resumed to 60 epochs, its second seed, and the
# two-conv Fashion-MNIST net again with the faster backward pass.
# Session 19 runs (s19): a wider output margin on the two-conv Fashion-MNIST net, a positive-biased Che
# init and the silent-neuron surrogate on the FC item, per-layer learning rates of the one-conv
# Fashion-MNIST net and fine-tunes at calibrated thresholds.
# Session 20 runs (s20): dropout on the FC hidden layer, k-means first-layer kernels and centred conv
# gradients, on the one-conv Fashion-MNIST recipe (fsx, 30 epochs, against s13's 22).
# Session 21 runs (s21): the conv nets' recipe on FC stacks of one and two hidden layers (the FC item),
# a 32-channel k-means first layer and a second FC hidden layer on the one-conv Fashion-MNIST net.
# Usage: bash benchmarks/conv_recipe_sweep.sh DATA_DIR [OUT] [short|full|fit|s12|s13|s14|s15|s16|s17|s18|s19|s20|s21|all]
set -euo pipefail
data="${1:?give the folder holding mnist/ and fashion-mnist/}"
out="${2:-runs-conv-recipe}"
which="${3:-all}"
export NUMBA_NUM_THREADS=1
fs() { name=$1; shift; nice -n 10 firstspike train --data-dir "$data" --quiet --out "$out/$name" "$@"; }

# the FC trainer's mini-batch recipe (models/bs4nn-*): relative targets normalised per sample, an
# all-silent output pulls the label, learned scale, Adam with a cosine schedule, batch 16
fc=(--optimizer adam --batch 16 --eta 0.003 --clip 1 --init-high 1 --schedule cosine --eta-final 0.02
    --push-silent-label on)
# the recipe of the earlier conv-mnist model: ce+hw loss, batch 32, scale frozen
cehw=(--init che --init-high 1 --eta-alpha 0 --optimizer adam --batch 32 --loss ce+hw --ce-weight 0.25
      --hw-scale 1 --tau 8 --eta 0.003 --gamma 1 --sampling permutation --schedule cosine --eta-final 0.05)
short=(--dataset fashion-mnist --train-limit 20000 --epochs 3)
mshort=(--dataset mnist --train-limit 20000 --epochs 3)
c1=28x28-c16k5-p2-fc10
conv2=28x28-c8k5-p2-c16k5-p2-fc10
# the surrogate recipes of s13's best runs, continued in s14 and s15: the wide MNIST net (21) and the
# Fashion-MNIST net with an FC hidden layer (22)
mow=(--arch 28x28-c32k5-p2-c64k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.05
     --silent-surrogate 0.5 --dataset mnist)
fsx=(--dataset fashion-mnist --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9
     --init-fire-out 0.01 --eta-alpha 0 --silent-surrogate 0.5)

if [[ $which == short || $which == all ]]; then
    fs d0 "${short[@]}" --arch 784-600-10 "${fc[@]}" --alpha-init 2.5 5                       # FC trainer
    fs g1 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --alpha-init 2.5 5 --error-weights real
    fs g2 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --alpha-init 2.5 5 --error-weights sign
    fs k3 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --alpha-init 2.5 5 --error-weights real \
        --error-mask fired
    fs d5 "${short[@]}" --arch 784-600-600-10 "${fc[@]}" --alpha-init 2.5 2.5 5               # FC trainer
    fs k0 "${short[@]}" --arch 784-fc600-fc600-fc10 "${fc[@]}" --alpha-init 2.5 2.5 5 --error-weights real
    fs k1 "${short[@]}" --arch 784-fc600-fc600-fc10 "${fc[@]}" --alpha-init 2.5 2.5 5 --error-weights real \
        --error-mask fired
    fs h0 "${short[@]}" --arch $conv2 "${cehw[@]}"
    fs h1 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5
    fs h2 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --loss ce+hw --ce-weight 0.25 \
        --hw-scale 1 --tau 8
    fs k2 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --error-mask fired
    fs k4 "${short[@]}" --arch 28x28-c16k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5
    fs k5 "${short[@]}" --arch 28x28-c16k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --error-weights real
    fs k6 "${short[@]}" --arch 28x28-c16k5-p2-fc10 "${fc[@]}" --init bs4nn --alpha-init 10 5
    fs k7 "${short[@]}" --arch $conv2 "${fc[@]}" --init bs4nn --alpha-init 10 5 5
    # the output threshold and whether the conv layer learns (o-runs)
    fs o1 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --eta 0 0.003        # conv frozen
    fs o2 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.1
    fs o3 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.02
    fs o4 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o5 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.1 --eta 0 0.003
    fs o6 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --eta 0.0003 0.003
    fs o7 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --eta 0.01 0.003
    fs o8 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.1 --init-fire 0.1
    fs o9 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.1
    fs o10 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o11 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --eta 0 0.003
    fs o12 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5
    fs o13 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9
    fs o14 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.05
    fs o15 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.01
    fs o16 "${short[@]}" --arch 28x28-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o17 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.003
    fs o29 "${short[@]}" --arch 28x28-c16k5-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o30 "${short[@]}" --arch 28x28-c16k3-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o31 "${short[@]}" --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs o32 "${short[@]}" --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.1
    fs o18 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.05 --eta 0 0 0.003
    fs o19 "${mshort[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.01
    fs o20 "${mshort[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.01 --eta 0 0.003
    fs o21 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --init-fire 0.05
    fs o22 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --init-fire 0.05 \
        --eta 0 0.003
    fs o23 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --error-mask fired
    fs o24 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --error-weights real
    fs o25 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --fire-reg 1
    fs o26 "${short[@]}" --arch $c1 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --fire-reg 10
    fs o27 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.05 --eta 0 0.003 0.003
    fs o28 "${short[@]}" --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01 --eta 0 0.003 0.003
    # an FC hidden layer on the conv features (MNIST), and the Che init on an FC net with a higher output threshold
    fs m1 "${mshort[@]}" --arch 28x28-c16k5-p2-c32k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.01
    fs m2 "${mshort[@]}" --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.01
    fs p1 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.05
    fs p2 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.01
    fs p3 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.05 --init-fire 0.1
    fs p4 "${short[@]}" --arch 28x28-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --init-fire-out 0.05 --init-fire 0.5
fi
if [[ $which == full || $which == all ]]; then
    fs cw --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${cehw[@]}" --epochs 12
    fs r2 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 12
    fs r4 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 \
        --error-weights real --epochs 12
    fs M --dataset mnist --arch 28x28-c32k5-p2-c64k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 15
    fs MF --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 25
    fs ME --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 25 \
        --ema 0.9
    fs ME40 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 40 \
        --ema 0.9
    fs ME60 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 60 \
        --ema 0.9
    # ME60 with a higher output threshold (init: 5 % of the output neurons fire)
    # -> models/conv-mnist-uncalibrated.npz (the best on validation of these MNIST runs; then models/conv-mnist)
    fs MO60 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 60 \
        --ema 0.9 --init-fire-out 0.05
    fs MO60s1 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 60 \
        --ema 0.9 --init-fire-out 0.05 --seed 1
    fs MO100 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 100 \
        --ema 0.9 --init-fire-out 0.05
    # m1 over the whole training set (stopped at epoch 35: collapsed)
    fs MH60 --dataset mnist --arch 28x28-c16k5-p2-c32k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 \
        --epochs 60 --ema 0.9 --init-fire-out 0.01
    # an FC hidden layer with every scale frozen (--eta-alpha 0) -> models/conv-mnist-fc600.npz
    fs MS30 --dataset mnist --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 30 \
        --ema 0.9 --init-fire-out 0.01 --eta-alpha 0
    # MS30 with pixel shifts and the rank rule for all-silent outputs, 40 epochs (session 9, run 05cms;
    # the later --push-silent-label overrides the one in fc)
    fs MS40r --dataset mnist --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 40 \
        --ema 0.9 --init-fire-out 0.01 --eta-alpha 0 --shift 1 --push-silent-label rank
    # the same on Fashion-MNIST (stopped at epoch 28: validation below FO60)
    fs FS30 --dataset fashion-mnist --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 \
        --epochs 30 --ema 0.9 --init-fire-out 0.01 --eta-alpha 0
    fs cf --dataset fashion-mnist --arch $conv2 "${cehw[@]}" --epochs 12
    fs cf30 --dataset fashion-mnist --arch $conv2 "${cehw[@]}" --epochs 30
    fs FE --dataset fashion-mnist --arch $conv2 "${cehw[@]}" --epochs 30 --ema 0.9
    # one conv layer, output threshold from --init-fire-out 0.01 (the o-runs)
    fs FO30 --dataset fashion-mnist --arch $c1 "${fc[@]}" --init che --alpha-init 5 --epochs 30 --ema 0.9 \
        --init-fire-out 0.01
    # -> models/conv-fashion-mnist.npz (the best on validation of these Fashion-MNIST runs)
    fs FO60 --dataset fashion-mnist --arch $c1 "${fc[@]}" --init che --alpha-init 5 --epochs 60 --ema 0.9 \
        --init-fire-out 0.01
    fs FK60 --dataset fashion-mnist --arch 28x28-c16k3-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --epochs 60 \
        --ema 0.9 --init-fire-out 0.01
    # FO60 with an FC hidden layer (stopped at epoch 35: collapsed)
    fs FH60 --dataset fashion-mnist --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 \
        --epochs 60 --ema 0.9 --init-fire-out 0.01
    fs F --dataset fashion-mnist --arch 28x28-c16k5-p2-c32k5-p2-fc10 "${cehw[@]}" --epochs 15
    fs r1 --dataset fashion-mnist --arch $conv2 "${fc[@]}" --init che --alpha-init 5 --epochs 12
fi

if [[ $which == fit || $which == all ]]; then
    # can each net fit 2,000 images? (running training accuracy per epoch in metrics.json)
    fit=(--dataset mnist --train-limit 2500 --epochs 60)
    mo=(--arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.05)
    fs v1 "${fit[@]}" "${mo[@]}"                                    # conv-mnist's recipe
    fs v2 "${fit[@]}" "${mo[@]}" --eta 0.01 0.01 0.003              # conv layers at rate 0.01
    fs v3 "${fit[@]}" "${mo[@]}" --eta 0.001 0.001 0.003            # conv layers at rate 0.001 (stopped at 17)
    fs v4 "${fit[@]}" --arch 28x28-c16k5-p2-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.01 --eta-alpha 0                          # conv-mnist-fc600's recipe
    fs v5 "${fit[@]}" --arch 784-600-10 "${fc[@]}" --alpha-init 2.5 5 --ema 0.9   # FC BS4NN (FC trainer)
    # the whole training set, 30 epochs: conv layers at rate 0.01 against conv-mnist's 0.003
    fs MO30e01 --dataset mnist --epochs 30 "${mo[@]}" --eta 0.01 0.01 0.003
    fs MO30 --dataset mnist --epochs 30 "${mo[@]}"
    # twice the channels (the example stack) against conv-mnist's widths, 15 epochs each
    fs W15 --dataset mnist --epochs 15 "${mo[@]}" --arch 28x28-c32k5-p2-c64k5-p2-fc10
    fs MO15 --dataset mnist --epochs 15 "${mo[@]}"
fi

if [[ $which == s12 || $which == all ]]; then
    mo=(--arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.05)
    fo=(--arch $c1 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.01)
    # the silent-neuron surrogate on the fit set (v2's recipe; 02 stopped at epoch 38)
    fs 01-fit-sur05 --dataset mnist --train-limit 2500 --epochs 60 "${mo[@]}" --eta 0.01 0.01 0.003 \
        --silent-surrogate 0.5
    fs 02-fit-sur02 --dataset mnist --train-limit 2500 --epochs 60 "${mo[@]}" --eta 0.01 0.01 0.003 \
        --silent-surrogate 0.2
    m15=(--dataset mnist --epochs 15 "${mo[@]}")
    fs 03-MO15-b64 "${m15[@]}" --batch 64                               # 4 x the batch
    fs 04-MO15-a0 "${m15[@]}" --eta-alpha 0                             # scales frozen
    fs 05-MO15-relhw2 "${m15[@]}" --loss relative+hw --ce-weight 1 --hw-scale 2
    fs 06-MO15-relhw8 "${m15[@]}" --loss relative+hw --ce-weight 1 --hw-scale 8
    # decide at the end of the window: output threshold from 0.1 % firing, hw loss, activity term
    # (stopped after 2 epochs: 367 s per epoch)
    fs 065-MO15-hwfb "${m15[@]}" --init-fire-out 0.001 --loss hw --hw-scale 4 --fire-reg 1 --fire-band 0.1 0.3
    fs 07-FO15-relhw2 --dataset fashion-mnist --epochs 15 "${fo[@]}" --loss relative+hw --ce-weight 1 --hw-scale 2
    fs 08-FO15 --dataset fashion-mnist --epochs 15 "${fo[@]}"
    fs 11-MO15-ema98 "${m15[@]}" --ema 0.98
    fs 12-MO15-ifo01 "${m15[@]}" --init-fire-out 0.01
    fs 13-MO30-ifo01 --dataset mnist --epochs 30 "${mo[@]}" --init-fire-out 0.01   # against MO30 (fit section)
    # the silent-neuron surrogate on the whole training set
    fs 14-MO15-sur05 "${m15[@]}" --silent-surrogate 0.5
    fs 15-MO30-sur05 --dataset mnist --epochs 30 "${mo[@]}" --silent-surrogate 0.5
    fs 16-FO15-sur05 --dataset fashion-mnist --epochs 15 "${fo[@]}" --silent-surrogate 0.5
fi

if [[ $which == s13 || $which == all ]]; then
    mo=(--arch 28x28-c16k5-p2-c32k5-p2-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 --init-fire-out 0.05
        --silent-surrogate 0.5)
    # models/conv-mnist-sur05's recipe (15-MO30-sur05) on Fashion-MNIST: two conv layers instead of one
    # (stopped after 8 epochs: validation 74.5 %, 7 points behind the one-conv-layer FO15 at the same epoch)
    fs 17-FD30-sur05 --dataset fashion-mnist --epochs 30 "${mo[@]}"
    # an FC hidden layer on one conv layer (FS30's recipe: scales frozen) with the surrogate (fsx, above)
    # -> models/conv-fashion-mnist-fc600-e15-uncalibrated.npz (calibrated: models/conv-fashion-mnist-fc600-e15.npz)
    fs 20-FS15-sur05 "${fsx[@]}" --epochs 15
    # -> models/conv-fashion-mnist-fc600-uncalibrated.npz (calibrated: models/conv-fashion-mnist-fc600.npz)
    fs 22-FS30-sur05 "${fsx[@]}" --epochs 30
    # 20 with the scales learned (no --eta-alpha 0; the later --eta-alpha wins)
    fs 23-FH15-sur05 "${fsx[@]}" --epochs 15 --eta-alpha 0.01
    # the same recipe with twice the channels in both conv layers (about 80-100 s per epoch)
    fs 19-MW15-sur05 --dataset mnist --epochs 15 "${mo[@]}" --arch 28x28-c32k5-p2-c64k5-p2-fc10
    # -> models/conv-mnist-wide-uncalibrated.npz (calibrated: models/conv-mnist-wide.npz)
    fs 21-MW30-sur05 --dataset mnist --epochs 30 "${mo[@]}" --arch 28x28-c32k5-p2-c64k5-p2-fc10
fi

if [[ $which == s14 || $which == all ]]; then
    # s13's 21 and 22 resumed with --epochs 60: their last checkpoints (epoch 30) continue on a cosine
    # schedule stretched to 60 epochs, i.e. the rate jumps back to about half of --eta at epoch 31
    # -> models/conv-mnist-wide60-uncalibrated.npz (calibrated: models/conv-mnist-wide60.npz)
    cp -r "$out/21-MW30-sur05" "$out/29-MW30r60-sur05"
    fs 29-MW30r60-sur05 "${mow[@]}" --epochs 60 --resume
    # -> models/conv-fashion-mnist-fc600-e60-uncalibrated.npz (calibrated: models/conv-fashion-mnist-fc600-e60.npz)
    cp -r "$out/22-FS30-sur05" "$out/28-FS30r60-sur05"
    fs 28-FS30r60-sur05 "${fsx[@]}" --epochs 60 --resume
    # 29 resumed again with --epochs 90 (the rate jumps back to a quarter of --eta at epoch 61)
    # -> models/conv-mnist-wide90-uncalibrated.npz (calibrated: models/conv-mnist-wide90.npz)
    cp -r "$out/29-MW30r60-sur05" "$out/33-MW60r90-sur05"
    fs 33-MW60r90-sur05 "${mow[@]}" --epochs 90 --resume
    # 29 fine-tuned with images shifted by up to one pixel, a third of the rate, 15 epochs
    # -> models/conv-mnist-wide60-shift-uncalibrated.npz (calibrated: models/conv-mnist-wide60-shift.npz, the best of
    # the three on validation after calibration)
    fs 29zz-MWft15-shift "${mow[@]}" --eta 0.001 --epochs 15 --shift 1 --init-from "$out/29-MW30r60-sur05"
    # the Che et al. options on FC nets at full scale (the FC item of issue 5): Che init against the
    # BS4NN init (U[0, 1) weights, the FC models' thresholds 40 / 20) in the same trainer and recipe
    fs 26-FCM30-che --dataset mnist --arch 784-fc600-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.05 --silent-surrogate 0.5 --epochs 30
    fs 31-FCM30-bs4nn --dataset mnist --arch 784-fc600-fc10 "${fc[@]}" --init bs4nn --alpha-init 2.5 5 --ema 0.9 \
        --silent-surrogate 0.5 --epochs 30
    fs 27-FCF30-che --dataset fashion-mnist --arch 784-fc1000-fc10 "${fc[@]}" --init che --alpha-init 5 --ema 0.9 \
        --init-fire-out 0.01 --eta-alpha 0 --silent-surrogate 0.5 --epochs 30
fi

# the FC baselines' exact recipe (benchmarks/train_golden_models.sh; the conv trainer with --error-weights real
# is the FC trainer, tests/test_conv_training.py) with the Che init; s15 and s18
fcbase=(--algorithm bs4nn --optimizer adam --batch 16 --eta 0.003 --clip 1 --init-high 1 --schedule cosine
        --eta-final 0.02 --alpha-init 2.5 5 --ema 0.95 --push-silent-label rank --tau 4 --error-weights real
        --init che)
# run 40's options (s15): fcbase on models/bs4nn-mnist's net and data recipe (seed 4, 60 epochs, shifts)
fc40=("${fcbase[@]}" --arch 784-fc600-fc10 --dataset mnist --epochs 60 --seed 4 --shift 1 --init-fire-out 0.05)

if [[ $which == s15 || $which == all ]]; then
    # s14's 28 resumed again with --epochs 90 (the rate jumps back to a quarter of --eta at epoch 61)
    # -> models/conv-fashion-mnist-fc600-e90-uncalibrated.npz
    cp -r "$out/28-FS30r60-sur05" "$out/34-FS60r90-sur05"
    fs 34-FS60r90-sur05 "${fsx[@]}" --epochs 90 --resume
    # s13's 21 (the wide MNIST recipe, 30 epochs) with another seed: the seed spread of the recipe
    # -> models/conv-mnist-wide-s1-uncalibrated.npz
    fs 35-MW30-s1-sur05 "${mow[@]}" --epochs 30 --seed 1
    # shifted fine-tunes (s14's 29zz recipe) of the 90-epoch nets; 37 was stopped after 6 epochs
    fs 37-FSft15-shift "${fsx[@]}" --eta 0.001 --epochs 15 --shift 1 --init-from "$out/34-FS60r90-sur05"
    # -> models/conv-mnist-wide90-shift-uncalibrated.npz
    fs 38-MW90ft20-shift "${mow[@]}" --eta 0.001 --epochs 20 --shift 1 --init-from "$out/33-MW60r90-sur05"
    # mirrored images instead (--flip, new this session)
    # -> models/conv-fashion-mnist-fc600-e90-flip-uncalibrated.npz
    fs 42-FSft15-flip "${fsx[@]}" --eta 0.001 --epochs 15 --flip --init-from "$out/34-FS60r90-sur05"
    # twice the conv channels on Fashion-MNIST, 15 epochs (against s13's 20-FS15-sur05)
    # -> models/conv-fashion-mnist-c32-e15-uncalibrated.npz
    fs 39c-FW15-c32 "${fsx[@]}" --epochs 15 --arch 28x28-c32k5-p2-fc600-fc10
    # the FC item of issue 5, paired: the FC baselines' exact recipe (fcbase, defined above) with only the
    # init changed to Che's
    # models/bs4nn-mnist (run r4s) -> models/fc600-che-real-mnist-uncalibrated.npz
    fs 40-FCM60-che-real "${fc40[@]}"
    # models/bs4nn-fashion-mnist (run fr1: 784-1000-10, 40 epochs, seed 1, no shift)
    # -> models/fc1000-che-real-fashion-mnist-uncalibrated.npz
    fs 41-FCF40-che-real "${fcbase[@]}" --arch 784-fc1000-fc10 --dataset fashion-mnist --epochs 40 --seed 1 \
        --init-fire-out 0.01
fi

# the wide MNIST conv stack (mow's) with an FC hidden layer of 600 before the output, trained with the
# Fashion-MNIST fc600 recipe (fsx: scales frozen, --init-fire-out 0.01); s16, s17 and s18
cff=("${fsx[@]}" --arch 28x28-c32k5-p2-c64k5-p2-fc600-fc10 --epochs 40)

if [[ $which == s16 || $which == all ]]; then
    # two MNIST seeds, both resumed to 60 epochs, and Fashion-MNIST
    # -> models/conv-mnist-wf600-uncalibrated.npz (calibrated: models/conv-mnist.npz), -s1-uncalibrated.npz
    fs 43-MWF40 "${cff[@]}" --dataset mnist
    fs 45-MWF40-s1 "${cff[@]}" --dataset mnist --seed 1
    # both resumed to 60 epochs (a warm restart of the cosine schedule at half the rate)
    # -> models/conv-mnist-wf600-e60-uncalibrated.npz, models/conv-mnist-wf600-s1-e60-uncalibrated.npz
    cp -r "$out/43-MWF40" "$out/46-MWF40r60"
    fs 46-MWF40r60 "${cff[@]}" --dataset mnist --epochs 60 --resume
    cp -r "$out/45-MWF40-s1" "$out/47-MWF40r60-s1"
    fs 47-MWF40r60-s1 "${cff[@]}" --dataset mnist --seed 1 --epochs 60 --resume
    # the same on Fashion-MNIST; stopped after 2 epochs (544 s per epoch, validation 73.96 %)
    fs 44-FWF40 "${cff[@]}"
fi

if [[ $which == s17 || $which == all ]]; then
    # -> models/conv-mnist-wf600-s2-, conv-mnist-wk1000-, conv-mnist-wf600-shift-uncalibrated.npz
    fs 50-MWF40-s2 "${cff[@]}" --dataset mnist --seed 2                                  # a third seed
    fs 51-MWK40 "${cff[@]}" --dataset mnist --arch 28x28-c32k5-p2-c64k5-p2-fc1000-fc10   # FC hidden layer of 1000
    fs 52-MWF40-shift "${cff[@]}" --dataset mnist --shift 1                              # +-1 pixel shifts from epoch 1
fi

if [[ $which == s18 || $which == all ]]; then
    # s17's 52 resumed to 60 epochs with its shifts (a warm restart of the cosine schedule at half the rate)
    # -> models/conv-mnist-wf600-shift-e60-uncalibrated.npz (calibrated: models/conv-mnist.npz)
    cp -r "$out/52-MWF40-shift" "$out/53-MWF40r60-shift"
    fs 53-MWF40r60-shift "${cff[@]}" --dataset mnist --shift 1 --epochs 60 --resume
    # 52's recipe with a second seed -> models/conv-mnist-wf600-shift-s1-uncalibrated.npz
    fs 54-MWF40-shift-s1 "${cff[@]}" --dataset mnist --shift 1 --seed 1
    # s16's 44 again (the two-conv fc600 stack on Fashion-MNIST); stopped after epoch 16 (training accuracy flat)
    fs 55-FWF40 "${cff[@]}"
    # s13's 22 (one-conv fc600 Fashion net, 30 epochs) with +-1 pixel shifts from the start; stopped after 16
    fs 59-FS30-shift "${fsx[@]}" --epochs 30 --shift 1
    # the same with the Che init's firing target lowered to 0.1 (no shift); stopped after 10
    fs 60-FS30-f01 "${fsx[@]}" --epochs 30 --init-fire 0.1
    # the Che init's hidden firing target on the FC item: s15's 40 (--init-fire 0.3) with 0.6, 0.9, 0.1
    # (56 stopped after 13 epochs, 57 after 1)
    fs 56-FCM60-che-f06 "${fc40[@]}" --init-fire 0.6
    fs 57-FCM60-che-f09 "${fc40[@]}" --init-fire 0.9
    fs 58-FCM60-che-f01 "${fc40[@]}" --init-fire 0.1   # -> models/fc600-che-real-f01-mnist-uncalibrated.npz
fi

if [[ $which == s19 || $which == all ]]; then
    # the two-conv fc600 Fashion-MNIST stack (s18's 55) with a wider margin against output ties; stopped after 7
    fs 61-FWF40-g3 "${cff[@]}" --gamma 3
    # the FC item: s18's 58 (Che init, --init-fire 0.1) with 3 of 4 latent weights drawn positive
    # -> models/fc600-che-real-f01-p75-mnist-uncalibrated.npz
    fs 62-FCM60-che-f01-p75 "${fc40[@]}" --init-fire 0.1 --init-positive 0.75
    # the one-conv Fashion recipe (fsx) on the short protocol: per-layer learning rates (--eta conv1 fc600 out)
    fs 63-short-base "${fsx[@]}" "${short[@]}"
    fs 66-short-frozen1 "${fsx[@]}" "${short[@]}" --eta 0 0.003 0.003
    fs 67-short-eta1-3e-4 "${fsx[@]}" "${short[@]}" --eta 0.0003 0.003 0.003
    fs 68-short-eta1-1e-3 "${fsx[@]}" "${short[@]}" --eta 0.001 0.003 0.003
    fs 73-short-eta1-1e-4 "${fsx[@]}" "${short[@]}" --eta 0.0001 0.003 0.003
    fs 72-short-etafc1e-3 "${fsx[@]}" "${short[@]}" --eta 0.003 0.001 0.003
    fs 74-short-e1-3e-4-fc1e-2 "${fsx[@]}" "${short[@]}" --eta 0.0003 0.01 0.003
    fs 75-short-e1-3e-4-out1e-2 "${fsx[@]}" "${short[@]}" --eta 0.0003 0.003 0.01
    fs 70-short-ifo002 "${fsx[@]}" "${short[@]}" --init-fire-out 0.002
    fs 71-short-g2 "${fsx[@]}" "${short[@]}" --gamma 2
    # two of them at full scale against s13's 22 (fsx, 30 epochs); 69 resumed to 60 epochs as 77
    fs 69-FS30-eta1 "${fsx[@]}" --epochs 30 --eta 0.0003 0.003 0.003
    fs 76-FS30-e1e4-fc1e2 "${fsx[@]}" --epochs 30 --eta 0.0001 0.01 0.003
    cp -r "$out/69-FS30-eta1" "$out/77-FS30r60-eta1"
    fs 77-FS30r60-eta1 "${fsx[@]}" --eta 0.0003 0.003 0.003 --epochs 60 --resume
    # -> models/conv-fashion-mnist-fc600-eta1-e60-uncalibrated.npz; 77 fine-tuned 10 epochs from its
    # calibrated thresholds (81, new option --thresholds-from) and, as the control, from its own (82)
    nice -n 10 firstspike calibrate --model "$out/77-FS30r60-eta1/model.npz" --data-dir "$data" --layers all \
        --out "$out/77-calibrated.npz"
    fs 81-FSft10-calthr "${fsx[@]}" --eta 0.001 --epochs 10 --init-from "$out/77-FS30r60-eta1" \
        --thresholds-from "$out/77-calibrated.npz"
    fs 82-FSft10 "${fsx[@]}" --eta 0.001 --epochs 10 --init-from "$out/77-FS30r60-eta1"
    # the FC item: 58 with the silent-neuron surrogate -> models/fc600-che-real-f01-sur05-mnist-uncalibrated.npz
    fs 80-FCM60-che-f01-sur05 "${fc40[@]}" --init-fire 0.1 --silent-surrogate 0.5
    # ... and with the firing target 0.05 -> models/fc600-che-real-f005-mnist-uncalibrated.npz
    fs 84-FCM60-che-f005 "${fc40[@]}" --init-fire 0.05
    # 61 without the margin but with conv1 frozen at its init; stopped after 5 epochs
    fs 83-FWF40-frozen1 "${cff[@]}" --eta 0 0.003 0.003 0.003
fi

if [[ $which == s20 || $which == all ]]; then
    # dropout on the fc600 hidden layer (new: --dropout for conv architectures, Adam path)
    fs 85-FS30-drop02 "${fsx[@]}" --epochs 30 --dropout 0.2
    fs 86-FS30-drop04 "${fsx[@]}" --epochs 30 --dropout 0.4
    # k-means first-layer kernels (new: --init-kernels kmeans), conv1 frozen or at a tenth of the rate
    fs 87-FS30-km-frozen "${fsx[@]}" --epochs 30 --init-kernels kmeans --eta 0 0.003 0.003
    fs 88-FS30-km-eta1 "${fsx[@]}" --epochs 30 --init-kernels kmeans --eta 0.0003 0.003 0.003
    # the two-conv fc600 stack (s18's 55) with k-means conv1 kernels, frozen; stopped after 5 epochs
    fs 89-FWF40-km-frozen "${cff[@]}" --init-kernels kmeans --eta 0 0.003 0.003 0.003
    # the conv kernels' gradients without their per-kernel mean (new: --centre-conv-grads)
    fs 90-FS30-centre "${fsx[@]}" --epochs 30 --centre-conv-grads
fi

if [[ $which == s21 || $which == all ]]; then
    # the FC item: the recipe of models/conv-mnist (Che init, silent-neuron surrogate, scales frozen,
    # +-1 pixel shifts) on FC stacks; 91 stopped after 14 epochs
    fs 91-FFM40-shift "${fsx[@]}" --dataset mnist --arch 784-fc600-fc10 --shift 1 --epochs 40
    fs 92-FF2M40-shift "${fsx[@]}" --dataset mnist --arch 784-fc600-fc600-fc10 --shift 1 --epochs 40
    # Fashion-MNIST: 32 k-means first-layer kernels at a tenth of the rate; a second FC hidden layer
    fs 93-FS30-c32km "${fsx[@]}" --arch 28x28-c32k5-p2-fc600-fc10 --init-kernels kmeans --eta 0.0003 0.003 0.003 --epochs 30
    fs 94-FS30-fc2 "${fsx[@]}" --arch 28x28-c16k5-p2-fc600-fc600-fc10 --epochs 30   # stopped after 11
    # 94 with every fired neuron getting the errors above (stopped after 3), and at a third of the rate (after 10)
    fs 95-FS30-fc2-fired "${fsx[@]}" --arch 28x28-c16k5-p2-fc600-fc600-fc10 --error-mask fired --epochs 30
    fs 96-FS30-fc2-eta1e-3 "${fsx[@]}" --arch 28x28-c16k5-p2-fc600-fc600-fc10 --eta 0.001 --epochs 30
    # 93 resumed towards 60 epochs (the cosine schedule re-stretched), in a copy of its folder; stopped after 49
    cp -r "$out/93-FS30-c32km" "$out/97-FS30r60-c32km"
    fs 97-FS30r60-c32km "${fsx[@]}" --arch 28x28-c32k5-p2-fc600-fc10 --init-kernels kmeans --eta 0.0003 0.003 0.003 --epochs 60 --resume
fi
