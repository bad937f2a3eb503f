# SPDX-License-Identifier: MIT
"""``firstspike export``: 1-bit ROM images and a verified manifest for P accumulate lanes."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("export", help="write 1-bit weight ROMs (hex, bin, Memory init) and manifest.json")
    p.add_argument("--model", required=True, help="binary model file (.npz), fully connected or conv")
    p.add_argument("--lanes", type=int, nargs="+", required=True,
                   help="parallel accumulate lanes: one number for all layers (capped at each layer's width) "
                        "or one per layer; for a conv layer the lanes run over output channels")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="write into an --out folder that is not empty")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from ..model.network import load_model
    from ..outputs import claim_folder
    from .manifest import export_verified

    net = load_model(args.model)
    with claim_folder(args.out, overwrite=args.overwrite):
        exported = export_verified(net, args.lanes, args.out, source=str(args.model))
    conv = exported.plan.kind == "conv"
    lanes_txt = ", ".join(str(p) for p in exported.lanes)
    print(f"wrote {Path(args.out) / 'manifest.json'}: {net.arch}, lanes {lanes_txt}{' (output channels)' if conv else ''}, "
          f"{sum(layer.depth for layer in exported.plan.layers)} ROM words; verified")
    return 0
