# SPDX-License-Identifier: MIT
"""``firstspike explore``: one model built for boards x lane counts x clocks, the builds as Ray tasks.

Every combination the fit check accepts is a task that runs ``firstspike build`` into its own folder
``<board>-lanes<P>-<clock>`` under the output folder; a refused combination costs nothing and keeps
the fit check's reason. The ``report.json`` of every build goes into ``explore.csv`` (and
``explore.json``), and ``pareto.png`` draws LUTs against latency with the Pareto front.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from ..outputs import atomic_write_json, atomic_write_text
from ..raycluster import ray_session

#: ``folder``: the combination's build folder under the output folder (none for a refused one)
COLUMNS = ("board", "lanes", "clock_mhz", "status", "luts", "ffs", "ebr", "fmax_mhz", "timing_met", "cycles_mean",
           "latency_us_mean", "images_per_s", "accuracy", "estimate_luts", "build_seconds", "folder", "reason")


def folder_name(board: str, lanes: int, clock_mhz: float | None) -> str:
    clock = "default" if clock_mhz is None else f"{clock_mhz:g}mhz"
    return f"{board}-lanes{lanes}-{clock}"


def build_one(board: str, net, lanes: int, folder: str, options: dict) -> dict:
    """One build on a worker (``firstspike build`` without its output claim: the explore folder is
    claimed by the driver). Returns its report."""
    from ..boards.build import build
    from ..export.plan import build_plan

    plan = build_plan(net, lanes)
    return build(board, plan, folder, log=lambda message: None, **options)


def _row(board, lanes, clock, status, folder="", reason="", report=None, accuracy=None) -> dict:
    row = {"board": board, "lanes": lanes, "clock_mhz": clock if clock is not None else "", "status": status,
           "folder": folder, "reason": reason, "accuracy": accuracy}
    if report:
        row.update({k: report[k] for k in ("luts", "ffs", "ebr", "fmax_mhz", "timing_met", "cycles_mean",
                                           "latency_us_mean", "images_per_s", "build_seconds")})
        row["clock_mhz"] = round(report["clock_mhz"], 3)
        row["estimate_luts"] = report["estimate"]["luts"]
    return row


def explore(model_path, boards: list[str], lanes: list[int], clocks: list[float | None], out, *,
            dataset="mnist-mini", data_dir=None, limit=500, seed=1, resume=False, address=None, num_cpus=None,
            log=print) -> list[dict]:
    """Build every accepted combination; write explore.csv, explore.json and pareto.png in ``out``
    (claimed by the caller). Returns the table's rows."""
    from ..boards import fit
    from ..boards.registry import BOARDS, get_board
    from ..export.plan import build_plan
    from ..model import data as datamod
    from ..model.infer import evaluate
    from ..model.network import load_model
    from .plots import pareto_plot

    out = Path(out)
    net = load_model(model_path)
    ds = datamod.load(dataset, "test", data_dir=data_dir)
    accuracy = evaluate(net, ds.images[:limit], ds.labels[:limit])["accuracy_hardware"]  # a bad dataset fails here
    log(f"{net.arch}: accuracy {accuracy * 100:.2f} % on {min(limit, len(ds))} {dataset} test images (hardware rule)")
    rows, jobs = [], []
    for board in boards:
        device = get_board(board).device
        for p in lanes:
            plan = build_plan(net, p)
            for clock in clocks:
                name = folder_name(board, p, clock)
                try:
                    fit.check_fit(plan, device, board, other_boards=BOARDS.values())
                except ValueError as refusal:
                    rows.append(_row(board, p, clock, "refused", name, reason=str(refusal)))
                    continue
                report_file = out / name / "report.json"
                if resume and report_file.is_file():
                    rows.append(_row(board, p, clock, "built", name, report=json.loads(report_file.read_text()),
                                     accuracy=accuracy))
                    continue
                jobs.append((board, p, clock, name))
    log(f"{len(jobs)} build(s) to run, {sum(r['status'] == 'refused' for r in rows)} refused by the fit check, "
        f"{sum(r['status'] == 'built' for r in rows)} already built")
    try:
        if jobs:
            with ray_session(address, num_cpus, log=log) as ray:
                rows += _run(ray, net, jobs, out, dict(dataset=dataset, data_dir=data_dir, limit=limit, seed=seed),
                             accuracy, log)
    finally:
        order = [folder_name(b, p, c) for b in boards for p in lanes for c in clocks]
        rows.sort(key=lambda r: order.index(r["folder"]))
        write_table(out, rows)
        pareto_plot(rows, out / "pareto.png", title=f"{Path(model_path).name} ({net.arch})")
    return rows


def _run(ray, net, jobs, out: Path, options: dict, accuracy: float, log) -> list[dict]:
    task = ray.remote(num_cpus=1, max_retries=0)(build_one)
    net_ref = ray.put(net)
    start = time.perf_counter()
    futures = {}
    for board, p, clock, name in jobs:
        folder = str((out / name).resolve())
        futures[task.remote(board, net_ref, p, folder, {**options, "clock_mhz": clock})] = (board, p, clock, name)
    rows, pending = [], list(futures)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            board, p, clock, name = futures[done[0]]
            try:
                report = ray.get(done[0])
            except ray.exceptions.RayTaskError as error:
                reason = " ".join(str(error.as_instanceof_cause()).split())[:500]
                rows.append(_row(board, p, clock, "failed", name, reason=reason))
                log(f"  {name}: FAILED ({reason[:200]})")
                continue
            rows.append(_row(board, p, clock, "built", name, report=report, accuracy=accuracy))
            log(f"  {name}: {report['luts']} LUTs, Fmax {report['fmax_mhz']:.1f} MHz, "
                f"{report['latency_us_mean']:.2f} us/image ({len(rows)}/{len(jobs)}, "
                f"{time.perf_counter() - start:.0f} s)")
    except BaseException:
        for future in pending:
            ray.cancel(future, force=True)
        raise
    return rows


def write_table(out: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k, "")) for k in COLUMNS})
    atomic_write_text(out / "explore.csv", buffer.getvalue())
    atomic_write_json(out / "explore.json", rows)
