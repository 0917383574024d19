"""`make live`: the built site with live code, running on your own machine.

Two servers, both on 127.0.0.1 only:

- a Jupyter server from the book's .venv (so its kernel imports `examples`), started in the
  repository's root, with a random token and cross-origin requests allowed from the site's
  origin alone: a page from any other origin cannot use it, and nothing else can without the token;
- the built site (`_build/html`), each page given the Jupyter server's address and token, plus
  thebe's files under `/_thebe/`. thebe (the npm package, 0.9.x) is fetched once from the npm
  registry with `npm pack` into `_build/thebe/`; pages never load anything from another machine.

Each chapter then shows a "Live code" button: its cells become editable and run on the kernel,
servers included (they bind 127.0.0.1 on free ports and stop with their cell, as in Jupyter Lab).
Stop with Ctrl-C; the Jupyter server stops its kernels, and every server a cell started stops
with its kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tools.book_checks import REPO_ROOT

THEBE_VERSION = "0.9.3"
THEBE_ROOT = REPO_ROOT / "_build" / "thebe"
SITE = REPO_ROOT / "_build" / "html"
MATHJAX = "/_static/mathjax/MathJax.js"  # book/_ext/local_mathjax.py copies it into the site


def fetch_thebe(root: Path = THEBE_ROOT, version: str = THEBE_VERSION) -> Path:
    """thebe's ready-built `lib/` from the npm registry (once); return the folder."""
    lib = root / version / "lib"
    if (lib / "index.js").exists():
        return lib
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("make live needs npm to fetch thebe once: apt-get install npm")
    with tempfile.TemporaryDirectory() as folder:
        packed = subprocess.run(  # noqa: S603 - a fixed command line
            [npm, "pack", f"thebe@{version}", "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        ).stdout.split()[-1]
        staging = root / f"{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        with tarfile.open(Path(folder) / packed) as archive:
            wanted = [
                member
                for member in archive.getmembers()
                if member.name.startswith("package/lib/")
                and member.isfile()
                and not member.name.endswith(".map")  # source maps: 11 MB nobody needs here
                and "/types/" not in member.name
            ]
            archive.extractall(staging, members=wanted, filter="data")
        (staging / "package" / "lib").rename(staging / "lib")
        (staging / "package").rmdir()
        shutil.rmtree(root / version, ignore_errors=True)
        staging.rename(root / version)
    return lib


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveSiteHandler(SimpleHTTPRequestHandler):
    """The built site, each HTML page told where the Jupyter server is; thebe under /_thebe/."""

    live_script = b""
    thebe_lib = Path()

    def log_message(self, *args) -> None:
        pass

    def translate_path(self, path: str) -> str:
        route = unquote(urlsplit(path).path)
        if route.startswith("/_thebe/"):
            target = (self.thebe_lib / route.removeprefix("/_thebe/")).resolve()
            if target.is_relative_to(self.thebe_lib.resolve()):
                return str(target)
            return str(self.thebe_lib / "missing")
        return super().translate_path(path)

    def send_head(self):
        # Pages carry the token: answer only requests addressed to this machine by its own name,
        # so a web page that rebinds its host name to 127.0.0.1 cannot read one.
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in {"127.0.0.1", "localhost"}:
            self.send_error(403, "make live answers only to http://127.0.0.1")
            return None
        target = Path(self.translate_path(self.path))
        if target.suffix != ".html" or not target.is_file():
            return super().send_head()
        # First thing in <head>, so the page's own scripts (live-code.js) already see it.
        page = target.read_bytes().replace(b"<head>", b"<head>" + self.live_script, 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")  # the token changes with every make live
        self.end_headers()
        return io.BytesIO(page)


@dataclass
class Live:
    """The two running servers."""

    site_url: str
    jupyter_url: str
    token: str
    jupyter: subprocess.Popen


def jupyter_command(port: int, origin: str) -> list[str]:
    """The Jupyter server's command line; the token goes in the environment (JUPYTER_TOKEN), where
    other users of the machine cannot read it, unlike a command line that `ps` shows them."""
    command = [
        str(Path(sys.executable).parent / "jupyter-server"),
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={REPO_ROOT}",
        f"--ServerApp.allow_origin={origin}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")  # see book/setup.md: Jupyter refuses root without it
    return command


def server_environment(token: str) -> dict[str, str]:
    """The Jupyter server's environment: the token, and this repository first on the import path.

    The kernel then imports `examples` from the repository whose site it serves, even when the
    venv's editable install points at another copy of the book (a second clone sharing one venv).
    """
    path = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "JUPYTER_TOKEN": token, "PYTHONPATH": os.pathsep.join(path)}


def _wait_until_ready(url: str, token: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"token {token}"}
    request = urllib.request.Request(url + "api/status", headers=headers)  # noqa: S310 - http
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Jupyter server stopped at once (exit {process.returncode})")
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310 - our own URL
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the Jupyter server did not answer within {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Jupyter shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def live(
    site: Path = SITE,
    site_port: int = 0,
    jupyter_port: int = 0,
    thebe_lib: Path | None = None,
    log: Path | None = None,
) -> Iterator[Live]:
    """Run the Jupyter server and the site until the block ends; port 0 picks a free port."""
    if not (site / "index.html").exists():
        raise SystemExit(f"no built site in {site}: run `make book` first")
    thebe_lib = thebe_lib or fetch_thebe()
    token = secrets.token_urlsafe(24)
    handler_class = type("Handler", (LiveSiteHandler,), {"thebe_lib": thebe_lib})
    server = ThreadingHTTPServer(
        ("127.0.0.1", site_port), functools.partial(handler_class, directory=str(site))
    )
    site_url = f"http://127.0.0.1:{server.server_port}/"
    jupyter_port = jupyter_port or free_port()
    jupyter_url = f"http://127.0.0.1:{jupyter_port}/"
    settings = {
        "baseUrl": jupyter_url,
        "token": token,
        "thebeUrl": "/_thebe/",
        "mathjaxUrl": MATHJAX,
    }
    handler_class.live_script = (
        f"<script>window.BOOK_LIVE = {json.dumps(settings)};</script>\n".encode()
    )
    output = log.open("ab") if log else subprocess.DEVNULL
    jupyter = subprocess.Popen(  # noqa: S603 - our own command line
        jupyter_command(jupyter_port, site_url.rstrip("/")),
        cwd=REPO_ROOT,
        env=server_environment(token),
        stdout=output,
        stderr=output,
        start_new_session=True,  # its own process group, stopped in `finally`
    )
    thread = threading.Thread(target=server.serve_forever, name="live-site", daemon=True)
    thread.start()
    try:
        _wait_until_ready(jupyter_url, token, jupyter, timeout=90)
        yield Live(site_url=site_url, jupyter_url=jupyter_url, token=token, jupyter=jupyter)
    finally:
        _stop(jupyter)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        if log:
            output.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The built site with live code (make live).")
    parser.add_argument("--site-port", type=int, default=8002)
    parser.add_argument("--jupyter-port", type=int, default=8889)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly when asked to
    with live(site_port=args.site_port, jupyter_port=args.jupyter_port) as running:
        print(f"The book with live code: {running.site_url}book/welcome.html", flush=True)
        print(
            f"Its Jupyter server: {running.jupyter_url} (token in each page; Ctrl-C stops both)",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while running.jupyter.poll() is None:
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
