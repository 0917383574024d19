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
         "errorlog", "control_socket_disable", "metrics_bind", "backlog", "max_requests",
         "max_requests_jitter", "worker_tmp_dir", "freeze_after_load"]
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


def test_the_defaults_suit_a_small_machine(tmp_path):
    config = read_config()
    assert config["bind"] == "127.0.0.1:8000"
    assert config["metrics_bind"] == "127.0.0.1:8001"  # the operator's port, not the public one
    assert (
        config["workers"] == usable_cores_with(Path("/sys/fs/cgroup"), tmp_path)
        and config["threads"] == 1
    )
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


def test_the_heartbeat_backlog_and_recycling_settings(tmp_path):
    config = read_config(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert config["backlog"] == 2048  # gunicorn's default, stated where the operator can see it
    assert config["worker_tmp_dir"] == ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    assert (config["max_requests"], config["max_requests_jitter"]) == (0, 0)  # off by default
    recycled = read_config(
        SERVING_MAX_REQUESTS="1000",
        SERVING_PRELOAD="false",
        SERVING_GC_FREEZE="false",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
    )
    assert (recycled["max_requests"], recycled["max_requests_jitter"]) == (1000, 100)
    assert recycled["preload_app"] is False and recycled["freeze_after_load"] is False
    assert config["freeze_after_load"] is True


CORES = f"""
import json, runpy, sys
from pathlib import Path
usable_cores = runpy.run_path({str(CONFIG)!r})["usable_cores"]
print(json.dumps(usable_cores(Path(sys.argv[1]))))
"""


def usable_cores_with(cgroup: Path, scratch: Path) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SERVING_")}
    clean["PROMETHEUS_MULTIPROC_DIR"] = str(scratch)  # not a new temporary folder each time
    output = subprocess.run(
        [sys.executable, "-c", CORES, str(cgroup)],
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def affinity() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def test_workers_follow_a_container_cpu_quota_not_the_host(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")  # cgroup v2: one core
    assert usable_cores_with(tmp_path, tmp_path) == 1
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # 1.5 cores round up to 2
    assert usable_cores_with(tmp_path, tmp_path) == min(2, affinity())
    (tmp_path / "cpu.max").write_text("max 100000\n")  # no quota: the cores we may run on
    assert usable_cores_with(tmp_path, tmp_path) == affinity()


def test_a_cgroup_v1_quota_counts_too(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores_with(tmp_path, tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cores_with(tmp_path, tmp_path) == affinity()
    assert usable_cores_with(tmp_path / "nothing-here", tmp_path) == affinity()
