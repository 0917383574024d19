"""CORS in a real browser: a page from another origin calls /v1/predict."""

from pathlib import Path

import pytest

from examples.production.scaling.browser import CHROMIUM, RecordRequests, call_from_another_origin
from examples.serving import Settings, create_app
from examples.toolbox import free_port, serve_app
from tests.production.scaling.test_postgres_storage import WINE

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


def call(model_dir, tmp_path, allow: str):
    """The page's outcome and the requests the API saw, with `allow` = none, page or other."""
    page_port = free_port()
    page = f"http://127.0.0.1:{page_port}"
    origins = {"none": "", "page": page, "other": f"http://127.0.0.1:{free_port()}"}[allow]
    settings = Settings.isolated(tmp_path, model_dir, train_if_missing=False, cors_origins=origins)
    api = RecordRequests(create_app(settings))
    with serve_app(api) as server:
        outcome = call_from_another_origin(server.url, WINE, page_port)
    return page, outcome, api.seen


def test_without_the_setting_the_browser_keeps_the_answer_from_the_page(model_dir, tmp_path):
    page, outcome, seen = call(model_dir, tmp_path, "none")
    assert outcome["read"] is False and "Failed to fetch" in outcome["error"]
    # The preflight reached the server; with no permission in its answer, the POST never left.
    assert seen == [f"OPTIONS /v1/predict from {page}"]


def test_an_origin_not_listed_is_refused_too(model_dir, tmp_path):
    page, outcome, seen = call(model_dir, tmp_path, "other")
    assert outcome["read"] is False
    assert seen == [f"OPTIONS /v1/predict from {page}"]


def test_the_listed_origin_reads_the_answer_after_the_preflight(model_dir, tmp_path):
    page, outcome, seen = call(model_dir, tmp_path, "page")
    assert outcome["read"] is True and outcome["status"] == 200 and outcome["predicted"]
    assert seen == [f"OPTIONS /v1/predict from {page}", f"POST /v1/predict from {page}"]


def test_a_wildcard_origin_is_refused_by_the_settings(model_dir, tmp_path):
    from examples.serving.settings import SettingsError

    with pytest.raises(SettingsError, match="no wildcard"):
        Settings.isolated(tmp_path, model_dir, cors_origins="*")
