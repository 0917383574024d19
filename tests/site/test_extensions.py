"""The book's local Sphinx extensions, each built into a tiny site with planted inputs."""

import json
import sys

import pytest

from tools.book_checks import REPO_ROOT
from tools.mini_sphinx import build_html

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import cheat_sheets  # noqa: E402 - lives in book/_ext, which Sphinx loads by path

FAKE_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Toy API", "version": "9"},
    "paths": {
        "/v1/predict": {
            "post": {
                "summary": "Predict one row",
                "responses": {"200": {"description": "Success"}, "422": {"description": "Bad row"}},
            }
        }
    },
    "components": {
        "schemas": {
            "ErrorBody": {
                "properties": {"code": {"type": "string", "description": "A stable name"}},
                "required": ["code"],
            }
        }
    },
}


def build(tmp_path, pages: dict[str, str], fresh: bool = True, **config) -> tuple[str, str]:
    """Build `pages` (reStructuredText) with the local extensions; return index.html and warnings."""
    source = tmp_path / "source"
    for name, text in pages.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    (source / "conf.py").write_text(
        "extensions = ['cheat_sheets', 'nbval_status', 'book_sitemap']\n"
    )
    warnings = build_html(source, tmp_path, config, fresh)
    return (tmp_path / "html" / "index.html").read_text(), warnings


def test_gunicorn_settings_reads_flags_and_defaults_from_gunicorn(tmp_path):
    page = ".. gunicorn-settings::\n\n   timeout | Seconds before a silent worker is replaced.\n"
    html, warnings = build(tmp_path, {"index.rst": page})
    assert "--timeout" in html and ">30<" in html and "silent worker" in html
    assert warnings == ""


def test_gunicorn_settings_refuses_a_setting_gunicorn_does_not_have(tmp_path):
    page = ".. gunicorn-settings::\n\n   timeout_seconds | A planted typo.\n"
    _, warnings = build(tmp_path, {"index.rst": page})
    assert "has no setting named 'timeout_seconds'" in warnings


def test_service_endpoints_table_comes_from_the_openapi_document(tmp_path, monkeypatch):
    monkeypatch.setattr(cheat_sheets, "service_openapi", lambda: FAKE_OPENAPI)
    html, warnings = build(tmp_path, {"index.rst": ".. service-endpoints::\n"})
    assert (
        '>POST</span> <span class="pre">/v1/predict<' in html
        and "<strong>422</strong> Bad row" in html
        and "error.code" in html
    )
    assert warnings == ""


def test_service_endpoints_stops_the_build_with_the_reason(tmp_path, monkeypatch):
    def broken_app():
        raise RuntimeError("planted: the model file is missing")

    monkeypatch.setattr("examples.serving.create_app", broken_app)
    with pytest.raises(Exception, match="planted: the model file is missing"):
        build(tmp_path, {"index.rst": ".. service-endpoints::\n"})


def test_nbval_status_renders_the_recorded_run(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "finished": "2026-01-01 12:00 UTC",
                "nbval_version": "0.11.0",
                "python": "3.11",
                "seconds": 4.0,
                "notebooks": {
                    "notebooks/01_a.ipynb": {
                        "cells": 3,
                        "passed": 2,
                        "failed": 1,
                        "skipped": 0,
                        "seconds": 4.0,
                    },
                },
            }
        )
    )
    pages = {
        "index.rst": "Status\n======\n\n.. toctree::\n\n   notebooks/01_a\n   notebooks/02_b\n\n"
        ".. nbval-status::\n",
        "notebooks/01_a.rst": "A\n=\n",
        "notebooks/02_b.rst": "B\n=\n",
    }
    html, warnings = build(tmp_path, pages, nbval_status_file=str(results))
    assert "FAILED" in html and "2 of 3 cells" in html and "4.0 s" in html
    assert "not run" in html  # 02_b is in the book but not in the record
    assert warnings == ""


def test_nbval_status_says_how_to_make_the_record_when_it_is_missing(tmp_path):
    html, _ = build(
        tmp_path,
        {"index.rst": ".. nbval-status::\n"},
        nbval_status_file=str(tmp_path / "missing.json"),
    )
    assert "No nbval run is recorded" in html


def test_sitemap_lists_every_page_even_after_an_incremental_build(tmp_path):
    pages = {
        "index.rst": "Home\n====\n\n.. toctree::\n\n   notebooks/01_a\n",
        "notebooks/01_a.rst": "A\n=\n",
    }
    build(tmp_path, pages, site_url="https://example.org/book")
    # Nothing changed: the second build reads and writes no page.
    build(tmp_path, {}, fresh=False, site_url="https://example.org/book")
    sitemap = (tmp_path / "html" / "sitemap.xml").read_text()
    assert "<loc>https://example.org/book/index.html</loc>" in sitemap
    assert "<loc>https://example.org/book/notebooks/01_a.html</loc>" in sitemap
    assert "search.html" not in sitemap and "genindex.html" not in sitemap


def test_the_configuration_lists_every_local_extension():
    """Each extension in book/_ext is named in _config.yml; none is loaded behind another's back.
    GitHub Pages needs sphinx.ext.githubpages's .nojekyll, or Jekyll drops _static/ and _sources/."""
    import yaml

    sphinx_config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())["sphinx"]
    extensions = {
        path.stem
        for path in (REPO_ROOT / "book" / "_ext").glob("*.py")
        if "\ndef setup(" in path.read_text()
    }
    assert set(sphinx_config["local_extensions"]) == extensions
    for path in (REPO_ROOT / "book" / "_ext").glob("*.py"):
        assert "setup_extension(" not in path.read_text(), path.name
    assert "sphinx.ext.githubpages" in sphinx_config["extra_extensions"]


def test_the_published_address_follows_the_repository_setting():
    import book_sitemap

    assert book_sitemap.published_address("") == ""
    address = book_sitemap.published_address("https://github.com/Some-Owner/a-book")
    assert address == "https://some-owner.github.io/a-book/"
    assert book_sitemap.site_prefix(address) == "/a-book/"
    assert book_sitemap.site_prefix("") == "/"
    assert book_sitemap.site_prefix("https://book.example.org") == "/"
