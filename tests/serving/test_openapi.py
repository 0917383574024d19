"""The OpenAPI document is generated from the models the routes validate with, and is valid; the
docs page and its assets are served by the app itself."""

import re

import jsonschema
import pytest
from swagger_ui_bundle import swagger_ui_path

from examples.serving import Settings, create_app
from examples.serving.openapi import OPENAPI_VERSION

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
