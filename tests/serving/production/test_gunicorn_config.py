"""gunicorn.conf.py read the way gunicorn reads it (executed as a script), in a fresh process so
that the variables it sets do not leak into the tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[3] / "examples" / "serving" / "gunicorn.conf.py"
READ = f"""
import json, os, runpy
settings = runpy.run_path({str(CONFIG)!r})
names = ["bind", "workers", "threads", "preload_app", "timeout", "graceful_timeout", "accesslog",
         "errorlog", "control_socket_disable", "metrics_bind"]
variables = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PROMETHEUS_MULTIPROC_DIR"]
print(json.dumps({{**{{n: settings[n] for n in names}}, **{{v: os.environ.get(v) for v in variables}},
                  "hooks": sorted(n for n in ("when_ready", "post_fork", "child_exit", "on_exit") if n in settings)}}))
"""


def read_config(**environment) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SERVING_", "OMP_", "OPENBLAS_", "PROMETHEUS_"))
    }
    output = subprocess.run(
        [sys.executable, "-c", READ],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def test_the_defaults_suit_a_small_machine():
    config = read_config()
    assert config["bind"] == "127.0.0.1:8000"
    assert config["metrics_bind"] == "127.0.0.1:8001"  # the operator's port, not the public one
    assert config["workers"] == (os.cpu_count() or 1) and config["threads"] == 1
    assert config["preload_app"] is True and config["control_socket_disable"] is True
    assert config["graceful_timeout"] < config["timeout"]
    # One line per request, the app's JSON line: gunicorn's access log is off unless asked for.
    assert config["accesslog"] is None and config["errorlog"] == "-"
    assert config["OMP_NUM_THREADS"] == "1" and config["OPENBLAS_NUM_THREADS"] == "1"
    assert Path(config["PROMETHEUS_MULTIPROC_DIR"]).is_dir()
    assert config["hooks"] == ["child_exit", "on_exit", "post_fork", "when_ready"]
    Path(config["PROMETHEUS_MULTIPROC_DIR"]).rmdir()


def test_the_environment_overrides_and_stale_metrics_are_removed(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"old")
    config = read_config(
        SERVING_BIND="0.0.0.0:9000",
        SERVING_WORKERS="3",
        SERVING_THREADS="4",
        SERVING_ACCESS_LOG="-",
        OMP_NUM_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    assert config["bind"] == "0.0.0.0:9000"
    assert (config["workers"], config["threads"]) == (3, 4)
    assert config["accesslog"] == "-"
    assert config["OMP_NUM_THREADS"] == "2"  # an operator's value wins
    assert config["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    assert not (tmp_path / "counter_123.db").exists()
