"""The OpenAPI document is generated from the models the routes validate with, and is valid; the
docs page and its assets are served by the app itself."""

import re

import jsonschema
import pytest
from swagger_ui_bundle import swagger_ui_path

from examples.serving import Settings, create_app
from examples.serving.openapi import OPENAPI_VERSION
from tests.failing_predictor import FailingPredictor

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def resolve(document, ref):
    assert ref.startswith("#/")
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_refs(item)


def test_the_document_has_the_required_structure(document):
    assert document["openapi"] == OPENAPI_VERSION == "3.0.3"
    assert {"title", "version"} <= set(document["info"])
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in METHODS
            assert operation["responses"], f"{method} {path} documents no response"
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status) and response["description"]


def test_every_reference_resolves_and_every_schema_is_a_valid_json_schema(document):
    for ref in all_refs(document):
        resolve(document, ref)
    for name, schema in document["components"]["schemas"].items():
        jsonschema.Draft4Validator.check_schema(schema)  # OpenAPI 3.0 schemas extend draft 4
        assert "const" not in str(schema), f"{name}: const is not OpenAPI 3.0"


def test_every_core_route_is_documented(app, document):
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    served = {
        (rule.rule, method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    core = {
        (path, method)
        for path, method, endpoint in served
        if endpoint.startswith(("health.", "api_v1."))
    }
    assert core and core <= documented
    # ...and the document describes no route that the app does not serve.
    assert documented <= {(path, method) for path, method, _ in served}


def test_the_request_schema_is_the_pydantic_models(app, document):
    schemas = app.extensions["serving"].schemas
    template = "#/components/schemas/{model}"
    expected = schemas.prediction_request.model_json_schema(ref_template=template)
    components = document["components"]["schemas"]
    assert components["Features"] == expected["$defs"]["Features"]
    assert components["PredictionRequest"] == {k: v for k, v in expected.items() if k != "$defs"}
    features = components["Features"]
    assert features["additionalProperties"] is False
    assert len(features["required"]) == 13
    assert features["properties"]["alcohol"]["type"] == "number"


def test_the_documented_ranges_are_the_models(document, metadata):
    alcohol = document["components"]["schemas"]["Features"]["properties"]["alcohol"]
    assert alcohol["minimum"] == metadata.domain["alcohol"]["allowed_min"]
    assert alcohol["maximum"] == metadata.domain["alcohol"]["allowed_max"]


def test_the_documented_batch_limit_follows_the_settings(model_dir, tmp_path):
    app = create_app(Settings.isolated(tmp_path, model_dir, max_batch_size=25))
    document = app.test_client().get("/openapi.json").get_json()
    instances = document["components"]["schemas"]["BatchPredictionRequest"]["properties"][
        "instances"
    ]
    assert (instances["minItems"], instances["maxItems"]) == (1, 25)


def test_examples_validate_against_the_documented_schemas(client, document, features):
    """What the service accepts and returns satisfies what the document says, checked by jsonschema."""
    components = document["components"]

    def check(instance, name):
        schema = {**components["schemas"][name], "components": components}
        jsonschema.validate(instance, schema, cls=jsonschema.Draft4Validator)

    check({"features": features}, "PredictionRequest")
    check(client.post("/v1/predict", json={"features": features}).get_json(), "PredictionResponse")
    check(client.post("/v1/predict", json={}).get_json(), "ErrorResponse")
    with pytest.raises(jsonschema.ValidationError):
        check({"features": dict(features, alcohol=99.0)}, "PredictionRequest")


def test_the_document_works_without_a_model(tmp_path):
    app = create_app(Settings.isolated(tmp_path, train_if_missing=False))
    document = app.test_client().get("/openapi.json").get_json()
    assert "unknown" in document["info"]["version"]
    assert len(document["components"]["schemas"]["Features"]["properties"]) == 13


def test_the_docs_page_loads_only_local_files(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/docs/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
    start = client.get("/docs/start.js").get_data(as_text=True)
    assert "/openapi.json" in start and "http" not in start


def test_the_assets_are_the_packages_files(client):
    response = client.get("/docs/assets/swagger-ui-bundle.js")
    assert response.get_data() == (swagger_ui_path / "swagger-ui-bundle.js").read_bytes()
    assert response.mimetype == "text/javascript"


@pytest.mark.parametrize("name", ["index.html", "../../../etc/passwd", "swagger-initializer.js"])
def test_only_the_listed_assets_are_served(client, name):
    assert client.get(f"/docs/assets/{name}").status_code == 404


def test_the_docs_page_follows_a_prefix(client):
    """Mounted under /api (a proxy passing SCRIPT_NAME), every address on the page moves with it."""
    page = client.get("/docs", base_url="http://localhost/api").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls and all(url.startswith("/api/docs/") for url in urls)
    start = client.get("/docs/start.js", base_url="http://localhost/api").get_data(as_text=True)
    assert '"/api/openapi.json"' in start


# ---- the document against the OpenAPI schema, and against what the app really answers ----------


def full_app(tmp_path, model_dir, burst=1000):
    """Core and production features: credentials, and a rate limit of `burst` rows at once."""
    from examples.serving.production.auth import sha256_hex

    settings = Settings.isolated(
        tmp_path, model_dir, auth_enabled=True, api_key_hashes=f"t:{sha256_hex('k' * 40)}",
        rate_limit_enabled=True, rate_limit_burst=burst, rate_limit_per_minute=1, max_body_bytes=4096,
    )  # fmt: skip
    return create_app(settings)


@pytest.mark.parametrize("features_on", [False, True])
def test_the_document_is_valid_openapi_30(client, tmp_path, model_dir, features_on):
    """Checked against the OpenAPI 3.0 schema (the JSON Schema of OpenAPI documents, as bundled
    with schemathesis), not only our own reading of it."""
    from schemathesis.specs.openapi.definitions import OPENAPI_30

    app = full_app(tmp_path, model_dir) if features_on else client.application
    document = app.test_client().get("/openapi.json").get_json()
    jsonschema.Draft4Validator(OPENAPI_30).validate(document)
    broken = {**document, "paths": {"no-leading-slash": {}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(OPENAPI_30).validate(broken)


def test_every_status_the_app_answers_is_documented(tmp_path, model_dir, features):
    """Provoke each status on each route; the document must list it for that operation."""
    from examples.serving.predictor import ServiceState

    key = {"X-API-Key": "k" * 40}
    body = {"features": features}
    seen = set()  # (path, method, status)

    def send(method, path, **kwargs):
        response = client.open(path, method=method, **kwargs)
        seen.add((path, method.lower(), response.status_code))

    app = full_app(tmp_path / "a", model_dir, burst=1)
    client = app.test_client()
    send("POST", "/v1/predict", json=body, headers=key)  # 200
    send("POST", "/v1/predict", json=body, headers=key)  # 429: one row at a time
    app = full_app(tmp_path / "b", model_dir)
    client = app.test_client()
    for path in ("/v1/predict", "/v1/predict/batch"):
        send("POST", path, json=body)  # 401
        send("POST", path, data="{", content_type="application/json", headers=key)  # 400
        send("POST", path, data="x" * 5000, content_type="application/json", headers=key)  # 413
        send("POST", path, data="{}", content_type="text/plain", headers=key)  # 415
        send("POST", path, json={}, headers=key)  # 422
    for path in ("/healthz", "/readyz", "/v1/model"):
        send("GET", path)
    app.extensions["serving"].predictor = FailingPredictor(app.extensions["serving"].predictor)
    send("POST", "/v1/predict", json=body, headers=key)  # 500
    app.extensions["serving"] = ServiceState(app.extensions["serving"].settings, None, "broken")
    for path in ("/readyz", "/v1/model"):
        send("GET", path)  # 503
    send("POST", "/v1/predict", json=body, headers=key)  # 503

    statuses = {status for _, _, status in seen}
    assert {200, 400, 401, 413, 415, 422, 429, 500, 503} <= statuses
    document = client.get("/openapi.json").get_json()
    missing = [
        (path, method, status)
        for path, method, status in seen
        if str(status) not in document["paths"][path][method]["responses"]
    ]
    assert missing == []


def test_a_wrong_method_is_405_with_allow_and_documented(client, document):
    for path, item in document["paths"].items():
        wrong = "PUT" if "put" not in item else "PATCH"
        response = client.open(path, method=wrong)
        assert response.status_code == 405 and response.headers["Allow"], path
        for operation in item.values():
            assert "405" in operation["responses"] and "500" in operation["responses"], path
