# SPDX-License-Identifier: MIT
"""``firstspike rtl``: Verilog of the TTFS core from an export folder (or a model and lanes)."""

from __future__ import annotations


def add_core_source(p) -> None:
    """``--manifest DIR`` or ``--model PATH --lanes P [P ...]``: which network and lanes."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="export folder written by 'firstspike export'")
    src.add_argument("--model", help="binary model file (then give --lanes)")
    p.add_argument("--lanes", type=int, nargs="+", help="lanes with --model: one for all layers or one per layer")


def load_core_source(args):
    """(network, lanes) from the arguments of :func:`add_core_source`; exports are verified."""
    if args.manifest:
        from ..export.manifest import load_export

        exported = load_export(args.manifest)
        return exported.network, exported.lanes
    if not args.lanes:
        raise ValueError("--model needs --lanes (e.g. --lanes 16)")
    from ..model.network import Network

    return Network.load(args.model), args.lanes[0] if len(args.lanes) == 1 else args.lanes


def register(sub) -> None:
    p = sub.add_parser("rtl", help="generate the Verilog of the event-driven TTFS core")
    add_core_source(p)
    p.add_argument("--name", default="firstspike_core", help="Verilog module name")
    p.add_argument("--out", required=True, help="Verilog file to write")
    p.set_defaults(func=cmd_rtl)


def cmd_rtl(args) -> int:
    from ..model.atomic import atomic_write_text
    from .core import TTFSCore
    from .generate import to_verilog

    net, lanes = load_core_source(args)
    core = TTFSCore.from_network(net, lanes)
    text = to_verilog(core, args.name)
    atomic_write_text(args.out, text)
    p = core.params
    print(f"wrote {args.out}: module {args.name}, {'-'.join(map(str, p.sizes))}, "
          f"lanes {list(p.lanes)}, groups {p.groups}, T {p.T}, {len(text.splitlines())} lines")
    return 0
