"""Shared pieces of the R tests: a model trained once, its parameters exported, the held-out wines,
and the skip when R is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from examples.model import ensure_model, split_data
from examples.r.export_parameters import export_parameters

RSCRIPT = shutil.which("Rscript")
needs_r = pytest.mark.skipif(
    RSCRIPT is None,
    reason="Rscript is not installed: `make system-deps` (as root) installs r-base-core, "
    "r-cran-httr2, r-cran-jsonlite and r-cran-plumber",
)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    ensure_model(directory)
    return directory


@pytest.fixture(scope="session")
def parameters_file(model_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parameters") / "wine-parameters.json"
    export_parameters(path, model_dir)
    return path


@pytest.fixture(scope="session")
def held_out_wines(model_dir) -> list[dict[str, float]]:
    """The held-out wines whose every feature lies in the allowed domain (all 45 of them)."""
    domain = ensure_model(model_dir).metadata.domain
    _, X_test, _, _ = split_data()  # noqa: N806
    wines = X_test.to_dict(orient="records")
    return [
        wine
        for wine in wines
        if all(r["allowed_min"] <= wine[n] <= r["allowed_max"] for n, r in domain.items())
    ]
