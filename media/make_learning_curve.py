"""Draw media/learning-curve.png: the developer learning curve, steep where this book flattens it.

The curves are an illustration, not data: cumulative skill against hours, as logistic functions.
Run with `python media/make_learning_curve.py`; the PNG beside this script is its output.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def logistic(t, midpoint, steepness):
    return 1 / (1 + np.exp(-(t - midpoint) / steepness))


def main() -> None:
    hours = np.linspace(0, 120, 400)
    alone = logistic(hours, midpoint=70, steepness=9)
    guided = logistic(hours, midpoint=38, steepness=13)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    ax.plot(
        hours,
        alone,
        color="#b2182b",
        linestyle="--",
        linewidth=2.5,
        label="alone: tutorials, errors, searching",
    )
    ax.plot(
        hours,
        guided,
        color="#2166ac",
        linestyle="-",
        linewidth=2.5,
        label="with this book: one service, step by step",
    )
    ax.axvspan(52, 88, color="0.92", zorder=0)
    ax.text(54, 0.04, "alone, everything\narrives at once", fontsize=9, color="0.25")
    ax.annotate(
        "ports, HTTP, JSON,\nworkers, databases,\ncontainers",
        xy=(70, 0.5),
        xytext=(88, 0.38),
        arrowprops={"arrowstyle": "->", "color": "0.3"},
        fontsize=9,
    )
    ax.set_title("An illustration, not a measurement", fontsize=10, color="0.3", loc="left")
    ax.set_xlabel("hours of practice (illustrative)")
    ax.set_ylabel("can run a model in production (share of the skill)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 120)
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(HERE / "learning-curve.png", metadata={"Software": None})


if __name__ == "__main__":
    main()
