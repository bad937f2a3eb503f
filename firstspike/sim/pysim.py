# SPDX-License-Identifier: MIT
"""Run the core in the Amaranth simulator (no Verilator): fast enough for small networks."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from ..rtl.core import TTFSCore
from ..rtl.events import input_events
from .check import HardwareImage

__all__ = ["simulate"]


def simulate(core: TTFSCore, pixels: np.ndarray, *, gaps: float = 0.0, backpressure: float = 0.0,
             seed: int = 0, max_cycles: int = 2_000_000, inputs: str = "pixels") -> list[HardwareImage]:
    """Feed every image, collect results and spikes.

    ``inputs``: feed the pixels, or ("events") each image's input events in the encoder's order
    (:func:`~firstspike.rtl.events.input_events`) and an ``end`` record.

    ``gaps``: probability that the pixel source idles in a cycle; ``backpressure``: probability
    that the result and spike consumers hold ``ready`` low in a cycle (seeded by ``seed``).
    Spikes belong to the image whose pixels were accepted last (the core drains them before it
    accepts the next image).
    """
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    rng = np.random.default_rng(seed)
    n_images = len(pixels)
    images: list[HardwareImage] = []
    spikes: list[list] = [[] for _ in range(n_images)]
    accepted_images = [0]  # images whose first pixel has been accepted
    state = {"cycles": 0}

    sim = Simulator(core)
    sim.add_clock(1e-6)

    async def bench(ctx):
        if inputs == "events":
            port = core.events
            p = core.params
            queue = []
            for i in range(n_images):
                addresses, times = input_events(pixels[i], p.encoding, p.T)
                queue += [(i, {"address": int(a), "time": int(t), "end": 0}) for a, t in zip(addresses, times)]
                queue.append((i, {"address": 0, "time": 0, "end": 1}))
        else:
            port = core.pixels
            queue = [(i, int(p)) for i in range(n_images) for p in pixels[i]]
        pos = 0
        drained = False
        while not drained:
            state["cycles"] += 1
            if state["cycles"] > max_cycles:
                raise RuntimeError(f"the core produced {len(images)} of {n_images} results "
                                   f"within {max_cycles} cycles")
            offer = pos < len(queue) and rng.random() >= gaps
            ctx.set(port.valid, offer)
            if offer:
                ctx.set(port.payload, queue[pos][1])
            ctx.set(core.result.ready, rng.random() >= backpressure)
            ctx.set(core.spikes.ready, rng.random() >= backpressure)
            _, _, p_ready, r_valid, r_ready, r_pay, s_valid, s_ready, s_pay = await ctx.tick().sample(
                port.ready, core.result.valid, core.result.ready, core.result.payload,
                core.spikes.valid, core.spikes.ready, core.spikes.payload)
            if s_valid and s_ready:
                spikes[accepted_images[0] - 1].append(
                    (int(s_pay.layer), int(s_pay.neuron), int(s_pay.time)))
            if r_valid and r_ready:
                images.append(HardwareImage(int(r_pay.cls), int(r_pay.step), int(r_pay.cycles)))
            # after the last result the core is idle again once it asks for pixels
            drained = len(images) == n_images and bool(p_ready)
            if offer and p_ready:
                index = queue[pos][0]
                if pos == 0 or queue[pos - 1][0] != index:
                    accepted_images[0] = index + 1
                pos += 1

    sim.add_testbench(bench)
    sim.run()
    for image, recs in zip(images, spikes):
        image.spikes = recs
    return images
