"""Serving a built site on a free 127.0.0.1 port for the browser tests, as a host would: under
its published prefix, with the 404 page for anything else."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site under its published prefix; anything else gets the 404 page, as a host would."""

    prefix = "/"

    def log_message(self, *args) -> None:  # keep pytest's output readable
        pass

    def send_head(self):
        path = urlsplit(self.path).path
        if path.startswith(self.prefix):
            self.path = "/" + self.path[len(self.prefix) :]
            target = Path(self.translate_path(self.path))
            if target.exists():
                return super().send_head()
        not_found = Path(self.directory) / "404.html"
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(not_found.stat().st_size))
        self.end_headers()
        return not_found.open("rb")


@contextlib.contextmanager
def serve_site(directory: Path, prefix: str) -> Iterator[str]:
    """Serve `directory` on a free 127.0.0.1 port; yield its base URL; stop when the block ends."""
    handler = functools.partial(
        type("Handler", (_SiteHandler,), {"prefix": prefix}), directory=str(directory)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
