"""Plots of the experiment binaries: a headless matplotlib, figures saved atomically as PNG."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from infra.files import atomic_write


def new_figure(rows: int = 1, columns: int = 1,
               size: tuple[float, float] = (6, 4)) -> tuple[Any, np.ndarray]:
    """A matplotlib figure (headless backend) and its axes as an array [rows, columns]."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, columns, figsize=size, squeeze=False)


def save_figure(figure: Any, path: str, dpi: int = 100) -> None:
    """Saves `figure` as a PNG, atomically, and closes it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi), mode="wb")
    plt.close(figure)


def plot_learning_curves(path: str, rows: Sequence[Mapping[str, float]], x: str,
                         names: Sequence[str], title: str, x_label: str,
                         log_scale: Collection[str] = ()) -> None:
    """One panel per metric in `names` against column `x` of `rows`, saved as a PNG.

    Metrics in `log_scale` get a logarithmic y axis.
    """
    figure, axes = new_figure(1, len(names), size=(max(3.2 * len(names), 5), 3.2))
    steps = [row[x] for row in rows]
    for ax, name in zip(axes[0], names):
        ax.plot(steps, [row[name] for row in rows])
        ax.set_xlabel(x_label)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        if name in log_scale:
            ax.set_yscale("log")
    figure.suptitle(title)
    save_figure(figure, path)
