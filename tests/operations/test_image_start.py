"""Without a Docker engine, start the service the way the image would: the Dockerfile's CMD, with
its ENV settings (state moved from /var/lib/serving to a temporary folder, the port to a free one
on 127.0.0.1), from the repository's root as WORKDIR. With no model yet, it must train one on
first start, become ready, and pass the image's own health check."""

import sys

import requests

from examples.toolbox import run_command

from .checks import (
    REPO_ROOT,
    dockerfile_command,
    dockerfile_env,
    dockerfile_healthcheck,
    run_healthcheck,
)

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()


def test_the_image_command_and_settings_start_a_ready_service(tmp_path):
    tmp_path.chmod(0o755)
    env = {
        name: value.replace("/var/lib/serving", str(tmp_path))
        for name, value in dockerfile_env(DOCKERFILE).items()
    }
    assert env["SERVING_BIND"] == "0.0.0.0:8000"
    env["SERVING_BIND"] = "127.0.0.1:{port}"
    command = dockerfile_command(DOCKERFILE)
    assert command[0] == "gunicorn"
    args = [sys.executable, "-m", "gunicorn", *command[1:]]
    with run_command(args, env=env, cwd=REPO_ROOT, ready_path="/readyz", timeout=180) as server:
        ready = requests.get(server.url + "/readyz", timeout=10)
        healthcheck = run_healthcheck(dockerfile_healthcheck(DOCKERFILE), server.port)
        log = server.log()
    assert ready.status_code == 200, ready.text
    assert healthcheck == 0
    # The model was trained on first start into the volume's folder, not into the repository.
    assert (tmp_path / "model").is_dir() and any((tmp_path / "model").iterdir())
    assert "Control server error" not in log
