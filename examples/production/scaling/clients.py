"""Several clients on one machine: each connects from its own loopback address (all of
127.0.0.0/8 is this machine on Linux), so a server or a proxy sees them as different hosts."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter


class FromAddress(HTTPAdapter):
    """Connect from a chosen local address."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A requests session whose connections all come from `address` (127.0.0.2, 127.0.0.3, ...)."""
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    session.mount("https://", FromAddress(address))
    return session
