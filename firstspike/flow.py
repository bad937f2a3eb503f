# SPDX-License-Identifier: MIT
"""``firstspike flow``: the main job, every stage the toolkit has, on the shipped ``mnist-mini``.

Stages run in order and each one checks itself against the previous one; any failure raises.
A stage is a function ``stage(ctx) -> str`` returning one summary line; ``ctx`` is a dict that
carries paths and results between stages.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .model import data as datamod


def stage_train(ctx) -> str:
    from .model.trainer import TrainConfig, Trainer

    cfg = TrainConfig(algorithm="bs4nn", arch=ctx["arch"], dataset="mnist-mini",
                      epochs=ctx["epochs"], seed=ctx["seed"], val_size=300,
                      sampling="permutation")
    trainer = Trainer(cfg, ctx["out"] / "train", progress=ctx["progress"], log=lambda m: None)
    summary = trainer.fit()
    ctx["model"] = ctx["out"] / "train" / "model.npz"
    ctx["train_summary"] = summary
    return (f"trained bs4nn {cfg.arch} for {summary['epochs']} epochs "
            f"({summary['seconds_per_epoch']:.1f} s/epoch), best epoch {summary['best_epoch']}")


def stage_eval(ctx) -> str:
    from .model.infer import evaluate
    from .model.network import Network

    net = Network.load(ctx["model"])
    test = datamod.load("mnist-mini", "test")
    metrics = evaluate(net, test.images, test.labels)
    ctx["eval"] = metrics
    return (f"mnist-mini test: {metrics['accuracy_hardware'] * 100:.1f} % (hardware rule), "
            f"{metrics['accuracy_reference'] * 100:.1f} % (reference rule), "
            f"{metrics['mean_spikes_per_layer'][0]:.0f} hidden spikes/image")


#: Board and lane count of the flow's bitstream stage.
FLOW_BOARD, FLOW_LANES = "ulx3s-25f", 16


def stage_build(ctx) -> str:
    from .boards.build import build

    report = build(FLOW_BOARD, ctx["model"], ctx["out"] / "build", lanes=FLOW_LANES, log=lambda m: None)
    ctx["build"] = report
    return (f"{FLOW_BOARD} bitstream: {report['luts']} LUTs, {report['ebr']} EBR, Fmax {report['fmax_mhz']:.1f} MHz "
            f"({'meets' if report['timing_met'] else 'MISSES'} {report['clock_mhz']:.0f} MHz), "
            f"{report['latency_us_mean']:.1f} us/image")


#: The pipeline; later stages (export, RTL simulation, bitstream) append themselves here.
STAGES = [("train", stage_train), ("eval", stage_eval), ("build", stage_build)]


def register(sub) -> None:
    p = sub.add_parser("flow", help="the main job: train -> export -> simulate -> build on mnist-mini")
    p.add_argument("--out", default="flow-out", help="folder for every stage's products")
    p.add_argument("--arch", default="784-64-10", help="network trained on mnist-mini")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_flow)


def cmd_flow(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = {"out": out, "arch": args.arch, "epochs": args.epochs, "seed": args.seed,
           "progress": not args.quiet}
    lines = []
    for name, stage in STAGES:
        start = time.perf_counter()
        line = stage(ctx)
        seconds = time.perf_counter() - start
        lines.append({"stage": name, "summary": line, "seconds": round(seconds, 1)})
        print(f"[{name:>8}] {line} ({seconds:.1f} s)", flush=True)
    (out / "summary.json").write_text(json.dumps(lines, indent=2) + "\n")
    print(f"flow complete: products in {out}/, summary in {out / 'summary.json'}")
    return 0
