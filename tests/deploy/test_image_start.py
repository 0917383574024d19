"""Without a Docker engine, start the service the way the image would: the Dockerfile's CMD, with
its ENV settings (state moved from /var/lib/serving to a temporary folder, the port to a free one
on 127.0.0.1), from the repository's root as WORKDIR. The image never trains: with a model mounted
it becomes ready and passes its own health check; without one it stays unready
(503 on /readyz) and writes nothing into the model folder."""

import sys

import requests

from examples.model.artifact import ensure_model
from examples.toolbox import run_command

from .checks import (
    REPO_ROOT,
    dockerfile_command,
    dockerfile_env,
    dockerfile_healthcheck,
    run_healthcheck,
)

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def image_environment(state_dir):
    """The image's ENV with /var/lib/serving moved to `state_dir` and the port to {port}."""
    state_dir.chmod(0o755)
    env = {
        name: value.replace("/var/lib/serving", str(state_dir))
        for name, value in dockerfile_env(DOCKERFILE).items()
    }
    assert env["SERVING_BIND"] == "0.0.0.0:8000"
    env["SERVING_BIND"] = "127.0.0.1:{port}"
    (state_dir / "data").mkdir()
    (state_dir / "model").mkdir()
    return env


def image_args():
    command = dockerfile_command(DOCKERFILE)
    assert command[0] == "gunicorn"
    return [sys.executable, "-m", "gunicorn", *command[1:]]


def test_the_image_settings_never_train_and_fix_the_worker_count():
    env = dockerfile_env(DOCKERFILE)
    assert env["SERVING_TRAIN_IF_MISSING"] == "false"
    assert int(env["SERVING_WORKERS"]) >= 1  # not os.cpu_count(), the host's cores


def test_the_image_command_serves_a_mounted_model(tmp_path):
    env = image_environment(tmp_path)
    ensure_model(tmp_path / "model")  # what the read-only mount would hold
    with run_command(
        image_args(), env=env, cwd=REPO_ROOT, ready_path="/readyz", timeout=180
    ) as server:
        ready = requests.get(server.url + "/readyz", timeout=10)
        healthcheck = run_healthcheck(dockerfile_healthcheck(DOCKERFILE), server.port)
        log = server.log()
    assert ready.status_code == 200, ready.text
    assert healthcheck == 0
    assert "Control server error" not in log
    assert any((tmp_path / "data").iterdir())  # the SQLite files went to the data folder


def test_without_a_model_the_service_stays_unready_and_trains_nothing(tmp_path):
    env = image_environment(tmp_path)
    with run_command(image_args(), env=env, cwd=REPO_ROOT, ready_path="/healthz") as server:
        ready = requests.get(server.url + "/readyz", timeout=10)
    assert ready.status_code == 503, ready.text
    assert list((tmp_path / "model").iterdir()) == []
