"""The notebook toolbox: servers start on a free loopback port, answer, and always stop."""

import socket
import sys
import threading

import psutil
import pytest
import requests
from flask import Flask

from examples import toolbox
from examples.toolbox import (
    ServerError,
    free_port,
    run_command,
    serve_app,
    show_diff,
    show_source,
    wait_until_ready,
)


def hello_app() -> Flask:
    app = Flask("hello")
    app.get("/")(lambda: {"hello": "world"})
    return app


def toolbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "toolbox-server"]


def test_serve_app_answers_on_loopback_and_stops():
    with serve_app(hello_app()) as server:
        assert server.host == "127.0.0.1"
        assert requests.get(server.url + "/", timeout=5).json() == {"hello": "world"}
    assert toolbox_threads() == []
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=2)


def test_serve_app_stops_when_the_body_raises():
    with pytest.raises(RuntimeError, match="boom"), serve_app(hello_app()) as server:
        raise RuntimeError("boom")
    assert toolbox_threads() == []
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=2)


def test_serve_app_waits_for_a_ready_path():
    with serve_app(hello_app(), ready_path="/") as server:
        assert requests.get(server.url + "/", timeout=5).status_code == 200


SLEEPY_SERVER = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
SPAWNING_SERVER = [
    sys.executable,
    "-c",
    # A parent that starts a child (as gunicorn's master starts workers), then serves.
    "import subprocess, sys, http.server, socketserver;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')",
]


def test_run_command_starts_and_stops_a_process():
    with run_command(SLEEPY_SERVER) as server:
        assert requests.get(server.url + "/", timeout=5).status_code == 200
        process = psutil.Process(server.pid)
        assert process.is_running()
    assert not psutil.pid_exists(server.pid) or psutil.Process(server.pid).status() == "zombie"


def test_run_command_stops_children_too_even_when_the_body_raises():
    with (
        pytest.raises(ValueError, match="failed on purpose"),
        run_command(SPAWNING_SERVER) as server,
    ):
        children = psutil.Process(server.pid).children(recursive=True)
        assert len(children) == 1
        raise ValueError("failed on purpose")
    gone, alive = psutil.wait_procs([*children], timeout=5)
    assert alive == []
    assert server.process.poll() is not None


def test_run_command_reports_a_server_that_dies_at_start():
    with (
        pytest.raises(ServerError, match="exited before"),
        run_command(
            [sys.executable, "-c", "import sys; print('cannot start'); sys.exit(3)"], timeout=10
        ),
    ):
        pass  # pragma: no cover - never reached


def test_run_command_log_is_readable():
    with run_command(SLEEPY_SERVER) as server:
        requests.get(server.url + "/", timeout=5)
    assert "GET / HTTP/1.1" in server.log()


def test_wait_until_ready_times_out_on_a_closed_port():
    with pytest.raises(ServerError, match="did not answer"):
        wait_until_ready(f"http://127.0.0.1:{free_port()}/", timeout=0.5)


def test_show_source_whole_file_and_a_range():
    whole = show_source("examples/talking/waiter.py")
    assert repr(whole).startswith('"""Chapter 1')
    part = show_source("examples/talking/waiter.py", start="def predict", end="return jsonify(")
    lines = repr(part).splitlines()
    assert lines[0].strip().startswith("def predict") and "return jsonify(" in lines[-1]
    assert "<span" in part._repr_html_()


def test_show_diff_between_two_files(tmp_path):
    old, new = tmp_path / "old.py", tmp_path / "new.py"
    old.write_text("a = 1\nb = 2\n")
    new.write_text("a = 1\nb = 3\n")
    import examples.toolbox as toolbox

    original_root = toolbox.REPO_ROOT
    toolbox.REPO_ROOT = tmp_path
    try:
        diff = repr(show_diff("old.py", "new.py"))
    finally:
        toolbox.REPO_ROOT = original_root
    assert "-b = 2" in diff and "+b = 3" in diff


WORKFLOW_LIKE = """\
name: ci
concurrency:
  cancel-in-progress: true
jobs:
  test:
    image: not-this-one
  image:
    runs-on: ubuntu
    steps: done
"""


@pytest.fixture
def workflow_file(tmp_path, monkeypatch):
    import examples.toolbox as toolbox

    (tmp_path / "ci.yml").write_text(WORKFLOW_LIKE)
    monkeypatch.setattr(toolbox, "REPO_ROOT", tmp_path)
    return "ci.yml"


def test_show_source_honours_end_without_start(workflow_file):
    shown = repr(show_source(workflow_file, end="cancel-in-progress"))
    assert shown.splitlines() == ["name: ci", "concurrency:", "  cancel-in-progress: true"]


def test_show_source_prefers_the_line_a_marker_equals(workflow_file):
    # "  image:" is also inside "    image: not-this-one"; the line equal to it is the one meant.
    shown = repr(show_source(workflow_file, start="  image:", end="steps:"))
    assert shown.splitlines() == ["  image:", "    runs-on: ubuntu", "    steps: done"]


def test_show_source_refuses_an_ambiguous_or_missing_marker(workflow_file):
    # No line equals "image" or begins with it, and two lines contain it.
    with pytest.raises(ValueError, match=r"must name one line of ci.yml, not: 6, 7"):
        show_source(workflow_file, start="image")
    with pytest.raises(ValueError, match="not: no line"):
        show_source(workflow_file, start="deploy:")
    with pytest.raises(ValueError, match="names no line"):
        show_source(workflow_file, start="jobs:", end="cancel-in-progress")


def test_show_source_a_marker_of_two_lines_names_them_together(workflow_file):
    # "    image: not-this-one" comes right after "  test:", which makes it one of a kind.
    shown = repr(show_source(workflow_file, start="  test:\n    image:", end="image"))
    assert shown.splitlines() == ["  test:", "    image: not-this-one"]


def test_run_command_tries_another_port_when_its_port_is_taken(monkeypatch):
    """A port chosen free can be taken before the server binds it; run_command then retries."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1]])
    real = toolbox.free_port
    monkeypatch.setattr(toolbox, "free_port", lambda: next(ports, None) or real())
    server = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    with taken, toolbox.run_command(server, timeout=30) as running:
        assert running.port != taken.getsockname()[1]
        assert requests.get(running.url, timeout=10).status_code == 200
