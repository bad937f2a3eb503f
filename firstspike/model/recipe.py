# SPDX-License-Identifier: MIT
"""Training recipes: ``firstspike train --config FILE.toml`` (``recipes/*.toml``).

Top-level keys are :class:`.train_config.TrainConfig` fields (the names of a model's
``meta["config"]``), the layer-geometry options in a ``[conv]`` table. Two keys describe how a run
goes on after its first ``fit``:

``epochs_stages = [40, 60]``
    train to epoch 40, then resume to 60 (the cosine schedule is stretched to the new length at
    the resume, as ``--resume --epochs 60`` does); it replaces ``epochs`` (and ``--epochs`` on the
    command line replaces it: one fit to that epoch).
``[calibrate]``
    after training, ``firstspike calibrate`` on the run's ``model.npz`` into ``calibrated.npz``
    beside it; keys: ``layers`` ("output", "all" or "0,2"), ``rounds``, ``span``, ``max_step``,
    ``holdout`` (as the command's options).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .train_config import check_types, config_from_dict

CALIBRATE_KEYS = {"layers": str, "rounds": int, "span": list, "max_step": (int, float), "holdout": (int, float)}


@dataclass
class Recipe:
    values: dict  # TrainConfig fields, conv options in values["conv"]
    stages: list[int] | None = None
    calibrate: dict | None = None
    path: str = ""

    def config(self, overrides: dict | None = None):
        """The :class:`TrainConfig` of the file with ``overrides`` (field names; conv options in
        ``overrides["conv"]``) on top."""
        values = {**self.values, **{k: v for k, v in (overrides or {}).items() if k != "conv"}}
        values["conv"] = {**self.values.get("conv", {}), **(overrides or {}).get("conv", {})}
        return config_from_dict(values, self.path or "config")


def read_recipe(path) -> Recipe:
    """Read and check a recipe file; any unknown key or wrongly typed value raises a one-line
    ``ValueError`` naming it, the file and the valid keys."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the recipe ({exc})") from None
    stages = values.pop("epochs_stages", None)
    calibrate = values.pop("calibrate", None)
    rising = isinstance(stages, list) and stages and stages == sorted(stages) and all(
        isinstance(s, int) and s >= 1 for s in stages)
    if stages is not None and (not rising or "epochs" in values):
        raise ValueError(f"{path}: epochs_stages must be a rising list of epoch counts, e.g. [40, 60], "
                         f"and replaces epochs; got {stages!r}")
    if calibrate is not None:
        bad = [k for k, v in calibrate.items() if k not in CALIBRATE_KEYS or not isinstance(v, CALIBRATE_KEYS[k])]
        if bad or not isinstance(calibrate, dict):
            raise ValueError(f"{path}: [calibrate] key(s) {bad} unknown or of the wrong type; valid keys "
                             f"are {list(CALIBRATE_KEYS)}")
    check_types(values, str(path))
    recipe = Recipe(values, stages, calibrate, str(path))
    recipe.config()  # unknown keys fail here, before any data loads
    return recipe
