"""A tiny WSGI app for load-balancing demonstrations: it answers every request with the port and
process id that served it, so a client behind a proxy can see which instance answered, and the
port the request came from, which shows whether the proxy reused a connection."""

import json
import os

# WHOAMI_READY=false: the instance is alive but not ready, like a service still loading its model
# or cut off from its database: /healthz answers 200 (alive), everything else 503.
READY = os.environ.get("WHOAMI_READY", "true").lower() != "false"


def app(environ, start_response):
    """Answer with {"port", "pid", "path", "client_port"}: the port this server listens on, its
    process, the path asked for, and the client's port (the same on a reused connection)."""
    body = json.dumps(
        {
            "port": int(environ["SERVER_PORT"]),
            "pid": os.getpid(),
            "path": environ.get("PATH_INFO", "/"),
            "client_port": int(environ.get("REMOTE_PORT") or 0),
        }
    ).encode()
    if not READY and environ.get("PATH_INFO") != "/healthz":
        start_response("503 Service Unavailable", [("Content-Type", "application/json")])
        return [b'{"status": "not ready"}']
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
