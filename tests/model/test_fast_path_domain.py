"""The service's numpy fast path computes the pipeline's function on the whole allowed input domain
(chapter 8): uniform points in the box, every corner of the box, and points on its edges."""

import itertools

import numpy as np
import pytest

from examples.model import FEATURE_NAMES, load_model, save_model, train_model
from examples.serving.predictor import LinearPipelinePredictor


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    save_model(train_model(), folder)
    return LinearPipelinePredictor(load_model(folder))


def domain_points(fast, n: int = 5_000, seed: int = 0) -> dict[str, np.ndarray]:
    domain = fast.metadata.domain
    low = np.array([domain[name]["allowed_min"] for name in FEATURE_NAMES])
    high = np.array([domain[name]["allowed_max"] for name in FEATURE_NAMES])
    rng = np.random.default_rng(seed)
    inside = rng.uniform(low, high, size=(n, len(low)))
    edges = np.where(rng.integers(0, 2, size=(n, len(low))) == 1, high, low)
    free = rng.integers(0, len(low), size=n)
    edges[np.arange(n), free] = inside[np.arange(n), free]
    corners = np.array(list(itertools.product(*zip(low, high, strict=True))))
    return {"inside": inside, "edges": edges, "corners": corners}


def test_fast_path_applies_to_the_book_model_and_passes_its_start_up_check(fast):
    assert LinearPipelinePredictor.applies_to(fast.pipeline)
    assert fast.verified()


@pytest.mark.parametrize("region", ["inside", "edges", "corners"])
def test_fast_path_agrees_with_the_pipeline_over_the_allowed_domain(fast, region):
    points = domain_points(fast)[region]
    expected = fast.pipeline.predict_proba(points)
    actual = fast.predict_proba(points)
    assert np.abs(actual - expected).max() <= fast.TOLERANCE
    assert (actual.argmax(axis=1) == fast.pipeline.predict(points)).all()
