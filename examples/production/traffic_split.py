"""A canary router: a WSGI app in front of two running services, the stable one and the canary.

For every request it draws a random number: with probability `share` the request goes to the
canary, otherwise to the stable service. The choice is made independently per request, so the two
groups of requests are comparable (a randomised experiment). The answer is passed back unchanged,
with one extra header, X-Model-Arm, naming the version that produced it; the router also keeps the
list of its choices, so an analysis can count requests and errors per version.

    router = CanaryRouter("http://127.0.0.1:8001", "http://127.0.0.1:8002", share=0.2)
    with serve_app(router) as front:
        requests.post(front.url + "/v1/predict", json=body).headers["X-Model-Arm"]   # "stable" or "canary"

With `sticky_header` (say "X-Client-Id") a request that names a client is assigned by a hash of
that id instead: the same client always gets the same version, so one person never sees answers
flip between versions, and their repeated requests do not count in both arms. With `shadow=True`
every request is answered by the stable version, and also sent to the canary, whose answer is
recorded and never returned: the canary is compared on real traffic while it answers nobody.

A production router (nginx's split_clients, a service mesh) does the same with less overhead; a
mirror (nginx's mirror module, a mesh's traffic mirroring) sends the shadow copy off the request
path, where this router waits for it.
"""

from __future__ import annotations

import hashlib
import threading
import time
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
    """One forwarded request: the version it went to, the path, the status it got, and how long
    the version took to answer (seconds, measured at the router)."""

    arm: str
    path: str
    status: int
    seconds: float = 0.0
    client: str | None = None


@dataclass(frozen=True)
class ShadowPair:
    """In shadow mode, one request as both versions answered it (bodies as bytes)."""

    path: str
    stable_status: int
    stable_body: bytes
    canary_status: int
    canary_body: bytes


def sticky_arm(client_id: str, share: float, salt: str) -> bool:
    """True when this client belongs to the canary: a hash of salt and id, read as a number in
    [0, 1), is below `share`. A new salt reshuffles clients for the next experiment."""
    digest = hashlib.sha256(f"{salt}:{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


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
        sticky_header: str | None = None,
        salt: str = "canary",
        shadow: bool = False,
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError("share must be between 0 and 1")
        self.upstreams = {names[0]: stable_url.rstrip("/"), names[1]: canary_url.rstrip("/")}
        self.names = names
        self.share = share
        self.timeout = timeout
        self.sticky_header, self.salt, self.shadow = sticky_header, salt, shadow
        self.assignments: list[Assignment] = []
        self.shadow_pairs: list[ShadowPair] = []
        # One generator shared by the server's threads: drawing from it is guarded by the lock.
        self._random = np.random.default_rng(seed)
        self._lock = threading.Lock()

    def choose(self, client_id: str | None = None) -> str:
        """The version for the next request: the canary with probability `share`, or, for a
        named client with a sticky header, by the hash of its id."""
        if self.shadow:
            return self.names[0]
        if client_id is not None:
            return self.names[1] if sticky_arm(client_id, self.share, self.salt) else self.names[0]
        with self._lock:
            draw = self._random.random()
        return self.names[1] if draw < self.share else self.names[0]

    def _forward(self, arm: str, request: Request, headers: dict) -> requests.Response:
        return requests.request(
            request.method,
            self.upstreams[arm] + request.full_path.rstrip("?"),
            data=request.get_data(),
            headers=headers,
            timeout=self.timeout,
            allow_redirects=False,
        )

    def __call__(self, environ, start_response):
        request = Request(environ)
        client = request.headers.get(self.sticky_header) if self.sticky_header else None
        arm = self.choose(client)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        started = time.perf_counter()
        try:
            answer = self._forward(arm, request, headers)
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
        seconds = time.perf_counter() - started
        response.headers[ARM_HEADER] = arm
        with self._lock:
            self.assignments.append(
                Assignment(arm, request.path, response.status_code, seconds, client)
            )
        if self.shadow:
            self._record_shadow(request, headers, response)
        return response(environ, start_response)

    def _record_shadow(self, request: Request, headers: dict, response: Response) -> None:
        """Send the same request to the canary and keep both answers; the caller gets only the
        stable one (it is already built), whatever the canary does."""
        try:
            copy = self._forward(self.names[1], request, headers)
            status, body = copy.status_code, copy.content
        except requests.RequestException:
            status, body = 503, b""
        pair = ShadowPair(request.path, response.status_code, response.get_data(), status, body)
        with self._lock:
            self.shadow_pairs.append(pair)
