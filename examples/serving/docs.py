"""GET /docs: Swagger UI, an interactive page generated from /openapi.json. Its script and style
sheet come from the swagger-ui-bundle package and are served by this app: nothing from the internet."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

docs = Blueprint("docs", __name__, url_prefix="/docs")
# Only the files the page needs are served from the package's folder.
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Wine classifier API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/start.js"></script>
</body>
</html>
"""
# In its own file rather than inline, so a Content-Security-Policy without 'unsafe-inline' allows it.
START_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});
};
"""


@docs.get("")
def docs_page():
    return Response(PAGE, mimetype="text/html")


@docs.get("/start.js")
def start_script():
    return Response(START_SCRIPT, mimetype="text/javascript")


@docs.get("/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, max_age=3600)


def init_app(app: Flask) -> None:
    app.register_blueprint(docs)
