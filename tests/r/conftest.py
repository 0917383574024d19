"""Shared pieces of the R tests: a model trained once, its parameters exported, the held-out wines,
and the skip when R is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from examples.model import split_data
from examples.r.export_parameters import export_parameters

RSCRIPT = shutil.which("Rscript")
needs_r = pytest.mark.skipif(
    RSCRIPT is None,
    reason="Rscript is not installed: `make system-deps` (as root) installs r-base-core, "
    "r-cran-httr2, r-cran-jsonlite and r-cran-plumber",
)


@pytest.fixture(scope="session")
def parameters_file(model_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("parameters") / "wine-parameters.json"
    export_parameters(path, model_dir)
    return path


@pytest.fixture(scope="session")
def held_out_wines() -> list[dict[str, float]]:
    """The 45 wines of the held-out split, as the request bodies' feature objects."""
    _, X_test, _, _ = split_data()  # noqa: N806
    return X_test.to_dict(orient="records")


def in_domain(wine: dict[str, float], domain: dict) -> bool:
    return all(r["allowed_min"] <= wine[n] <= r["allowed_max"] for n, r in domain.items())


PLUMBER_COMMAND = [
    "Rscript",
    "-e",
    'plumber::pr("api.R") |> plumber::pr_run(host = "127.0.0.1", port = {port}, docs = FALSE)',
]
R_FOLDER = Path(__file__).resolve().parents[2] / "examples" / "r"


@pytest.fixture(scope="session")
def plumber_service(parameters_file):
    """The plumber twin (examples/r/api.R) on a free port, stopped when the session ends."""
    from examples.toolbox import run_command

    if RSCRIPT is None:
        pytest.skip(needs_r.kwargs["reason"])
    env = {"WINE_PARAMETERS": str(parameters_file)}
    with run_command(
        PLUMBER_COMMAND, cwd=R_FOLDER, env=env, ready_path="/healthz", grace=5
    ) as server:
        yield server
