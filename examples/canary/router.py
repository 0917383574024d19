"""A canary router: a WSGI app in front of two running services, the stable one and the canary.

For every request it draws a random number: with probability `share` the request goes to the
canary, otherwise to the stable service. The choice is made independently per request, so the two
groups of requests are comparable (a randomised experiment). The answer is passed back unchanged,
with one extra header, X-Model-Arm, naming the version that produced it; the router also keeps the
list of its choices, so an analysis can count requests and errors per version.

    router = CanaryRouter("http://127.0.0.1:8001", "http://127.0.0.1:8002", share=0.2)
    with serve_app(router) as front:
        requests.post(front.url + "/v1/predict", json=body).headers["X-Model-Arm"]   # "stable" or "canary"

A production router (nginx's split_clients, a service mesh) does the same with less overhead and
usually assigns by a hash of a client id, so that one client always sees one version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import requests
from werkzeug.wrappers import Request, Response

ARM_HEADER = "X-Model-Arm"
# Headers that describe one connection, not the message: a proxy must not forward them.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


@dataclass(frozen=True)
class Assignment:
    """One forwarded request: the version it went to, the path, and the status it got."""

    arm: str
    path: str
    status: int


class CanaryRouter:
    """Forward each request to `stable_url` or, with probability `share`, to `canary_url`."""

    def __init__(
        self,
        stable_url: str,
        canary_url: str,
        share: float = 0.2,
        *,
        seed: int | None = 0,
        timeout: float = 10.0,
        names: tuple[str, str] = ("stable", "canary"),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        self.upstreams = {names[0]: stable_url.rstrip("/"), names[1]: canary_url.rstrip("/")}
        self.names = names
        self.share = share
        self.timeout = timeout
        self.assignments: list[Assignment] = []
        # One generator shared by the server's threads: drawing from it is guarded by the lock.
        self._random = np.random.default_rng(seed)
        self._lock = threading.Lock()

    def choose(self) -> str:
        """The version for the next request: the canary with probability `share`."""
        with self._lock:
            draw = self._random.random()
        return self.names[1] if draw < self.share else self.names[0]

    def __call__(self, environ, start_response):
        request = Request(environ)
        arm = self.choose()
        url = self.upstreams[arm] + request.full_path.rstrip("?")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            answer = requests.request(
                request.method,
                url,
                data=request.get_data(),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException:
            # The chosen version did not answer: say so in the service's own error shape.
            response = Response(
                b'{"error": {"status": 503, "code": "unavailable", "message": '
                b'"The model version chosen for this request did not answer; retry in a moment.", '
                b'"details": []}}',
                status=503,
                content_type="application/json",
            )
        else:
            response = Response(answer.content, status=answer.status_code)
            response.headers.clear()
            for key, value in answer.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers[key] = value
        response.headers[ARM_HEADER] = arm
        with self._lock:
            self.assignments.append(Assignment(arm, request.path, response.status_code))
        return response(environ, start_response)
