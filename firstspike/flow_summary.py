# SPDX-License-Identifier: MIT
"""The end of ``firstspike flow``: the network it trained beside the shipped product model of the
same dataset, both evaluated on the same ``mnist-mini`` test images, and how to get the product
figures."""

from __future__ import annotations

from pathlib import Path

from .model import data as datamod

__all__ = ["PRODUCT_MODEL", "comparison", "comparison_rows", "format_table"]

#: The shipped MNIST product model, present in a repository checkout (not in an installed wheel).
PRODUCT_MODEL = Path(__file__).resolve().parents[1] / "models" / "bs4nn-mnist.npz"

HOW_TO = """\
The product figures are measured on the full MNIST test set (10,000 images):
  firstspike data mnist --data-dir DIR            # check and cache the full dataset (DIR holds mnist/)
  firstspike eval --model models/bs4nn-mnist --dataset mnist         # the product model's accuracy
  firstspike train --config recipes/bs4nn-mnist.toml --out runs/bs4nn-mnist   # retrain it from its recipe"""


def comparison_rows(models: dict[str, Path], dataset: str = "mnist-mini", split: str = "test") -> list[dict]:
    """``evaluate`` figures of each named model file on the same images (absent files are left out)."""
    from .model.network import load_model
    from .model.infer import evaluate

    test = datamod.load(dataset, split)
    rows = []
    for name, path in models.items():
        if not Path(path).is_file():
            continue
        net = load_model(path)
        metrics = evaluate(net, test.images.reshape(len(test.images), -1), test.labels)
        rows.append({"model": name, "arch": net.arch, "T": net.T, **metrics})
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table: model, arch, accuracy under both rules, mean decision step."""
    header = ("model", "arch", "hardware rule", "reference rule", "mean decision step")
    cells = [header] + [(r["model"], r["arch"], f"{r['accuracy_hardware'] * 100:.1f} %",
                         f"{r['accuracy_reference'] * 100:.1f} %",
                         f"{r['mean_decision_step']:.1f} of {r['T']}")
                        for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def comparison(trained: Path, product: Path = PRODUCT_MODEL) -> str:
    """The flow's closing summary for the model file ``trained``."""
    rows = comparison_rows({"trained by this flow": trained, f"product ({product.stem})": product})
    images = rows[0]["images"]
    text = [f"On the same {images} mnist-mini test images:", format_table(rows)]
    if not product.is_file():
        text.append(f"(the product model {product.name} ships with the repository checkout, not found here)")
    return "\n".join(text + [HOW_TO])
