"""GET /docs: Swagger UI, an interactive page generated from /openapi.json. Its script and style
sheet come from the swagger-ui-bundle package and are served by this app: nothing from the internet."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

docs = Blueprint("docs", __name__, url_prefix="/docs")
# Only the files the page needs are served from the package's folder.
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Wine classifier API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{start}"></script>
</body>
</html>
"""
# In its own file rather than inline, so a Content-Security-Policy without 'unsafe-inline' allows it.
START_SCRIPT = """window.onload = function () {{
  window.ui = SwaggerUIBundle({{url: "{document}", dom_id: "#swagger-ui"}});
}};
"""


@docs.get("")
def docs_page():
    # url_for builds each address from the routing table, so the page follows the app wherever it
    # is mounted (a proxy's prefix through SCRIPT_NAME, a renamed route).
    page = PAGE.format(
        css=url_for("docs.asset", name="swagger-ui.css"),
        icon=url_for("docs.asset", name="favicon-32x32.png"),
        bundle=url_for("docs.asset", name="swagger-ui-bundle.js"),
        start=url_for("docs.start_script"),
    )
    return Response(page, mimetype="text/html")


@docs.get("/start.js")
def start_script():
    script = START_SCRIPT.format(document=url_for("openapi.openapi_document"))
    return Response(script, mimetype="text/javascript")


@docs.get("/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)


def init_app(app: Flask) -> None:
    app.register_blueprint(docs)
