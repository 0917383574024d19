"""compose.yaml: it parses, follows the Compose specification's schema (shipped offline by
check-jsonschema) and our structural rules; each check fails on a planted error."""

import pytest

from .checks import REPO_ROOT, bundled_schema, compose_problems, load_yaml, schema_errors

COMPOSE = REPO_ROOT / "compose.yaml"


COMPOSE_SCHEMA = bundled_schema("vendor/compose-spec.json")


def test_compose_file_follows_the_compose_schema():
    assert schema_errors(load_yaml(COMPOSE), COMPOSE_SCHEMA) == []


def test_compose_file_follows_our_rules():
    assert compose_problems(load_yaml(COMPOSE)) == []


def test_schema_catches_a_misspelled_key(plant):
    broken = plant("compose.yaml", "stop_grace_period: 30s", "stop_grace_periods: 30s")
    errors = schema_errors(load_yaml(broken), COMPOSE_SCHEMA)
    assert any("stop_grace_periods" in error for error in errors), errors


def test_schema_catches_a_wrong_type(plant):
    # ports must be a list. (Many numbers may be strings, "3" or "${RETRIES}", so a word where a
    # number belongs is not a schema error: Compose substitutes variables before it checks.)
    broken = plant("compose.yaml", '    ports:\n      - "127.0.0.1:8000:8000"', "    ports: 8000")
    errors = schema_errors(load_yaml(broken), COMPOSE_SCHEMA)
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
    broken = plant("compose.yaml", "volumes:\n  serving-data:\n", "volumes:\n")
    text = broken.read_text().replace("    healthcheck:\n", "    x-healthcheck:\n", 1)
    broken.write_text(text)
    assert compose_problems(load_yaml(broken)) == [
        "services.api: no healthcheck",
        "services.api: volume 'serving-data' is not declared under volumes",
    ]


def api_service():
    return load_yaml(COMPOSE)["services"]["api"]


def test_the_api_has_cpu_memory_and_pids_limits():
    limits = api_service()["deploy"]["resources"]["limits"]
    assert {"cpus", "memory", "pids"} <= set(limits)
    # One worker per CPU of the quota: os.cpu_count() in the container would see the host's.
    assert float(api_service()["environment"]["SERVING_WORKERS"]) == float(limits["cpus"])


def test_the_api_drops_every_capability_on_a_read_only_root_with_a_tmpfs():
    api = api_service()
    assert api["cap_drop"] == ["ALL"]
    assert api["read_only"] is True
    tmpfs = [v for v in api["volumes"] if isinstance(v, dict) and v["type"] == "tmpfs"]
    assert [(v["target"], v["tmpfs"]["size"]) for v in tmpfs] == [("/tmp", 64 * 2**20)]


def test_the_model_is_an_input_mounted_read_only():
    (model,) = [v for v in api_service()["volumes"] if isinstance(v, dict) and v["type"] == "bind"]
    assert model["target"] == "/var/lib/serving/model" and model["read_only"] is True
    assert model["bind"]["create_host_path"] is False  # a missing model is an error, not a folder


def test_postgres_and_redis_are_there_behind_a_profile():
    services = load_yaml(COMPOSE)["services"]
    assert services["postgres"]["profiles"] == ["shared-state"]
    assert services["redis"]["profiles"] == ["shared-state"]
    assert "profiles" not in services["api"]  # `docker compose up` alone: SQLite, as before
    # The database's password is taken from the environment, never written here.
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")


def test_the_env_file_comment_says_what_required_does():
    text = COMPOSE.read_text()
    assert "    env_file: .env\n" in text
    assert "unless it says `required: false`" in text


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('"2"\n          memory: 512M\n          pids: 256\n', '"2"\n          memory: 512M\n', "services.api: no pids limit"),
        ("    cap_drop:\n      - ALL\n", "", "services.api: cap_drop is not [ALL]"),
        ("    read_only: true\n    # No Linux", "    # No Linux", "services.api: the root filesystem is not read-only"),
        ("        read_only: true\n        bind:", "        bind:", "services.api: the model is not mounted read-only"),
        ('      SERVING_WORKERS: "2"', '      SERVING_WORKERS: "8"', "services.api: SERVING_WORKERS is unset or above the CPU limit"),
        ("  redis:\n    profiles: [shared-state]\n", "  redis:\n", "services.redis: not behind a profile (the default is SQLite only)"),
    ],
)  # fmt: skip
def test_each_hardening_rule_catches_its_planted_error(plant, old, new, problem):
    assert compose_problems(load_yaml(plant("compose.yaml", old, new))) == [problem]
