# SPDX-License-Identifier: MIT
"""Subcommands of the golden model: ``train``, ``eval``, ``import-bs4nn``, ``data``."""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from pathlib import Path

import numpy as np

from . import data as datamod
from . import spec


#: ``--push-silent-label`` value -> ``TrainConfig.push_silent_label``
_SILENT_CHOICES = {"on": True, "off": False, "rank": "rank"}

#: ``train`` flags by group: TrainConfig (or TrainConfig.conv) field -> help. Each flag is the field's
#: name with dashes, typed by its annotation (a list: one or more values), offered its choices.
_TRAIN_FLAGS = {None: {
    "algorithm": "bs4nn (default): binary forward, real backward; s4nn: real weights",
    "arch": "layer sizes, e.g. 784-600-10 (default) or 784-400-200-10; or a conv architecture such as "
            "28x28-c16k5-p2-c32k5-p2-fc10 (c<out>k<k>[s<s>][p<pad>], p<k> sum pooling, fc<n>)",
    "dataset": "default mnist",
    "epochs": "default 30",
    "seed": "default 0",
    "val_size": "validation images carved from the training set (best model chosen on them)",
    "eta": "learning rate(s), one or one per layer",
    "eta_alpha": "learning rate of the per-layer scale (bs4nn)",
    "alpha_init": "initial per-layer scale(s) alpha (bs4nn; threshold = theta / alpha)",
    "gamma": "target margin in time steps",
    "lam": "L2 decay factor",
    "init_high": "weights start in U[0, high) per layer",
    "init_low": "lower init bound(s), default 0 (the papers)",
    "push_silent_label": "all-silent output: pull the label to T - gamma (on, S4NN), learn nothing (off, "
                         "BS4NN), or (rank, ours) also push down every wrong output whose final potential is "
                         "at least the label's, as the hardware rule decides such images",
    "sampling": None,
    "schedule": "learning-rate schedule: constant (the papers) or cosine decay to --eta-final x eta",
    "eta_final": "final rate factor of the cosine schedule (0.01)",
    "select_rule": "decision rule used to pick the best epoch on the validation set",
    "train_limit": "use only the first N training images",
    "init_from": "fine-tune: start from the latent weights, scales and weight average of another run "
                 "(its folder or checkpoint.npz; same --arch) with a fresh optimizer and schedule",
    "thresholds_from": "with --init-from: start from this binary model file's integer thresholds instead of "
                       "the run's scales (e.g. its calibrated model; keep them with --eta-alpha 0)",
}, "mini-batch Adam (an addition of ours, not in the papers)": {
    "optimizer": "sgd: per-sample SGD as the papers (default); adam: the same temporal gradient summed over "
                 "--batch samples, Adam with rate --eta on latent weights clipped to --clip",
    "batch": "samples per Adam step (default 1)",
    "clip": "clip latent weights to [-c, c], per layer (default: none for an FC stack, 1 with conv layers)",
    "ema": "read the model from a moving average of the latent weights, decay D per chunk of 2000 samples "
           "(e.g. 0.9; default 0 = off)",
    "ema_start": "first epoch of the average (default 1); before it the average is the weights, so a long "
                 "--ema is not pulled back to the early weights",
    "dropout": "silence each hidden neuron with probability P for one training sample, the next layer's "
               "threshold scaled by 1-P meanwhile (fully connected hidden layers only; default 0 = off)",
    "shift": "data augmentation: translate each training image by up to N pixels per axis (square "
             "single-channel input, FC or conv)",
}, "layer-geometry options: Che et al. 2024 and ours (TrainConfig.conv)": {
    "init": "bs4nn: U[0,high) weights, threshold theta/alpha_init (default); che: random signs, per-layer "
            "thresholds calibrated so --init-fire of the neurons fire",
    "init_fire": "che init: firing fraction of hidden layers (0.3)",
    "init_fire_out": "che init: firing fraction of the output layer (0.5); 0.01-0.05 sets a higher output "
                     "threshold and trains much better (docs/research.md)",
    "decoding": "s4nn: relative targets (default); temporal: Che et al. temporal-weighting decoding; mixed: "
                "both (cross-entropy plus the gamma margin against ties)",
    "decoding_scale": "temporal decoding: initial logit per time step",
    "backward": "s4nn: temporal backprop (default); stidi: our reading of STiDi-BP",
    "error_weights": "adam: the weights that pass errors down a layer: sign (straight-through; default with "
                     "conv layers) or real (the latent weights, as BS4NN's backward pass; default for an FC "
                     "stack or an s4nn net)",
    "silent_margin": "adam: a silent hidden neuron within M * sqrt(fan-in) of its threshold gets the errors "
                     "of the neurons it feeds, gated linearly (straight-through; 0 = off, default)",
}}
#: flags whose name or metavar is not the field's
_FLAG_EXTRAS = {"silent_margin": {"flag": "--silent-surrogate", "metavar": "M"},
                "init_from": {"metavar": "RUN"}, "thresholds_from": {"metavar": "MODEL"}}


def _add_config_flags(p) -> None:
    """:data:`_TRAIN_FLAGS`, all defaulting to None: a flag left out leaves the --config file's value."""
    from .train_config import CHOICES, ConvOptions, TrainConfig

    types = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig) + dataclasses.fields(ConvOptions)}
    choices = {**CHOICES, "dataset": datamod.DATASETS, "push_silent_label": tuple(_SILENT_CHOICES)}
    for title, flags in _TRAIN_FLAGS.items():
        group = p.add_argument_group(title) if title else p
        for name, text in flags.items():
            extra = {"nargs": "+"} if "list[" in types[name] else {}
            extra.update(_FLAG_EXTRAS.get(name, {}))
            flag = extra.pop("flag", "--" + name.replace("_", "-"))
            kind = float if "float" in types[name] else int if "int" in types[name] else None
            group.add_argument(flag, dest=name, type=kind, choices=choices.get(name), help=text, **extra)


def register(sub) -> None:
    p = sub.add_parser("train", help="train an S4NN / BS4NN network (per-sample SGD, numba)")
    p.add_argument("--config", metavar="FILE.toml",
                   help="training recipe: TrainConfig fields, conv options in a [conv] table (recipes/); "
                        "flags given here override it")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as TOML and exit")
    p.add_argument("--data-dir", help="folder holding mnist/ and fashion-mnist/ IDX files")
    _add_config_flags(p)
    p.add_argument("--out", help="run folder: checkpoint, model.npz, metrics.json, curve.png (required to train)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy and spike statistics of a model on a dataset")
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", choices=datamod.DATASETS, help="default mnist")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--data-dir")
    p.add_argument("--rule", choices=spec.DECISION_RULES, help="rule for 'accuracy' (default: the model's)")
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="choose thresholds on the model's validation split "
                                         "(accuracy against decision latency)")
    p.add_argument("--model", required=True, help="a model written by 'firstspike train'")
    p.add_argument("--out", required=True, help="calibrated model file (written atomically)")
    p.add_argument("--data-dir")
    p.add_argument("--layers", default="output",
                   help="'output' (default), 'all', or layer indices, e.g. 0,2")
    p.add_argument("--rounds", type=int, default=1, help="sweeps over the layers (default 1)")
    p.add_argument("--span", type=float, nargs="+",
                   help="threshold factors to try (default 25 steps from 0.6 to 1.8)")
    p.add_argument("--max-step", type=float,
                   help="latency budget: only thresholds whose mean decision step stays <= this")
    p.add_argument("--holdout", type=float, default=0.0,
                   help="fraction of the validation split kept away from the search (e.g. 0.5) and scored "
                        "before and after it: an unbiased figure to compare models by (default 0: search "
                        "on all of it)")
    p.add_argument("--plot", help="PNG: validation accuracy and decision step against the output threshold")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("import-bs4nn", help="import the published BS4NN weights (W0/W1 .npy, alphas)")
    p.add_argument("--w0", required=True, help="hidden-layer real weights, (600, 784[, 1])")
    p.add_argument("--w1", required=True, help="output-layer real weights, (10, 600[, 1])")
    p.add_argument("--alpha", type=float, nargs="+", required=True, help="per-layer scales, e.g. 4.03707844 9.06516109")
    p.add_argument("--theta", type=float, default=100.0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_import_bs4nn)

    p = sub.add_parser("data", help="check and cache a dataset (verifies SHA-256)")
    p.add_argument("dataset", choices=datamod.DATASETS)
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data)


def cmd_train(args) -> int:
    from .recipe import Recipe, read_recipe
    from .train_config import CONV_FIELDS, TrainConfig, config_toml
    from .trainer import Trainer

    recipe = read_recipe(args.config) if args.config else Recipe({})
    top = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "conv"]
    given = {k: getattr(args, k) for k in top if getattr(args, k, None) is not None}
    given["conv"] = {k: getattr(args, k) for k in CONV_FIELDS if getattr(args, k, None) is not None}
    if args.push_silent_label is not None:
        given["push_silent_label"] = _SILENT_CHOICES[args.push_silent_label]
    for key in ("init_from", "thresholds_from"):  # recorded absolute: config.json names its source anywhere
        if key in given:
            given[key] = str(Path(given[key]).resolve())
    stages = None if "epochs" in given else recipe.stages
    cfg = recipe.config(given)
    if stages:
        cfg = dataclasses.replace(cfg, epochs=stages[-1])
    cfg.resolved()  # a bad option fails before any data loads
    if args.print_config:
        print(config_toml(cfg.resolved()), end="")
        return 0
    if not args.out:
        raise ValueError("give --out RUN_FOLDER (where the checkpoint and model.npz go)")
    log = functools.partial(print, file=sys.stderr)
    for index, epochs in enumerate(stages or [cfg.epochs]):
        trainer = Trainer(dataclasses.replace(cfg, epochs=epochs), args.out, data_dir=args.data_dir,
                          progress=not args.quiet, log=log, resume=args.resume or index > 0)
        summary = trainer.fit()
    if recipe.calibrate is not None:
        summary["calibrated"] = _calibrate_run(Path(args.out), recipe.calibrate, args.data_dir)
    print(json.dumps(summary, indent=2))
    return 0


def _calibrate_run(out: Path, options: dict, data_dir) -> str:
    """A recipe's ``[calibrate]`` table: ``firstspike calibrate`` of the run's best model into
    ``calibrated.npz`` beside it, with the command's defaults for the keys not given; its report goes
    to stderr (stdout keeps the training summary)."""
    import argparse
    import contextlib

    args = argparse.Namespace(model=str(out / "model.npz"), out=str(out / "calibrated.npz"), data_dir=data_dir,
                              layers="output", rounds=1, span=None, max_step=None, holdout=0.0, plot=None,
                              json=False)
    for key, value in options.items():
        setattr(args, key, value)
    with contextlib.redirect_stdout(sys.stderr):
        cmd_calibrate(args)
    return args.out


def cmd_eval(args) -> int:
    from .network import load_model
    from .infer import evaluate

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit {args.limit}: give a number of images >= 1, or leave it out for all")
    net = load_model(args.model)
    ds = datamod.load(args.dataset, args.split, data_dir=args.data_dir)
    images, labels = ds.images[: args.limit], ds.labels[: args.limit]  # limit None: all
    if images[0].size != net.sizes[0]:
        raise ValueError(f"{args.model} expects {net.sizes[0]} inputs, {args.dataset} images have {images[0].size}")
    rule = args.rule or net.rule
    metrics = evaluate(net, images, labels)
    result = {"model": str(args.model), "arch": net.arch, "dataset": args.dataset, "split": args.split,
              "rule": rule, "accuracy": metrics[f"accuracy_{rule}"], **metrics}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{net.arch} {'binary' if net.binary else 'real'} on {args.dataset} {args.split} "
              f"({metrics['images']} images)")
        print(f"  accuracy, hardware rule : {metrics['accuracy_hardware'] * 100:.2f} %")
        print(f"  accuracy, reference rule: {metrics['accuracy_reference'] * 100:.2f} %")
        print(f"  input events per image  : {metrics['mean_input_events']:.1f}")
        print(f"  spikes per layer        : {', '.join(f'{s:.1f}' for s in metrics['mean_spikes_per_layer'])}")
        print(f"  mean decision step      : {metrics['mean_decision_step']:.1f} of {net.T}")
        print(f"  ties at first spike     : {metrics['share_ties'] * 100:.2f} %, "
              f"no output spike: {metrics['share_no_output_spike'] * 100:.2f} %")
    return 0


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate, holdout_split, score, validation_images
    from .network import load_model

    net = load_model(args.model)
    n_layers = len(net.thresholds)
    named = {"output": [n_layers - 1], "all": list(range(n_layers))}
    try:
        layers = named.get(args.layers) or [int(v) for v in args.layers.split(",")]
    except ValueError:
        raise ValueError(f"--layers {args.layers!r}: give 'output', 'all' or indices like 0,2") from None
    x, y = validation_images(net, args.data_dir)
    held = None
    if args.holdout:
        search_idx, held_idx = holdout_split(len(y), args.holdout, int(net.meta["config"]["seed"]))
        (x, y), held = (x[search_idx], y[search_idx]), (x[held_idx], y[held_idx])

    def show(round_index, layer, theta, accuracy):
        if not args.json:
            print(f"  round {round_index} layer {layer}: threshold {theta}: validation {accuracy * 100:.2f} %",
                  flush=True)

    result = calibrate(net, x, y, layers=layers, rounds=args.rounds, span=args.span, rule=net.rule,
                       max_step=args.max_step, progress=show)
    previous = (net.meta or {}).get("calibrated")  # calibrating a calibrated model keeps its record
    out = result.net
    out.meta = dict(out.meta or {})
    found = {"thresholds_before": list(net.thresholds), "validation_before": result.before,
             "validation_after": result.after, "mean_step_before": result.step_before,
             "mean_step_after": result.step_after}
    out.meta["calibrated"] = {"from": args.model, **found, "max_step": args.max_step, "rule": net.rule,
                              "changes": result.changes}
    if held is not None:
        held_before, held_after = score(net, *held, net.rule)[0], score(out, *held, net.rule)[0]
        out.meta["calibrated"]["holdout"] = {"fraction": args.holdout, "images": int(len(held[1])),
                                             "before": held_before, "after": held_after}
    if previous:
        out.meta["calibrated"]["previous"] = previous
    out.save(args.out)
    if args.plot and n_layers - 1 in result.scans:
        from .plots import threshold_scan

        threshold_scan(result.scans[n_layers - 1], args.plot, title=f"{args.model}: output threshold")
    summary = {"model": str(args.model), "out": str(args.out), **found,
               "thresholds_after": list(out.thresholds), "rule": net.rule, "images": int(len(y))}
    if held is not None:
        summary["holdout"] = out.meta["calibrated"]["holdout"]
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"thresholds {summary['thresholds_before']} -> {summary['thresholds_after']}: validation "
              f"({len(y)} images, {net.rule} rule) {result.before * 100:.2f} -> {result.after * 100:.2f} %, "
              f"mean decision step {result.step_before:.1f} -> {result.step_after:.1f}; wrote {args.out}")
        if held is not None:
            print(f"held out ({len(held[1])} validation images the search did not see): "
                  f"{held_before * 100:.2f} -> {held_after * 100:.2f} %")
    return 0


def cmd_import_bs4nn(args) -> int:
    from .network import Network

    weights = []
    for path in (args.w0, args.w1):
        w = np.load(path, allow_pickle=False)
        if w.ndim == 3 and w.shape[2] == 1:
            w = w[:, :, 0]
        if w.ndim != 2:
            raise ValueError(f"{path}: expected a (n_out, n_in[, 1]) weight array, got shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError(f"{path}: {int((~np.isfinite(w)).sum())} weights are NaN or inf, so they have "
                             "no sign; check the file (the published W0/W1 arrays are all finite)")
        weights.append(w)
    if len(args.alpha) != len(weights):
        raise ValueError(f"give one --alpha per layer ({len(weights)}), got {len(args.alpha)}")
    net = Network(
        [spec.sign_bits(w) for w in weights],
        thresholds=[spec.integer_threshold(args.theta, a) for a in args.alpha],
        binary=True, encoding="bs4nn", T=spec.T_DEFAULT, rule="hardware",
        meta={"source": "published BS4NN weights (SRKH/BS4NN), signs of the real weights",
              "alphas": list(args.alpha), "theta": args.theta},
    )
    path = net.save(args.out)
    print(f"wrote {path}: {net.arch}, thresholds {net.thresholds} (fire when V > threshold)")
    return 0


def cmd_data(args) -> int:
    for split in ("train", "test"):
        ds = datamod.load(args.dataset, split, data_dir=args.data_dir)
        counts = np.bincount(ds.labels, minlength=10)
        print(f"{args.dataset} {split}: {len(ds)} images {ds.images.shape[1:]}, sha256 {ds.sha256[:16]}..., "
              f"labels {counts.tolist()}")
    return 0
