# SPDX-License-Identifier: MIT
"""``firstspike rtl``: Verilog of the TTFS core from an export folder (or a model and lanes)."""

from __future__ import annotations


def add_core_source(p, default_lanes: int | None = None) -> None:
    """``--manifest DIR`` or ``--model PATH --lanes P [P ...]``: which hardware plan."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="export folder written by 'firstspike export' (its plan and ROMs)")
    src.add_argument("--model", help="binary model file, resolved for --lanes")
    default = f" (default {default_lanes})" if default_lanes else ""
    p.add_argument("--lanes", type=int, nargs="+",
                   help="lanes with --model: one number for all layers (capped at each layer's width) "
                        f"or one per layer{default}")


def load_core_source(args, default_lanes: int | None = None):
    """The :class:`~firstspike.export.plan.HardwarePlan` the arguments of :func:`add_core_source`
    name: an export folder's verified plan, or the model's resolved for ``--lanes``."""
    if args.manifest:
        from ..export.manifest import load_export

        if args.lanes:
            raise ValueError("--lanes goes with --model; an export folder keeps the lanes it was "
                             "exported for")
        return load_export(args.manifest).plan
    lanes = args.lanes or default_lanes
    if not lanes:
        raise ValueError("--model needs --lanes (e.g. --lanes 16)")
    from ..export.plan import build_plan
    from ..model.network import load_model

    return build_plan(load_model(args.model), lanes)


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

    with claim_file(args.out, overwrite=args.overwrite):
        core = TTFSCore(CoreParams(load_core_source(args)))
        text = to_verilog(core, args.name)
        atomic_write_text(args.out, text)
    p = core.params
    print(f"wrote {args.out}: module {args.name}, {'-'.join(map(str, p.sizes))}, "
          f"lanes {list(p.lanes)}, groups {p.groups}, T {p.T}, {len(text.splitlines())} lines")
    return 0
