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

from .flow_summary import comparison
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


def stage_export(ctx) -> str:
    from .export.manifest import export_verified
    from .model.network import Network

    net = Network.load(ctx["model"])
    # read back: every checksum, the plan, and the ROMs against the trained weights
    exported = export_verified(net, ctx.get("lanes", 16), ctx["out"] / "export", source=str(ctx["model"]))
    ctx["export"] = ctx["out"] / "export"
    words = sum(layer.depth for layer in exported.plan.layers)
    return (f"exported {net.arch} for lanes {exported.lanes}: {words} ROM words "
            f"(hex, bin, Memory init), SHA-256 verified")


def stage_simulate(ctx) -> str:
    from .export.manifest import check_model, load_export
    from .model.network import Network
    from .sim.cli import simulate_dataset

    # the sealed export, checked field by field against the trained model, which is the golden model
    exported, net = load_export(ctx["export"]), Network.load(ctx["model"])
    check_model(exported, net, str(ctx["model"]))
    plan = exported.plan
    count = ctx.get("sim_images", 20)
    images = datamod.load("mnist-mini", "test").images[:count]
    images = images.reshape(len(images), -1)
    summary = simulate_dataset(plan, images, gaps=0.1, backpressure=0.1,
                               seed=ctx["seed"] + 1, work_dir=ctx["out"] / "sim", golden=net)
    ctx["simulate"] = summary
    if summary["mismatches"]:
        raise RuntimeError(f"RTL differs from the golden model: {summary['first_mismatch']}")
    ctx["plan"] = plan  # the plan the simulation checked: the build uses exactly this one
    return (f"{summary['images']} mnist-mini images on Verilator: {summary['mismatches']} mismatches, "
            f"cycles mean {summary['cycles_mean']:.0f} (max {summary['cycles_max']}, accumulate bound "
            f"{summary['bound_mean']:.0f}), {summary['images_per_second']:.0f} images/s")


#: Board of the flow's bitstream stage.
FLOW_BOARD = "ulx3s-25f"


def stage_build(ctx) -> str:
    from .boards.build import build

    report = build(FLOW_BOARD, ctx["plan"], ctx["out"] / "build", source=str(ctx["export"]),
                   log=lambda m: None)
    ctx["build"] = report
    return (f"{FLOW_BOARD} bitstream of {ctx['export']}: {report['luts']} LUTs, {report['ebr']} EBR, "
            f"Fmax {report['fmax_mhz']:.1f} MHz ({'meets' if report['timing_met'] else 'MISSES'} "
            f"{report['clock_mhz']:.0f} MHz), {report['latency_us_mean']:.1f} us/image")


#: The pipeline, in order.
STAGES = [("train", stage_train), ("eval", stage_eval), ("export", stage_export),
          ("simulate", stage_simulate), ("build", stage_build)]


def register(sub) -> None:
    p = sub.add_parser("flow", help="the main job: train -> export -> simulate -> build on mnist-mini")
    p.add_argument("--out", default="flow-out", help="folder for every stage's products")
    p.add_argument("--arch", default="784-64-10", help="network trained on mnist-mini")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lanes", type=int, nargs="+", default=[16],
                   help="accumulate lanes of the exported core (one for all layers or one per layer); "
                        "the simulation and the bitstream use that export")
    p.add_argument("--sim-images", type=int, default=20, help="mnist-mini test images run on Verilator")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_flow)


def cmd_flow(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = {"out": out, "arch": args.arch, "epochs": args.epochs, "seed": args.seed,
           "progress": not args.quiet, "lanes": args.lanes, "sim_images": args.sim_images}
    lines = []
    for name, stage in STAGES:
        start = time.perf_counter()
        line = stage(ctx)
        seconds = time.perf_counter() - start
        lines.append({"stage": name, "summary": line, "seconds": round(seconds, 1)})
        print(f"[{name:>8}] {line} ({seconds:.1f} s)", flush=True)
    (out / "summary.json").write_text(json.dumps(lines, indent=2) + "\n")
    closing = comparison(ctx["model"])  # what was trained, beside the product model
    (out / "comparison.txt").write_text(closing + "\n")
    print(closing)
    print(f"flow complete: products in {out}/, summary in {out / 'summary.json'}")
    return 0
