# SPDX-License-Identifier: MIT
"""``firstspike build`` / ``program`` / ``infer``: bitstreams for open boards and inference over UART."""

import json
from pathlib import Path

from ..model import data as datamod


#: lanes of ``build --model`` without ``--lanes``
BUILD_LANES = 16


def register(sub) -> None:
    from ..rtl.cli import add_core_source
    from .registry import BOARDS

    p = sub.add_parser("build", help="bitstream + report.md/report.json for a board (yosys/nextpnr)")
    p.add_argument("--board", required=True, choices=sorted(BOARDS))
    add_core_source(p, default_lanes=BUILD_LANES)
    p.add_argument("--out", required=True, help="folder for the bitstream and the reports")
    p.add_argument("--overwrite", action="store_true", help="build into an --out folder that is not empty")
    p.add_argument("--baud", type=int, default=115200,
                   help="UART baud rate, any up to clock / 4 (e.g. 3000000 with a fast USB-serial bridge)")
    p.add_argument("--clock-mhz", type=float, help="core clock through the PLL (default: the board's)")
    p.add_argument("--toolchain", choices=("yowasp", "system"), default="yowasp",
                   help="YoWASP tools from pip (default) or yosys/nextpnr on PATH")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--dataset", default="mnist-mini", choices=datamod.DATASETS,
                   help="images whose predicted cycle counts give the latency figures")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=500, help="images used for the cycle figures")
    p.add_argument("--force", action="store_true", help="build even when the fit check says it will not fit")
    p.add_argument("--synth-opts", default="", help="extra options for yosys synth_<family>, e.g. '-abc9'")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("program", help="load a built bitstream onto a board (openFPGALoader/dfu-util/iceprog)")
    p.add_argument("--board", required=True, choices=sorted(BOARDS))
    p.add_argument("dir", help="the folder 'firstspike build' wrote")
    p.set_defaults(func=cmd_program)

    p = sub.add_parser("infer", help="classify images on a board over its UART and check every reply")
    p.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    p.add_argument("--model", required=True, help="the model the board was built with")
    p.add_argument("--dataset", default="mnist", choices=datamod.DATASETS)
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a reply")
    p.add_argument("--retries", type=int, default=2,
                   help="times a frame is resent after a missing or error reply (default 2)")
    p.add_argument("--lanes", type=int, help="the board's lane count: also check exact cycle counts")
    p.add_argument("--frames", choices=("events", "raw"), default="events",
                   help="send images as input events (default; raw where that is shorter) or raw pixels")
    p.add_argument("--window", type=int, default=4, help="frames in flight before waiting for a reply (default 4)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_infer)


def cmd_build(args) -> int:
    from ..outputs import claim_folder
    from ..rtl.cli import core_events, core_taps, load_core_source
    from .build import build

    plan = load_core_source(args, default_lanes=BUILD_LANES)
    taps = core_taps(args, plan)
    events = core_events(args, plan)
    with claim_folder(args.out, overwrite=args.overwrite):  # before minutes of synthesis
        report = build(args.board, plan, args.out, source=args.manifest or args.model, baud=args.baud,
                       clock_mhz=args.clock_mhz, toolchain=args.toolchain, seed=args.seed,
                       dataset=args.dataset, data_dir=args.data_dir, limit=args.limit,
                       force=args.force, synth_opts=args.synth_opts, taps=taps, events=events)
    print(f"{report['board']}: {report['luts']} LUTs, {report['ffs']} FFs, {report['ebr']} EBR, "
          f"Fmax {report['fmax_mhz']:.1f} MHz ({'meets' if report['timing_met'] else 'MISSES'} "
          f"{report['clock_mhz']:.1f} MHz), {report['cycles_mean']:.0f} cycles = "
          f"{report['latency_us_mean']:.2f} us/image; {Path(args.out) / report['bitstream']}")
    return 0


def cmd_program(args) -> int:
    from .program import program

    program(args.board, args.dir)
    return 0


def cmd_infer(args) -> int:
    from .host import infer_serial

    summary = infer_serial(args.port, args.model, dataset=args.dataset, data_dir=args.data_dir,
                           limit=args.limit, baud=args.baud, timeout=args.timeout,
                           lanes=args.lanes, retries=args.retries, window=args.window, frames=args.frames)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['images']} images: {summary['mismatches']} mismatches against the golden model, "
              f"accuracy {summary['accuracy'] * 100:.2f} %, mean {summary['cycles_mean']:.0f} cycles, "
              f"{summary['images_per_s']:.1f} images/s over the UART")
    return 1 if summary["mismatches"] or summary["errors"] else 0
