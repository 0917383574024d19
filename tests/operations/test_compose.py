"""compose.yaml: it parses, follows the Compose specification's schema (shipped offline by
check-jsonschema) and our structural rules; each check fails on a planted error."""

import pytest

from .checks import REPO_ROOT, bundled_schema, compose_problems, load_yaml, schema_errors

COMPOSE = REPO_ROOT / "compose.yaml"


@pytest.fixture(scope="module")
def compose_schema():
    schema = bundled_schema("vendor/compose-spec.json")
    if schema is None:
        pytest.skip("check-jsonschema (which ships the Compose schema) is not installed")
    return schema


def test_compose_file_follows_the_compose_schema(compose_schema):
    assert schema_errors(load_yaml(COMPOSE), compose_schema) == []


def test_compose_file_follows_our_rules():
    assert compose_problems(load_yaml(COMPOSE)) == []


def test_schema_catches_a_misspelled_key(plant, compose_schema):
    broken = plant("compose.yaml", "restart: unless-stopped", "restrat: unless-stopped")
    errors = schema_errors(load_yaml(broken), compose_schema)
    assert any("restrat" in error for error in errors), errors


def test_schema_catches_a_wrong_type(plant, compose_schema):
    # ports must be a list. (Many numbers may be strings, "3" or "${RETRIES}", so a word where a
    # number belongs is not a schema error: Compose substitutes variables before it checks.)
    broken = plant("compose.yaml", '    ports:\n      - "127.0.0.1:8000:8000"', "    ports: 8000")
    errors = schema_errors(load_yaml(broken), compose_schema)
    assert "services/api/ports: 8000 is not of type 'array'" in errors, errors


def test_a_plaintext_secret_is_caught(plant):
    broken = plant(
        "compose.yaml",
        "      SERVING_LOG_LEVEL: info\n",
        "      SERVING_LOG_LEVEL: info\n      SERVING_JWT_SECRET: 0123456789abcdef0123456789abcdef\n",
    )
    assert compose_problems(load_yaml(broken)) == [
        "services.api.environment.SERVING_JWT_SECRET: a secret written in plain text"
    ]


def test_a_secret_taken_from_the_environment_is_allowed(plant):
    referenced = plant(
        "compose.yaml",
        "      SERVING_LOG_LEVEL: info\n",
        "      SERVING_LOG_LEVEL: info\n      SERVING_JWT_SECRET: ${SERVING_JWT_SECRET:?set it}\n",
    )
    assert compose_problems(load_yaml(referenced)) == []


def test_a_port_open_to_the_network_is_caught(plant):
    broken = plant("compose.yaml", '"127.0.0.1:8000:8000"', '"8000:8000"')
    assert compose_problems(load_yaml(broken)) == [
        "services.api: port '8000:8000' is published on every interface"
    ]


def test_a_missing_healthcheck_and_undeclared_volume_are_caught(plant):
    broken = plant("compose.yaml", "volumes:\n  serving-data:\n", "")
    text = broken.read_text().replace("    healthcheck:\n", "    x-healthcheck:\n")
    broken.write_text(text)
    assert compose_problems(load_yaml(broken)) == [
        "services.api: no healthcheck",
        "services.api: volume 'serving-data' is not declared under volumes",
        "no named volume for the database and the model",
    ]
