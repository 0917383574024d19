"""What authentication adds to the service's OpenAPI document: the token route and two schemes."""

from __future__ import annotations

from examples.serving.production.auth.config import API_KEY_HEADER, PROTECTED_ROUTES, TOKEN_ROUTE
from examples.serving.production.auth.hooks import TokenRequest, TokenResponse

TEMPLATE = "#/components/schemas/{model}"


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def _json(model: str) -> dict:
    return {"application/json": {"schema": {"$ref": TEMPLATE.format(model=model)}}}


def document(openapi: dict) -> None:
    """Add the token endpoint and the two credentials to the service's OpenAPI document."""
    components = openapi["components"]
    for model in (TokenRequest, TokenResponse):
        components["schemas"][model.__name__] = model.model_json_schema(ref_template=TEMPLATE)
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
        "BearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }
    for path in PROTECTED_ROUTES:
        operation = openapi["paths"][path]["post"]
        operation["security"] = [{"ApiKey": []}, {"BearerToken": []}]
        operation["responses"]["401"] = _error("No credentials, or credentials that are not valid")
        operation["responses"]["403"] = _error("A token without the scope this route needs")
    openapi["paths"][TOKEN_ROUTE] = {
        "post": {
            "summary": "Exchange a user name and password for a bearer token",
            "requestBody": {"required": True, "content": _json("TokenRequest")},
            "responses": {
                "200": {"description": "Success", "content": _json("TokenResponse")},
                "401": _error("The user name or password is wrong"),
                "422": _error("The body does not match the schema"),
                "503": _error("Token issuing is not configured"),
            },
        }
    }
