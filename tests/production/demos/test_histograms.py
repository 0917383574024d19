"""The bucket-quantile estimate of chapter 18 interpolates as Prometheus does."""

import math

import numpy as np
import pytest

from examples.production.demos.histograms import bucket_quantile, cumulative_counts

EDGES = (1.0, 2.0, 4.0)


def test_cumulative_counts_include_the_infinite_bucket():
    assert cumulative_counts([0.5, 1.0, 1.5, 3.0, 9.0], EDGES) == [2, 3, 4, 5]


def test_quantile_interpolates_inside_its_bucket():
    # 10 values: 4 in (0, 1], 4 in (1, 2], 2 in (2, 4]. The median (rank 5) is a quarter into (1, 2].
    assert bucket_quantile(0.5, EDGES, [4, 8, 10, 10]) == pytest.approx(1.25)
    assert bucket_quantile(0.2, EDGES, [4, 8, 10, 10]) == pytest.approx(0.5)


def test_quantile_beyond_the_last_edge_is_the_last_edge():
    assert bucket_quantile(0.99, EDGES, [1, 1, 1, 10]) == 4.0
    assert math.isnan(bucket_quantile(0.5, EDGES, [0, 0, 0, 0]))


def test_estimate_stays_within_the_bucket_of_the_true_quantile():
    values = np.random.default_rng(1).lognormal(0.0, 0.6, 5_000)
    edges = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    estimate = bucket_quantile(0.9, edges, cumulative_counts(values, edges))
    true = np.quantile(values, 0.9)
    bucket = next(i for i, edge in enumerate(edges) if true <= edge)
    assert (edges[bucket - 1] if bucket else 0.0) <= estimate <= edges[bucket]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        bucket_quantile(1.0, EDGES, [1, 2, 3, 3])
    with pytest.raises(ValueError):
        bucket_quantile(0.5, EDGES, [1, 2])
