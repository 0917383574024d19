"""Headers that tell a browser to be careful, on every response, errors included."""

import pytest

from examples.serving.production import security_headers


@pytest.fixture
def client(mini_app):
    @mini_app.get("/page")
    def page():
        return "<p>hi</p>"

    @mini_app.get("/cached")
    def cached():
        return "asset", 200, {"Cache-Control": "public, max-age=3600", "Content-Type": "text/css"}

    security_headers.init_app(mini_app)
    return mini_app.test_client()


@pytest.mark.parametrize(
    "method, path", [("POST", "/v1/predict"), ("GET", "/nowhere"), ("GET", "/boom")]
)
def test_api_responses_carry_the_headers(client, method, path):
    response = client.open(path, method=method, json={} if method == "POST" else None)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"] == security_headers.API_POLICY
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_html_gets_the_docs_policy_and_own_caching_is_kept(client):
    page = client.get("/page")
    assert page.headers["Content-Security-Policy"] == security_headers.DOCS_POLICY
    assert (
        "unsafe-inline"
        not in page.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )
    assert client.get("/cached").headers["Cache-Control"] == "public, max-age=3600"
