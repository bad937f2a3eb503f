# SPDX-License-Identifier: MIT
"""Plots people would rather look at than read: training curves, threshold scans."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..outputs import atomic_write_bytes  # noqa: E402


def training_curve(history: list[dict], path, title: str = "") -> None:
    """Accuracy per epoch (running train, validation and test under both rules) as a PNG."""
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(epochs, [r["train_accuracy_running"] for r in history], label="train (running, hw)",
            color="0.6")
    for split, colour in (("val", "tab:blue"), ("test", "tab:orange")):
        ax.plot(epochs, [r[split]["hardware"] for r in history], label=f"{split} hardware rule",
                color=colour)
        ax.plot(epochs, [r[split]["reference"] for r in history], "--",
                label=f"{split} reference rule", color=colour)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    _save_png(fig, path)


def threshold_scan(scan: list[dict], path, title: str = "") -> None:
    """Validation accuracy and mean decision step against one layer's threshold, as a PNG."""
    theta = [r["threshold"] for r in scan]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(theta, [r["accuracy"] for r in scan], "o-", color="tab:blue", label="validation accuracy")
    ax.set_xlabel("threshold (fire when V > threshold)")
    ax.set_ylabel("accuracy", color="tab:blue")
    ax.grid(alpha=0.3)
    steps = ax.twinx()
    steps.plot(theta, [r["mean_decision_step"] for r in scan], "s--", color="tab:orange",
               label="mean decision step")
    steps.set_ylabel("mean decision step (latency)", color="tab:orange")
    ax.set_title(title)
    _save_png(fig, path)


def _save_png(fig, path) -> None:
    """Lay out, render and close ``fig``, then write the PNG to ``path`` atomically."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
