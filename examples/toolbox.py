"""The notebook toolbox: run a server in the background on a free 127.0.0.1 port, wait until it
answers, and always stop it; show a source file, or the diff between two files, highlighted.

Chapter 1 explains it. Everything here is used the same way from notebooks, tests and benchmarks:

    with serve_app(app) as server:          # a WSGI app in a background thread
        requests.get(server.url + "/")
    with run_command(["gunicorn", "--bind", "127.0.0.1:{port}", "examples.serving.wsgi:app"],
                     ready_path="/healthz") as server:   # a command in a child process
        requests.get(server.url + "/healthz")
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent


class ServerError(RuntimeError):
    """A server did not start, or did not answer in time."""


@dataclass
class RunningServer:
    """What a started server gives back: where it listens and, for a command, its process."""

    host: str
    port: int
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else os.getpid()

    def process_alive(self) -> bool:
        """For a command: whether its process is still running."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """Everything the command has written to stdout and stderr so far."""
        if self.log_path is None:
            return ""
        return self.log_path.read_text(errors="replace")


def free_port(host: str = LOOPBACK) -> int:
    """Ask the operating system for a port nobody is listening on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until_ready(
    url: str,
    timeout: float = 30.0,
    alive: Callable[[], bool] = lambda: True,
) -> requests.Response:
    """Poll `url` until it answers (any status below 500); a refused or slow connection means 'not yet'."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise ServerError(f"the server exited before {url} answered")
        try:
            response = requests.get(url, timeout=1.0)
            if response.status_code < 500:
                return response
            last_error = ServerError(f"{url} answered {response.status_code}")
        except (requests.ConnectionError, requests.Timeout) as error:
            last_error = error
        time.sleep(0.05)
    raise ServerError(f"{url} did not answer within {timeout} s: {last_error}")


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's request handler without the per-request access log line on stderr."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def serve_app(
    app,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    ready_path: str | None = None,
    threaded: bool = True,
) -> Iterator[RunningServer]:
    """Serve a WSGI app from a background thread; the server stops when the block ends."""
    server = make_server(host, port, app, threaded=threaded, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="toolbox-server", daemon=True)
    thread.start()
    running = RunningServer(host=host, port=server.server_port)
    try:
        if ready_path is not None:
            wait_until_ready(running.url + ready_path)
        yield running
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _family(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop_process_tree(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process, give it `grace` seconds to stop cleanly, then SIGKILL what is left."""
    family = _family(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    survivors = {member.pid: member for member in family + _family(process.pid)}
    for member in survivors.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(list(survivors.values()), timeout=grace)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)


@contextlib.contextmanager
def run_command(
    args: Sequence[str],
    *,
    ready_path: str = "/",
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    port: int | None = None,
    timeout: float = 60.0,
    grace: float = 10.0,
) -> Iterator[RunningServer]:
    """Run a server command in a child process on a free port and stop it, and its children, after.

    Write `{port}` in `args` (or in the values of `env`) where the command takes its port.
    """
    # A port chosen free may be taken before the server binds it: outgoing connections of other
    # programs get their local ports from the same range. With a port we chose, try another.
    for attempt in range(3):
        running = _start(args, env, cwd, port or free_port())
        try:
            wait_until_ready(running.url + ready_path, timeout, alive=running.process_alive)
        except ServerError as error:
            log = running.log()
            _stop_process_tree(running.process, grace)
            if port is None and attempt < 2 and _ADDRESS_IN_USE.search(log):
                continue
            raise ServerError(f"{error}\n--- server log ---\n{log[-3000:]}") from None
        break
    try:
        yield running
    finally:
        _stop_process_tree(running.process, grace)


_ADDRESS_IN_USE = re.compile(r"Address already in use|Connection in use")


def _start(args, env, cwd, port: int) -> RunningServer:
    args = [str(arg).format(port=port) for arg in args]
    full_env = {**os.environ, **{k: str(v).format(port=port) for k, v in (env or {}).items()}}
    log_dir = Path(tempfile.mkdtemp(prefix="toolbox-"))
    log_path = log_dir / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - arguments come from the caller, never a shell
            args, env=full_env, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT
        )
    return RunningServer(host=LOOPBACK, port=port, process=process, log_path=log_path)


def _highlight(code: str, lexer_name: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    formatter = HtmlFormatter(noclasses=True, style="default")
    return highlight(code, get_lexer_by_name(lexer_name), formatter)


class Code:
    """Source text that a notebook shows highlighted (HTML) and as plain text (what nbval compares)."""

    def __init__(self, text: str, language: str = "python"):
        self.text = text
        self.language = language

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return _highlight(self.text, self.language)


def _resolve(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def _language_of(path: Path) -> str:
    return {
        ".py": "python",
        ".ini": "ini",
        ".cfg": "ini",
        ".toml": "toml",
        ".yml": "yaml",
        ".yaml": "yaml",
        ".conf": "nginx",
        ".json": "json",
        ".sh": "bash",
    }.get(path.suffix, "docker" if path.name == "Dockerfile" else "text")


def _marked_lines(lines: list[str], marker: str, begin: int = 0) -> list[int]:
    """Indexes of the lines from `begin` on that a marker names: the lines equal to it (trailing
    spaces ignored) if any, else those that begin with it, else those that contain it. A marker
    of several lines names the first of as many consecutive lines, each named by its own line."""
    parts = marker.split("\n")
    candidates = range(begin, len(lines) - len(parts) + 1)
    for matches in (
        lambda line, part: line.rstrip() == part.rstrip(),
        lambda line, part: line.startswith(part),
        lambda line, part: part in line,
    ):
        found = [
            i
            for i in candidates
            if all(matches(lines[i + j], part) for j, part in enumerate(parts))
        ]
        if found:
            return found
    return []


def show_source(path: str | Path, start: str | None = None, end: str | None = None) -> Code:
    """Show a file of the repository (a path relative to its root), or a slice of it: from the line
    `start` names (else the top) to the first line from there that `end` names (else the bottom).
    A line equal to a marker wins over one beginning with it, which wins over one containing it;
    a marker with newlines names consecutive lines. A `start` that names no line, or several,
    raises ValueError, as does an `end` naming none."""
    file = _resolve(path)
    lines = file.read_text().splitlines()
    first, last = 0, len(lines) - 1
    if start is not None:
        found = _marked_lines(lines, start)
        if len(found) != 1:
            where = ", ".join(str(i + 1) for i in found) or "no line"
            raise ValueError(f"start {start!r} must name one line of {path}, not: {where}")
        first = found[0]
    if end is not None:
        found = _marked_lines(lines, end, begin=first)
        if not found:
            raise ValueError(f"end {end!r} names no line of {path} from line {first + 1} on")
        last = found[0]
    return Code("\n".join(lines[first : last + 1]), _language_of(file))


def show_diff(old: str | Path, new: str | Path, context: int = 2) -> Code:
    """Show what changed from one file to the next, as a unified diff."""
    old_file, new_file = _resolve(old), _resolve(new)
    diff = difflib.unified_diff(
        old_file.read_text().splitlines(),
        new_file.read_text().splitlines(),
        fromfile=str(old_file.relative_to(REPO_ROOT)),
        tofile=str(new_file.relative_to(REPO_ROOT)),
        n=context,
        lineterm="",
    )
    return Code("\n".join(diff), "diff")


# PostgreSQL and Redis for the chapters on several instances (23): real servers from Debian's
# packages, each in a temporary folder, listening on 127.0.0.1 only, and always stopped.
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = Path("/usr/bin/redis-server")
PROMETHEUS = Path("/usr/bin/prometheus")


def _as_postgres(args: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as Debian's `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


def _wait_for_port(port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise ServerError(f"the server on port {port} exited before it accepted connections")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.05)
    raise ServerError(f"nothing accepted connections on port {port} within {timeout} s")


@contextlib.contextmanager
def run_postgres(timeout: float = 60.0, also_listen: Sequence[str] = ()) -> Iterator[RunningServer]:
    """A fresh PostgreSQL cluster in a temporary folder, on a free 127.0.0.1 port, stopped (and the
    folder removed) when the block ends. `server.extra["url"]` is the SQLAlchemy URL (user `app`,
    no password: only local connections, trusted); `server.extra["stop"]()` and `["start"]()`
    stop and start the same cluster again, as a database restart does. `also_listen`: more
    addresses to listen on besides 127.0.0.1 (another host's, in chapter 23's namespaces)."""
    initdb, pg_ctl = POSTGRES_BIN / "initdb", POSTGRES_BIN / "pg_ctl"
    if not initdb.exists():
        raise ServerError(f"{initdb} is missing: install Debian's postgresql package")
    folder = Path(tempfile.mkdtemp(prefix="postgres-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data, port, log = folder / "data", free_port(), folder / "server.log"

    def run(args: Sequence[str], seconds: float) -> None:
        result = subprocess.run(  # noqa: S603 - fixed binaries, our own paths
            _as_postgres([str(arg) for arg in args]),
            capture_output=True,
            text=True,
            timeout=seconds,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"{args[0]} failed:\n{result.stdout}{result.stderr}")

    addresses = ",".join([LOOPBACK, *also_listen])
    options = f"-c listen_addresses={addresses} -p {port} -k {folder} -c fsync=off"

    def start() -> None:
        run([pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", int(timeout), "start"],
            timeout + 5)  # fmt: skip

    def stop() -> None:
        run([pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], 60)

    running = RunningServer(host=LOOPBACK, port=port, log_path=log)
    try:
        run([initdb, "-D", data, "-A", "trust", "-U", "app", "--no-sync"], 120)
        if also_listen:  # clients on those addresses' own networks may connect too, trusted
            with open(data / "pg_hba.conf", "a") as rules:
                rules.write("host all all samenet trust\n")
        start()
        running.extra.update(
            url=f"postgresql+psycopg://app@{LOOPBACK}:{port}/postgres",
            directory=folder,
            start=start,
            stop=stop,
        )
        yield running
    finally:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
                stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def run_redis(timeout: float = 30.0, also_listen: Sequence[str] = ()) -> Iterator[RunningServer]:
    """A Redis server on a free 127.0.0.1 port, keeping nothing on disk, stopped when the block
    ends. `server.extra["url"]` is its redis:// URL; `also_listen` as for run_postgres."""
    if not REDIS_SERVER.exists():
        raise ServerError(f"{REDIS_SERVER} is missing: install Debian's redis-server package")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="redis-") as name:
        folder = Path(name)
        log_path = folder / "server.log"
        args = [str(REDIS_SERVER), "--bind", LOOPBACK, *also_listen, "--port", str(port), "--dir", name,
                "--save", "", "--appendonly", "no", "--protected-mode", "yes"]  # fmt: skip
        if also_listen:  # without a password Redis 7 serves only loopback unless told otherwise
            args[-1] = "no"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own arguments
                args, stdout=log_file, stderr=subprocess.STDOUT, cwd=name
            )
        running = RunningServer(host=LOOPBACK, port=port, process=process, log_path=log_path)
        running.extra["url"] = f"redis://{LOOPBACK}:{port}/0"
        try:
            try:
                _wait_for_port(port, timeout, alive=lambda: process.poll() is None)
            except ServerError as error:
                raise ServerError(f"{error}\n--- server log ---\n{running.log()[-3000:]}") from None
            yield running
        finally:
            _stop_process_tree(process, grace=10)


@contextlib.contextmanager
def run_prometheus(
    targets: Sequence[str],
    rule_files: Sequence[str | Path] = (),
    *,
    interval_seconds: float = 1.0,
    timeout: float = 60.0,
) -> Iterator[RunningServer]:
    """A Prometheus server on a free 127.0.0.1 port that scrapes `targets` ("host:port", job
    "serving") every `interval_seconds` and evaluates `rule_files`, with its configuration and
    storage in a temporary folder removed when the block ends. Query it at `server.url`."""
    if not PROMETHEUS.exists():
        raise ServerError(f"{PROMETHEUS} is missing: install Debian's prometheus package")
    with tempfile.TemporaryDirectory(prefix="prometheus-") as name:
        config = Path(name) / "prometheus.yml"
        every = f"{interval_seconds:g}s"
        config.write_text(
            json.dumps(  # JSON is YAML too
                {
                    "global": {"scrape_interval": every, "evaluation_interval": every},
                    "rule_files": [str(Path(f).resolve()) for f in rule_files],
                    "scrape_configs": [
                        {"job_name": "serving", "static_configs": [{"targets": list(targets)}]}
                    ],
                }
            )
        )
        args = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={name}/data",
                "--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
        with run_command(args, ready_path="/-/ready", cwd=name, timeout=timeout) as server:
            yield server
