# SPDX-License-Identifier: MIT
"""Benchmark: the board top's UART link on a seeded noisy line, several seeds, on Verilator.

Each seed draws ``--frames`` intact request frames with garbage between them (bursts with and
without 0xA5, bit-flipped and truncated frames, framing errors, frames back to back; see
``tests/boards/link_noise.py``) and drives the board top with the test-only stand-in core. Prints,
per seed, the intact frames lost, OK replies that answer no intact frame, replies the host's seq
matcher paired wrongly, and the reply counts by status; exit 1 if any count is not 0. Example:

    python benchmarks/link_noise.py --seeds 1 2 3 4 5 6 7 8 --frames 1200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--frames", type=int, default=1200, help="intact frames per seed")
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    # the generator, the stand-in core and the cocotb bench are test code
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "boards")]
    from tests.boards.link_noise import check_replies, noisy_line
    from tests.boards.test_link_noise import DIV, N, TIMEOUT, run_on_verilator

    failed = 0
    for seed in args.seeds:
        line = noisy_line(seed, args.frames, N, TIMEOUT // DIV)
        start = time.monotonic()
        with tempfile.TemporaryDirectory() as work:
            chars = run_on_verilator(line, Path(work))
        outcome = check_replies(line, chars)
        bad = outcome.lost + outcome.wrong_ok + outcome.host_wrong + outcome.host_missing
        failed += bad > 0
        print(f"seed {seed}: {len(line.intact)} intact frames, segments {dict(line.kinds)}; "
              f"{outcome.summary()} ({time.monotonic() - start:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
