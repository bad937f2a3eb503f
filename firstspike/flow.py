# SPDX-License-Identifier: MIT
"""``firstspike flow``: the main job, every stage the toolkit has, on the shipped ``mnist-mini``.

With ``--model PATH`` it takes a model file instead of training one (any shipped model, conv
included): eval -> export -> simulate -> build, on the board the fit check picks (the smallest that
fits) or on ``--board``. Stages run in order and each one checks itself against the previous one;
any failure raises.
A stage is a function ``stage(ctx) -> str`` returning one summary line; ``ctx`` is a dict that
carries paths and results between stages.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .flow_summary import comparison
from .model import data as datamod
from .outputs import atomic_write_text, claim_folder


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
    dataset = ctx.get("dataset", "mnist-mini")
    test = datamod.load(dataset, "test", data_dir=ctx.get("data_dir"))
    metrics = evaluate(net, test.images.reshape(len(test.images), -1), test.labels)
    ctx["eval"] = metrics
    return (f"{dataset} test: {metrics['accuracy_hardware'] * 100:.1f} % (hardware rule), "
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
    dataset = ctx.get("dataset", "mnist-mini")
    images = datamod.load(dataset, "test", data_dir=ctx.get("data_dir")).images[:count]
    images = images.reshape(len(images), -1)
    summary = simulate_dataset(plan, images, gaps=0.1, backpressure=0.1, seed=ctx["seed"] + 1,
                               work_dir=ctx["out"] / "sim", golden=net, taps=ctx.get("taps", 1))
    ctx["simulate"] = summary
    if summary["mismatches"]:
        raise RuntimeError(f"RTL differs from the golden model: {summary['first_mismatch']}")
    ctx["plan"] = plan  # the plan the simulation checked: the build uses exactly this one
    return (f"{summary['images']} {dataset} images on Verilator: {summary['mismatches']} mismatches, "
            f"cycles mean {summary['cycles_mean']:.0f} (max {summary['cycles_max']}, accumulate bound "
            f"{summary['bound_mean']:.0f}), {summary['images_per_second']:.0f} images/s")


#: Board of the flow's bitstream stage.
FLOW_BOARD = "ulx3s-25f"


def stage_build(ctx) -> str:
    from .boards.build import build

    board = ctx.get("board", FLOW_BOARD)
    report = build(board, ctx["plan"], ctx["out"] / "build", source=str(ctx["export"]),
                   taps=ctx.get("taps", 1), dataset=ctx.get("dataset", "mnist-mini"), data_dir=ctx.get("data_dir"), log=lambda m: None)
    ctx["build"] = report
    return (f"{board} bitstream of {ctx['export']}: {report['luts']} LUTs, {report['ebr']} EBR, "
            f"Fmax {report['fmax_mhz']:.1f} MHz ({'meets' if report['timing_met'] else 'MISSES'} "
            f"{report['clock_mhz']:.0f} MHz), {report['latency_us_mean']:.1f} us/image")


#: The pipeline, in order.
STAGES = [("train", stage_train), ("eval", stage_eval), ("export", stage_export),
          ("simulate", stage_simulate), ("build", stage_build)]


def smallest_fitting_board(plan, taps: int = 1) -> str:
    """The board with the fewest LUTs (then block RAMs) whose fit check accepts ``plan``; if none
    does, the fit check's refusal on the largest board (what would fit) as a ValueError."""
    from .boards import fit
    from .boards.registry import BOARDS

    boards = sorted(BOARDS.values(), key=lambda b: (b.device.luts, b.device.ebr))
    for board in boards:
        if fit.fits(fit.estimate(plan, board.device.family, taps), board.device):
            return board.name
    largest = boards[-1]
    fit.check_fit(plan, largest.device, largest.name, taps=taps)  # raises, naming what would fit
    raise AssertionError("unreachable: the fit check accepted a plan fits() refused")


def _model_context(args) -> dict:
    """Checks of ``flow --model`` that need no long work: the model loads, its input size matches the
    images, the core implements it, and a board is chosen (``--board``, else the smallest that fits)."""
    from .boards import fit
    from .boards.registry import get_board
    from .export.plan import build_plan
    from .model.network import load_model
    from .rtl.params import CoreParams

    net = load_model(args.model)
    n_pixels = int(datamod.load(args.dataset, "test", data_dir=args.data_dir).images[0].size)
    if net.sizes[0] != n_pixels:
        raise ValueError(f"{args.model} takes {net.sizes[0]} inputs but {args.dataset} images have "
                         f"{n_pixels} pixels; give --dataset of the model's input size")
    plan = build_plan(net, args.lanes)
    CoreParams(plan, taps=args.taps)  # refuses a plan or --taps the core does not implement
    if args.board:
        board = get_board(args.board)
        fit.check_fit(plan, board.device, board.name, taps=args.taps)
    return {"model": Path(args.model), "board": args.board or smallest_fitting_board(plan, args.taps),
            "dataset": args.dataset, "data_dir": args.data_dir, "taps": args.taps}


def register(sub) -> None:
    p = sub.add_parser("flow", help="the main job: train -> export -> simulate -> build on mnist-mini "
                                    "(or --model PATH: eval -> export -> simulate -> build of that model)")
    p.add_argument("--out", default="flow-out", help="folder for every stage's products")
    p.add_argument("--arch", default="784-64-10", help="network trained on mnist-mini")
    p.add_argument("--model", help="a model file (any shipped model, conv included) instead of training one")
    p.add_argument("--board", help="with --model: the board to build for (default: the smallest the "
                                   "fit check accepts)")
    p.add_argument("--taps", type=int, default=1,
                   help="with --model: output positions per cycle of each conv layer")
    p.add_argument("--dataset", default="mnist-mini", choices=("mnist-mini", "mnist", "fashion-mnist"),
                   help="with --model: test images of the eval, the simulation and the build's cycle figures")
    p.add_argument("--data-dir", help="with --model: folder of the full datasets")
    p.add_argument("--no-build", action="store_true", help="with --model: stop after the simulation")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lanes", type=int, nargs="+", default=[16],
                   help="accumulate lanes of the exported core (one for all layers or one per layer); "
                        "the simulation and the bitstream use that export")
    p.add_argument("--sim-images", type=int, default=20, help="mnist-mini test images run on Verilator")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the products of an earlier flow in --out (else a used --out is refused)")
    p.set_defaults(func=cmd_flow)


#: what the flow writes in its --out: removed first by ``flow --overwrite``
FLOW_PRODUCTS = ("train", "export", "sim", "build", "summary.json", "comparison.txt")


def cmd_flow(args) -> int:
    if args.model is None:
        given = [f"--{name.replace('_', '-')}" for name in ("board", "data_dir", "no_build")
                 if getattr(args, name)] + (["--taps"] if args.taps != 1 else []) + (
                 ["--dataset"] if args.dataset != "mnist-mini" else [])
        if given:
            raise ValueError(f"{', '.join(given)} apply to a given model only; add --model PATH")
        model_ctx = None
    else:
        model_ctx = _model_context(args)  # bad input fails here, before any stage
    with claim_folder(args.out, overwrite=args.overwrite, remove=FLOW_PRODUCTS) as out:
        return _run_flow(args, out, model_ctx)


def _run_flow(args, out: Path, model_ctx: dict | None = None) -> int:
    ctx = {"out": out, "arch": args.arch, "epochs": args.epochs, "seed": args.seed,
           "progress": not args.quiet, "lanes": args.lanes, "sim_images": args.sim_images,
           **(model_ctx or {})}
    stages = STAGES
    if model_ctx is not None:
        stages = [(name, stage) for name, stage in STAGES
                  if name != "train" and not (name == "build" and args.no_build)]
    lines = []
    for name, stage in stages:
        start = time.perf_counter()
        line = stage(ctx)
        seconds = time.perf_counter() - start
        lines.append({"stage": name, "summary": line, "seconds": round(seconds, 1)})
        print(f"[{name:>8}] {line} ({seconds:.1f} s)", flush=True)
    atomic_write_text(out / "summary.json", json.dumps(lines, indent=2) + "\n")
    if model_ctx is None:
        closing = comparison(ctx["model"])  # what was trained, beside the product model
        atomic_write_text(out / "comparison.txt", closing + "\n")
        print(closing)
    print(f"flow complete: products in {out}/, summary in {out / 'summary.json'}")
    return 0
