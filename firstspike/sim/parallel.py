# SPDX-License-Identifier: MIT
"""``firstspike sim --workers N``: the images in N contiguous shards, each run on Verilator by a Ray
task, the records joined back in image order.

The model is built once before the shards start (a worker on another machine builds its own copy
once, under the cache lock of :func:`.verilator.build`). The joined list is what one process would
have produced, so the comparison that follows sees global image indices.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..raycluster import ray_session
from .verilator import VerilatorRun, build, run_images


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ``(start, stop)`` ranges covering ``range(n)``, sizes differing by <= 1
    (no empty shard: at most ``n`` of them)."""
    shards = max(1, min(shards, n))
    edges = [n * k // shards for k in range(shards + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _run_shard(params, pixels, options: dict, work_dir: str | None):
    """One shard on a worker (a plain function: Ray imports this module there by name)."""
    return run_images(params, pixels, work_dir=work_dir, **options).images


def run_images_sharded(params, pixels: np.ndarray, workers: int, *, address: str | None = None,
                       gaps: float = 0.0, backpressure: float = 0.0, seed: int = 1,
                       work_dir=None, log=None, netlist=None) -> VerilatorRun:
    """:func:`.verilator.run_images` over ``workers`` Ray tasks; ``seconds`` is the wall time of all
    shards. ``work_dir`` gets one ``shard-K`` folder per shard."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more")
    pixels = np.ascontiguousarray(np.asarray(pixels).reshape(len(pixels), -1), dtype=np.uint8)
    build(params, log=log, netlist=netlist)
    options = {"gaps": gaps, "backpressure": backpressure, "seed": seed, "netlist": netlist}
    bounds = shard_bounds(len(pixels), workers)
    with ray_session(address, num_cpus=None, log=log) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(_run_shard)
        params_ref = ray.put(params)
        start = time.perf_counter()
        futures = [task.remote(params_ref, pixels[a:b], options,
                               str(Path(work_dir).resolve() / f"shard-{k}") if work_dir else None)
                   for k, (a, b) in enumerate(bounds)]
        try:
            parts = _gather(ray, futures, bounds, log)
        except BaseException:
            for future in futures:
                ray.cancel(future, force=True)
            raise
        seconds = time.perf_counter() - start
    images = [image for part in parts for image in part]
    return VerilatorRun(images=images, seconds=seconds, waves=None)


def _gather(ray, futures, bounds, log) -> list:
    """The shards' results in shard order; a line per finished shard; a failed shard names its images."""
    index = {future: k for k, future in enumerate(futures)}
    results: dict[int, list] = {}
    pending = list(futures)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        k = index[done[0]]
        a, b = bounds[k]
        try:
            results[k] = ray.get(done[0])
        except ray.exceptions.RayTaskError as error:
            cause = error.as_instanceof_cause()
            raise RuntimeError(f"shard {k} (images {a}..{b - 1}) failed: {cause}") from None
        if log:
            log(f"  shard {k}: images {a}..{b - 1} done ({len(results)}/{len(futures)})")
    return [results[k] for k in range(len(futures))]
