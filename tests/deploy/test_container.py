"""The Dockerfile and .dockerignore: hadolint and our own rules pass on the real files, and each
check fails on a copy with a planted error."""

import re
import subprocess

from examples.toolbox import free_port, serve_app

from .checks import (
    REPO_ROOT,
    dockerfile_healthcheck,
    dockerfile_problems,
    dockerignore_problems,
    hadolint,
    load_yaml,
    run_healthcheck,
)

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
HEALTHCHECK = dockerfile_healthcheck(DOCKERFILE.read_text())


def test_hadolint_passes_on_the_dockerfile():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_an_unpinned_base_image(plant):
    broken = plant("Dockerfile", "FROM python:3.11.7-slim-bookworm", "FROM python:latest")
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "Using latest is prone to errors"


def test_hadolint_rejects_running_as_root(plant):
    broken = plant("Dockerfile", "USER 10001:10001", "USER root")
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3002" in result.stdout  # "Last USER should not be root"


def test_hadolint_rejects_a_pip_download_cache(plant):
    # hadolint accepts either --no-cache-dir or PIP_NO_CACHE_DIR in ENV (measured), so plant both
    # removals: without them pip keeps its downloads in the image layer.
    broken = plant("Dockerfile", "    PIP_NO_CACHE_DIR=1 \\\n", "")
    broken.write_text(broken.read_text().replace("--no-cache-dir ", ""))
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3042" in result.stdout  # "Avoid use of cache directory with pip"


def test_our_dockerfile_rules_pass():
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_a_secret_in_env_is_caught(plant):
    broken = plant(
        "Dockerfile",
        "ENV SERVING_BIND=0.0.0.0:8000 \\",
        "ENV SERVING_JWT_SECRET=correct-horse-battery-staple-0123456789 \\\n    SERVING_BIND=0.0.0.0:8000 \\",
    )
    assert dockerfile_problems(broken.read_text()) == [
        "ENV SERVING_JWT_SECRET bakes a secret into the image"
    ]


def test_a_missing_healthcheck_and_root_user_are_caught(plant):
    broken = plant("Dockerfile", "USER 10001:10001", "USER 0")
    text = broken.read_text().replace("HEALTHCHECK", "# HEALTHCHECK")
    assert dockerfile_problems(text) == [
        "the image must end on a USER that is not root",
        "the image has no HEALTHCHECK",
    ]


def test_a_shell_form_cmd_is_caught(plant):
    broken = plant(
        "Dockerfile",
        '"--no-control-socket", \\\n     "examples.serving.wsgi:app"]',
        '"--no-control-socket", "examples.serving.wsgi:app"]\nCMD gunicorn examples.serving.wsgi:app',
    )
    assert dockerfile_problems(broken.read_text()) == [
        "CMD must start gunicorn in the exec (JSON list) form"
    ]


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies():
    assert dockerignore_problems(DOCKERIGNORE.read_text(), DOCKERFILE.read_text()) == []


def test_dockerignore_catches_a_copy_it_would_exclude(plant):
    broken = plant(".dockerignore", "!examples/\n", "")
    assert dockerignore_problems(broken.read_text(), DOCKERFILE.read_text()) == [
        "COPY examples: not let back in by .dockerignore"
    ]


def test_dockerignore_catches_letting_in_the_env_file(plant):
    broken = plant(".dockerignore", "!pyproject.toml\n", "!pyproject.toml\n!.env\n")
    assert dockerignore_problems(broken.read_text(), DOCKERFILE.read_text()) == [
        ".env must never be sent to the image build"
    ]


def _app_answering(status: str):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    return app


def test_the_healthcheck_command_passes_on_200_and_fails_otherwise():
    with serve_app(_app_answering("200 OK")) as healthy:
        assert run_healthcheck(HEALTHCHECK, healthy.port) == 0
    with serve_app(_app_answering("503 Service Unavailable")) as failing:
        assert run_healthcheck(HEALTHCHECK, failing.port) == 1
    assert run_healthcheck(HEALTHCHECK, free_port()) == 1  # nothing listens there


def test_compose_repeats_the_images_healthcheck():
    compose = load_yaml(REPO_ROOT / "compose.yaml")
    # Compose's exec form starts with the word CMD; the rest is the Dockerfile's list.
    assert compose["services"]["api"]["healthcheck"]["test"] == [
        "CMD",
        *HEALTHCHECK,
    ]


def test_the_pinned_list_the_image_installs_is_fully_pinned():
    # The same filter as the Dockerfile's RUN line, on the real requirements.txt.
    result = subprocess.run(
        ["grep", "-v", "^-e ", str(REPO_ROOT / "requirements.txt")],
        capture_output=True,
        text=True,
        check=True,
    )
    requirements = [
        line for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert len(requirements) > 50
    unpinned = [
        line for line in requirements if not re.fullmatch(r"[A-Za-z0-9_.\[\],-]+==\S+", line)
    ]
    assert unpinned == []
