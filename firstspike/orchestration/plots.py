# SPDX-License-Identifier: MIT
"""The pictures of a sweep (metric per trial, accuracy against decision step) and of an explore
table (LUTs against latency, the Pareto front marked)."""

from __future__ import annotations

import io

from ..outputs import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path) -> None:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def sweep_plot(results: list[dict], path, metric: str, title: str = "") -> None:
    """Left: the metric of each trial in finishing order, the best marked. Right: validation accuracy
    against mean decision step, one point per trial."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    objective = [r["objective"] for r in results]
    colours = ["tab:blue" if r["status"] == "done" else "0.6" for r in results]
    left.scatter(range(len(results)), objective, c=colours)
    best = max(range(len(results)), key=lambda i: (results[i]["status"] == "done", objective[i]))
    left.scatter([best], [objective[best]], s=160, facecolors="none", edgecolors="tab:red", label="best")
    left.set_xlabel("trial (finishing order; grey: stopped early)")
    left.set_ylabel(metric)
    left.grid(alpha=0.3)
    left.legend(loc="lower right", fontsize=8)
    points = [(r["metrics"]["val_mean_step"], r["metrics"]["val_accuracy"], r["trial_id"]) for r in results
              if "val_mean_step" in r["metrics"]]
    right.scatter([p[0] for p in points], [p[1] for p in points], color="tab:orange")
    for step, acc, tid in points:
        right.annotate(tid[:6], (step, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    right.set_xlabel("mean decision step on validation (latency)")
    right.set_ylabel("validation accuracy (hardware rule)")
    right.grid(alpha=0.3)
    fig.suptitle(title)
    _save(plt, fig, path)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both (lower x and lower y), by x."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 <= y) and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i])


def pareto_plot(rows: list[dict], path, title: str = "") -> None:
    """LUTs against mean latency of every built combination, labelled with board, lanes, clock and
    accuracy; the Pareto front joined by a line."""
    plt = _pyplot()
    built = [r for r in rows if r.get("luts") not in (None, "")]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    points = [(float(r["luts"]), float(r["latency_us_mean"])) for r in built]
    ax.scatter([p[0] for p in points], [p[1] for p in points], color="tab:blue")
    for r, (x, y) in zip(built, points):
        acc = f", acc {r['accuracy'] * 100:.1f} %" if r.get("accuracy") not in (None, "") else ""
        ax.annotate(f"{r['board']} L{r['lanes']} {r['clock_mhz']:g} MHz{acc}", (x, y), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    front = pareto_front(points)
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "--", color="tab:red",
            label="Pareto front")
    ax.set_xlabel("LUTs (logic cells)")
    ax.set_ylabel("mean latency per image (us)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if points:
        ax.legend(fontsize=8)
    ax.set_title(title)
    _save(plt, fig, path)
