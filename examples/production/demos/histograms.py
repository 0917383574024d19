"""Reading a Prometheus histogram as a statistician: cumulative bucket counts in, a quantile out.

Prometheus stores, for each upper edge `le`, how many observations were at most `le`. A quantile
can then only be located within one bucket; inside it we interpolate linearly, as Prometheus'
`histogram_quantile` does, which assumes the observations are spread evenly across the bucket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def cumulative_counts(values: Sequence[float] | np.ndarray, edges: Sequence[float]) -> list[int]:
    """For each upper edge (the last one +Inf), how many values are at most that edge."""
    values = np.asarray(values, dtype=float)
    return [int((values <= edge).sum()) for edge in [*edges, math.inf]]


def bucket_quantile(q: float, edges: Sequence[float], cumulative: Sequence[int]) -> float:
    """Estimate the q-quantile (0 < q < 1) from cumulative bucket counts (edges without +Inf).

    The first bucket is taken to start at 0; a quantile that falls in the +Inf bucket is reported
    as the highest finite edge, since nothing is known about how far beyond it the values lie.
    """
    if not 0 < q < 1:
        raise ValueError("q must be strictly between 0 and 1")
    if len(cumulative) != len(edges) + 1:
        raise ValueError("give one count per edge plus one for +Inf")
    total = cumulative[-1]
    if total == 0:
        return math.nan
    rank = q * total
    lower_edge, lower_count = 0.0, 0
    for edge, count in zip(edges, cumulative, strict=False):
        if count >= rank:
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return float(edges[-1])
