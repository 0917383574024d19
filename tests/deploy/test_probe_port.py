"""The Deployment's second gunicorn address for probes, run for real: with every worker busy and a
queue of slow requests on the service port, /healthz on the probe port answers after at most the
request in hand, while /healthz on the service port waits behind the whole queue."""

import sys
import threading
import time

import requests
import yaml

from examples.toolbox import free_port, run_command

from .checks import REPO_ROOT

SLEEP = 0.5  # seconds per queued request
QUEUED = 6


def deployment_args(service_port: int, probe_port: int) -> list[str]:
    """The api container's args, on loopback ports, serving the slow demo app of chapter 16."""
    deployment = yaml.safe_load((REPO_ROOT / "deploy/kubernetes/deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    replace = {
        "0.0.0.0:8000": f"127.0.0.1:{service_port}",
        "0.0.0.0:8081": f"127.0.0.1:{probe_port}",
        "examples.serving.wsgi:app": "examples.production.demos.slow_app:create_app()",
    }
    args = [replace.get(arg, arg) for arg in container["args"]]
    assert args[0] == "gunicorn" and set(replace.values()) <= set(args)
    return [sys.executable, "-m", *args]


def timed_get(url: str, results: dict, key: str) -> None:
    started = time.perf_counter()
    results[key] = (requests.get(url, timeout=30).status_code, time.perf_counter() - started)


def test_a_probe_on_its_own_port_skips_the_queue():
    service_port, probe_port = free_port(), free_port()
    env = {"SERVING_WORKERS": "1", "SERVING_METRICS_BIND": "off"}
    args = deployment_args(service_port, probe_port)
    with run_command(args, port=service_port, env=env, cwd=REPO_ROOT, ready_path="/healthz") as app:
        results: dict = {}
        slow = [
            threading.Thread(
                target=timed_get, args=(f"{app.url}/sleep?seconds={SLEEP}", results, i)
            )
            for i in range(QUEUED)
        ]
        for thread in slow:
            thread.start()
        time.sleep(0.2)  # the one worker is busy and the rest queue on the service port
        probes = [
            threading.Thread(target=timed_get, args=(url, results, name))
            for name, url in [
                ("service port", f"{app.url}/healthz"),
                ("probe port", f"http://127.0.0.1:{probe_port}/healthz"),
            ]
        ]
        for thread in probes:
            thread.start()
        for thread in slow + probes:
            thread.join(timeout=60)
    assert results["probe port"][0] == results["service port"][0] == 200
    # At most the request in hand and one more from the service port: under 2 x SLEEP (+ margin).
    assert results["probe port"][1] < 2 * SLEEP + 0.5, results
    # Behind the queue: at least the rest of the queued sleeps.
    assert results["service port"][1] > (QUEUED - 1) * SLEEP - 0.3, results
