"""nginx in front of several gunicorn instances on one machine, every process on 127.0.0.1.

    with run_gunicorn_instances(2, "examples.production.scaling.whoami:app") as instances:
        with run_nginx([i.port for i in instances]) as proxy:
            requests.get(proxy.url + "/")          # answered by one instance or the other
        instances.stop(0)                          # stop the first one early

nginx runs as a child process in the foreground (`daemon off;`), with every file it writes (pid
file, logs, temporary files) in a temporary folder, and stops when the `with` block ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import grp
import os
import pwd
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from examples.toolbox import LOOPBACK, REPO_ROOT, RunningServer, ServerError, free_port, run_command

NGINX = "/usr/sbin/nginx"
GUNICORN_CONFIG = REPO_ROOT / "examples" / "serving" / "gunicorn.conf.py"
# nginx answers this path itself, without asking an upstream: "is the proxy up?"
PROXY_HEALTH_PATH = "/nginx-health"
# One access-log line per request, as key=value pairs that read_access_log() parses. When nginx
# tries a second upstream, $upstream_addr and $upstream_status list every attempt, comma-separated.
LOG_FORMAT = (
    'status=$status upstream="$upstream_addr" upstream_status="$upstream_status" '
    'request_time=$request_time upstream_time="$upstream_response_time" request="$request"'
)
# The body of nginx's 503 when no instance can answer (NginxSettings.json_errors): the shape of
# examples/serving/errors.py, so that clients parse one shape whoever answered.
NO_INSTANCE_BODY = (
    '{"error": {"status": 503, "code": "unavailable", '
    '"message": "nginx got no answer from any instance of the service; try again after Retry-After seconds.", '
    '"details": []}}'
)
LOG_LINE = re.compile(r'(\w+)=(?:"([^"]*)"|(\S+))')


@dataclass(frozen=True)
class NginxSettings:
    """Everything the generated nginx.conf depends on."""

    # Ports on 127.0.0.1, or "address:port" strings for instances on other hosts.
    upstream_ports: Sequence[int | str]
    listen_port: int
    directory: Path
    # "least_conn": the next request goes to the upstream with the fewest requests in progress;
    # "round_robin" (nginx's default): to each upstream in turn.
    balance: str = "least_conn"
    # After max_fails failed attempts within fail_timeout seconds, an upstream is left out for
    # fail_timeout seconds, then tried again with one real request.
    max_fails: int = 1
    fail_timeout_s: int = 10
    # Idle connections to the upstreams that each nginx worker keeps open for reuse. gunicorn's
    # sync workers (one thread each, our default) close every connection after one response, so
    # this pays off only with threaded workers (SERVING_THREADS above 1: gthread keeps them).
    keepalive: int = 16
    connect_timeout_s: int = 1
    read_timeout_s: int = 30
    # Add an X-Upstream response header naming the instance that answered. For teaching and
    # tests only: in production it tells every client the internal addresses.
    reveal_upstream: bool = False
    worker_processes: int = 1
    # When nginx tries the next upstream: a refused connection, a timeout, a 502; add http_503 so
    # that an instance answering 503 (not ready, or its database down) is passed over too. nginx
    # retries a POST only if nothing reached the upstream yet, unless `non_idempotent` is listed.
    next_upstream: str = "error timeout http_502"
    # Larger request bodies get 413 from nginx itself, before a byte reaches gunicorn (nginx's
    # default is 1m).
    client_max_body_size: str = "1m"
    # Read the whole request body before passing it on, and the whole answer before sending it
    # back: a slow client then ties up nginx's cheap connection, not a gunicorn worker.
    buffering: bool = True
    # TLS: the paths of a certificate chain and its private key (PEM). nginx then answers HTTPS on
    # `tls_port`, and the plain port only redirects to it (nginx's own health path excepted).
    tls: tuple[Path, Path] | None = None
    tls_port: int | None = None
    # Strict-Transport-Security on HTTPS answers: a browser that saw it uses only HTTPS for this
    # host for max-age seconds, so a forged plain-HTTP page cannot be slipped in first.
    hsts_seconds: int = 31536000
    # When no instance can answer (every one refused, failed or timed out), nginx's own answer is
    # an HTML 502 or 504. With json_errors it answers 503 in the service's JSON error shape with
    # Retry-After instead, so a client parses one shape and knows when to try again. Off by
    # default: chapter 23 shows nginx's plain behaviour first.
    json_errors: bool = False
    retry_after_s: int = 5
    # Whether nginx's master will run as root (None: as this process runs). It decides the `user`
    # line; pass it explicitly to show the same configuration whoever renders it.
    as_root: bool | None = None

    def __post_init__(self) -> None:
        if self.balance not in {"least_conn", "round_robin"}:
            raise ValueError("balance must be 'least_conn' or 'round_robin'")
        if not self.upstream_ports:
            raise ValueError("nginx needs at least one upstream")


def _worker_user_line(as_root: bool | None) -> str:
    """nginx's `user` directive applies only when the master process runs as root: its workers then
    switch to that user (default `nobody nobody`, but Debian has no group called nobody). As any
    other user the directive is ignored with a warning, so we leave it out."""
    if not (os.geteuid() == 0 if as_root is None else as_root):
        return "# not root: the workers run as the user who started nginx"
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    return f"user nobody {group};  # the master runs as root; its workers must not"


def _address(upstream: int | str) -> str:
    """A port alone means 127.0.0.1; "host:port" names an instance on another host."""
    return upstream if isinstance(upstream, str) else f"{LOOPBACK}:{upstream}"


def render_nginx_config(settings: NginxSettings) -> str:
    """The text of nginx.conf for these settings."""
    folder = settings.directory
    servers = "\n".join(
        f"        server {_address(port)} max_fails={settings.max_fails} "
        f"fail_timeout={settings.fail_timeout_s}s;"
        for port in settings.upstream_ports
    )
    method = "least_conn;" if settings.balance == "least_conn" else "# round robin: nginx's default"
    reveal = "add_header X-Upstream $upstream_addr always;" if settings.reveal_upstream else ""
    buffering = "on" if settings.buffering else "off"
    # nginx passes add_header down to a location only if the location has none of its own, so a
    # location that adds X-Upstream must repeat HSTS.
    if settings.tls is not None and settings.reveal_upstream:
        reveal += f'\n            add_header Strict-Transport-Security "max-age={settings.hsts_seconds}" always;'
    no_instance_page, no_instance = "", ""
    if settings.json_errors:
        no_instance_page = "\n            error_page 502 504 = @no_instance;"
        # A location with add_header of its own inherits none from the server: repeat HSTS.
        hsts = (
            f'\n            add_header Strict-Transport-Security "max-age={settings.hsts_seconds}" always;'
            if settings.tls is not None
            else ""
        )
        no_instance = f"""

        # nginx's own 502/504 (no instance could answer), in the service's error shape.
        location @no_instance {{
            default_type application/json;
            add_header Retry-After {settings.retry_after_s} always;{hsts}
            return 503 '{NO_INSTANCE_BODY}';
        }}"""
    proxied = f"""
        location / {{
            proxy_pass http://wine_api;
            # Keep-alive to the upstreams needs HTTP/1.1 and an empty Connection header.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # The client's address appended to what the client sent: the app trusts only the
            # last hop(s) it is told to (SERVING_TRUSTED_PROXY_HOPS), never what a client wrote.
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # POST requests are retried only if nothing was sent yet (nginx's rule for
            # non-idempotent methods), which is the case for a refused connection.
            proxy_next_upstream {settings.next_upstream};
            proxy_next_upstream_tries {len(settings.upstream_ports)};
            proxy_connect_timeout {settings.connect_timeout_s}s;
            proxy_read_timeout {settings.read_timeout_s}s;
            proxy_request_buffering {buffering};
            proxy_buffering {buffering};
            {reveal}{no_instance_page}
        }}{no_instance}"""
    health = f"""
        location = {PROXY_HEALTH_PATH} {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}"""
    if settings.tls is None:
        servers_block = f"""
    server {{
        listen {LOOPBACK}:{settings.listen_port};
{health}
{proxied}
    }}"""
    else:
        certificate, key = settings.tls
        servers_block = f"""
    # Plain HTTP only sends clients to HTTPS (301 keeps the path and the query).
    server {{
        listen {LOOPBACK}:{settings.listen_port};
{health}
        location / {{
            return 301 https://$host:{settings.tls_port}$request_uri;
        }}
    }}

    # TLS ends here: nginx holds the key; from here to gunicorn on this host the bytes are plain.
    server {{
        listen {LOOPBACK}:{settings.tls_port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        add_header Strict-Transport-Security "max-age={settings.hsts_seconds}" always;
{health}
{proxied}
    }}"""
    return f"""\
# Generated by examples/production/scaling/nginx.py: a reverse proxy on {LOOPBACK}:{settings.listen_port}
# balancing over {len(settings.upstream_ports)} upstream instance(s).
daemon off;  # stay in the foreground: we run nginx as a child process and stop it ourselves
{_worker_user_line(settings.as_root)}
worker_processes {settings.worker_processes};
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;

events {{
    worker_connections 512;
}}

http {{
    # Every file nginx writes lives in our temporary folder, never in /var.
    client_body_temp_path {folder}/client_body_temp;
    proxy_temp_path {folder}/proxy_temp;
    fastcgi_temp_path {folder}/fastcgi_temp;
    uwsgi_temp_path {folder}/uwsgi_temp;
    scgi_temp_path {folder}/scgi_temp;
    log_format balanced '{LOG_FORMAT}';
    access_log {folder}/access.log balanced;
    server_tokens off;
    client_max_body_size {settings.client_max_body_size};

    upstream wine_api {{
        {method}
{servers}
        keepalive {settings.keepalive};
    }}

{servers_block}
}}
"""


def _nginx_args(directory: Path) -> list[str]:
    # -p: the prefix for relative paths; -c: our config; -e: the error log from the very start
    # (before the config is read, nginx would otherwise log to the path it was compiled with).
    return [
        NGINX,
        "-p",
        f"{directory}/",
        "-c",
        str(directory / "nginx.conf"),
        "-e",
        str(directory / "error.log"),
    ]


def check_nginx_config(directory: Path) -> str:
    """`nginx -t`: parse the config and open its files, without serving. Raises ServerError."""
    result = subprocess.run(  # noqa: S603 - a fixed binary and our own paths
        [*_nginx_args(directory), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        raise ServerError(f"nginx rejected its config:\n{result.stderr}")
    return result.stderr


@contextlib.contextmanager
def run_nginx(upstream_ports: Sequence[int | str], **options) -> Iterator[RunningServer]:
    """Run nginx on a free 127.0.0.1 port in front of `upstream_ports`; stop it when the block ends.

    `options` are NginxSettings fields (balance, max_fails, reveal_upstream, ...). The server's
    `extra` holds the folder, the config and the access log's path.
    """
    with tempfile.TemporaryDirectory(prefix="nginx-") as name:
        directory = Path(name)
        # nginx's workers may run as another user (see _worker_user_line): they must be able to
        # enter the folder. nginx creates its temp folders inside, owned by the workers' user.
        directory.chmod(0o755)
        settings = NginxSettings(
            upstream_ports=list(upstream_ports),
            listen_port=free_port(),
            directory=directory,
            **options,
        )
        if settings.tls is not None and settings.tls_port is None:
            settings = dataclasses.replace(settings, tls_port=free_port())
        (directory / "nginx.conf").write_text(render_nginx_config(settings))
        check_nginx_config(directory)
        with run_command(
            _nginx_args(directory),
            ready_path=PROXY_HEALTH_PATH,
            port=settings.listen_port,
            timeout=20,
            grace=5,
        ) as server:
            server.extra.update(
                directory=directory,
                config=directory / "nginx.conf",
                access_log=directory / "access.log",
                settings=settings,
            )
            if settings.tls is not None:
                server.extra["https_url"] = f"https://localhost:{settings.tls_port}"
            yield server


def read_access_log(server: RunningServer) -> list[dict[str, str]]:
    """The proxy's access log so far, one dict per request (status, upstream, upstream_status, ...)."""
    path = server.extra["access_log"]
    if not path.exists():
        return []
    return [
        {key: quoted or bare for key, quoted, bare in LOG_LINE.findall(line)}
        for line in path.read_text().splitlines()
        if line.strip()
    ]


class Instances(list):
    """The running instances, in start order; `stop(i)` stops one of them before the block ends."""

    def __init__(self, servers: list[RunningServer], stacks: list[contextlib.ExitStack]):
        super().__init__(servers)
        self._stacks = stacks

    def stop(self, index: int) -> None:
        self._stacks[index].close()

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self]


@contextlib.contextmanager
def run_gunicorn_instances(
    count: int,
    app: str = "examples.serving.wsgi:app",
    *,
    workers: int = 1,
    threads: int | None = None,
    config: Path | None = GUNICORN_CONFIG,
    ready_path: str = "/healthz",
    env: Mapping[str, str] | None = None,
    instance_env: Sequence[Mapping[str, str]] = (),
) -> Iterator[Instances]:
    """Start `count` independent gunicorn servers of `app`, each on its own free 127.0.0.1 port,
    and stop every one of them when the block ends. `threads` above 1 selects gunicorn's gthread
    worker; `config=None` runs gunicorn without our gunicorn.conf.py (for other apps).
    `instance_env[i]`, when given, adds to `env` for instance i alone."""
    with contextlib.ExitStack() as everything:
        servers, stacks = [], []
        for index in range(count):
            stack = everything.enter_context(contextlib.ExitStack())
            args = [sys.executable, "-m", "gunicorn"]
            if config is not None:
                args += ["--config", str(config)]
            # Command-line options win over the config file: each instance gets its own port.
            # gunicorn 27 opens a control socket at one fixed path (~/.gunicorn/gunicorn.ctl);
            # instances side by side would take it from each other, and we do not use it.
            args += ["--bind", f"{LOOPBACK}:{{port}}", "--workers", str(workers)]
            if threads is not None:
                args += ["--threads", str(threads)]
            args += ["--no-control-socket", app]
            server = stack.enter_context(
                run_command(
                    args,
                    ready_path=ready_path,
                    env={
                        **(env or {}),
                        **(instance_env[index] if index < len(instance_env) else {}),
                    },
                    cwd=REPO_ROOT,
                )
            )
            servers.append(server)
            stacks.append(stack)
        yield Instances(servers, stacks)
