# SPDX-License-Identifier: MIT
"""``firstspike rtl``: Verilog of the TTFS core from an export folder (or a model and lanes)."""

from __future__ import annotations

from dataclasses import dataclass


def add_core_source(p, default_lanes: int | None = None) -> None:
    """``--manifest DIR`` and/or ``--model PATH --lanes P [P ...]``: which hardware plan."""
    p.add_argument("--manifest", help="export folder written by 'firstspike export' (its plan and ROMs, "
                                      "checked against the manifest's seal)")
    p.add_argument("--model", help="binary model file, resolved for --lanes; with --manifest, the model "
                                   "the export must match field by field")
    default = f" (default {default_lanes})" if default_lanes else ""
    p.add_argument("--lanes", type=int, nargs="+",
                   help="lanes with --model: one number for all layers (capped at each layer's width) "
                        f"or one per layer{default}")
    p.add_argument("--taps", type=int, default=1,
                   help="output positions per cycle of each conv layer (capped at its output width; "
                        "more taps, more potential banks and kernel read ports, fewer cycles; default 1)")
    p.add_argument("--events-per-cycle", type=int, default=1, dest="events_per_cycle", metavar="K",
                   help="input events of one time step each fully parallel fc layer adds per cycle (a K-input "
                        "signed popcount per neuron, K weight-ROM read ports; needs one lane per neuron; "
                        "default 1)")


def core_taps(args, plan) -> int:
    """``--taps`` checked against ``plan``: at least 1, and more than 1 only if a layer runs on the
    conv engine. Taps are a generator choice (the ROMs and spike times do not change), so they are a
    command-line option, not part of the sealed manifest."""
    from .params import uses_conv_engine

    taps = getattr(args, "taps", 1)
    if taps < 1:
        raise ValueError(f"--taps {taps}: a conv layer updates at least 1 output position per cycle")
    if taps > 1 and not any(uses_conv_engine(layer) for layer in plan.layers):
        raise ValueError(f"--taps {taps} applies to conv layers and {plan.arch} has none; drop --taps")
    return taps


def core_events(args, plan) -> int:
    """``--events-per-cycle`` checked against ``plan`` (:func:`~.params.check_events`). Like taps, a
    generator choice: ROMs and spike times do not change, so it is not part of the sealed manifest."""
    from .params import check_events

    events = getattr(args, "events_per_cycle", 1)
    try:
        return check_events(plan, events)
    except ValueError as error:
        raise ValueError(f"--events-per-cycle {events}: {error}") from None


@dataclass(frozen=True)
class CoreSource:
    """The plan the arguments name, the golden model its results are checked against, and one line
    saying where that golden model comes from."""

    plan: object
    golden: object
    truth: str


def resolve_core_source(args, default_lanes: int | None = None) -> CoreSource:
    """:func:`load_core_source` with the golden model: the model file's when ``--model`` is given
    (and then an export folder must match it field by field), else the sealed export's ROMs."""
    if not (args.manifest or args.model):
        raise ValueError("give --manifest DIR (an export folder) or --model PATH --lanes P")
    if args.manifest:
        from ..export.manifest import check_model, load_export

        if args.lanes:
            raise ValueError("--lanes goes with --model alone; an export folder keeps the lanes it was "
                             "exported for")
        exported = load_export(args.manifest)
        if not args.model:
            return CoreSource(exported.plan, exported.network,
                              f"golden model: rebuilt from the sealed manifest of {args.manifest} (seal "
                              f"sha256 {exported.digest[:16]}); add --model to check it against a model file")
        from ..model.network import load_model

        net = load_model(args.model)
        check_model(exported, net, args.model)
        return CoreSource(exported.plan, net, f"golden model: {args.model}; {args.manifest} matches it "
                                              f"field by field (seal sha256 {exported.digest[:16]})")
    lanes = args.lanes or default_lanes
    if not lanes:
        raise ValueError("--model needs --lanes (e.g. --lanes 16)")
    from ..export.plan import build_plan
    from ..model.network import load_model

    net = load_model(args.model)
    plan = build_plan(net, lanes)
    return CoreSource(plan, net, f"golden model: {args.model}, resolved for lanes {plan.lanes}")


def load_core_source(args, default_lanes: int | None = None):
    """The :class:`~firstspike.export.plan.HardwarePlan` the arguments of :func:`add_core_source`
    name: an export folder's verified plan (checked against ``--model`` when given too), or the
    model's resolved for ``--lanes``."""
    return resolve_core_source(args, default_lanes).plan


def register(sub) -> None:
    p = sub.add_parser("rtl", help="generate the Verilog of the event-driven TTFS core")
    add_core_source(p)
    p.add_argument("--name", default="firstspike_core", help="Verilog module name")
    p.add_argument("--out", required=True, help="Verilog file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_rtl)


def cmd_rtl(args) -> int:
    from ..outputs import atomic_write_text, claim_file
    from .core import TTFSCore
    from .generate import to_verilog
    from .params import CoreParams

    plan = load_core_source(args)  # a missing or edited source is reported before the output is checked
    taps = core_taps(args, plan)
    events = core_events(args, plan)
    with claim_file(args.out, overwrite=args.overwrite):
        core = TTFSCore(CoreParams(plan, taps=taps, events=events))
        text = to_verilog(core, args.name)
        atomic_write_text(args.out, text)
    p = core.params
    print(f"wrote {args.out}: module {args.name}, {'-'.join(map(str, p.sizes))}, "
          f"lanes {list(p.lanes)}, groups {p.groups}, taps {p.taps}, events/cycle {p.events}, T {p.T}, {len(text.splitlines())} lines")
    return 0
