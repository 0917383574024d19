"""Several machines on one: each "host" is a Linux network namespace with its own address.

A network namespace is a private copy of the network stack: its own interfaces, addresses, routing
table and loopback. Processes started inside one see only that copy. Here an `edge` namespace
holds a bridge (a virtual switch) and each host namespace is wired to it by a veth pair (a virtual
cable with one end in each namespace):

    edge  10.213.7.1  (nginx, PostgreSQL, Redis, the client)
      |- host 1  10.213.7.11
      |- host 2  10.213.7.12
      |- host 3  10.213.7.13

The addresses exist only inside these namespaces, never on the machine's own interfaces, so no
traffic can leave the machine. Creating namespaces needs root (`ip netns`); everything made is
removed when the block ends, and the processes inside are stopped first by their own blocks.

    with network_of_hosts(3) as network:
        run_inside(network.edge, function, *args)   # function runs with the edge's network
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

IP = shutil.which("ip") or "/usr/sbin/ip"
NETNS_FOLDER = Path("/run/netns")
# A private range (RFC 1918) that the book uses only inside the namespaces it creates.
SUBNET = "10.213.7"
_CLONE_NEWNET = 0x40000000  # from <sched.h>: "join a network namespace"
T = TypeVar("T")


@dataclass(frozen=True)
class Host:
    """One namespace: its name (for `ip netns`) and its address on the shared network."""

    namespace: str
    address: str


@dataclass(frozen=True)
class Network:
    edge: Host
    hosts: list[Host]


def _ip(*args: str) -> None:
    subprocess.run([IP, *args], check=True, capture_output=True, text=True, timeout=10)  # noqa: S603


def namespaces_unavailable() -> str | None:
    """Why this machine cannot run network_of_hosts, in one line; None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns)"
    if not Path(IP).exists():
        return "the ip command (iproute2) is missing"
    probe = f"sml-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"ip netns is not permitted here: {getattr(error, 'stderr', error)!s}".strip()
    _ip("netns", "delete", probe)
    return None


def _delete_leftovers() -> None:
    """Delete namespaces that an earlier run, killed before its cleanup, left behind: their
    names carry the id of a process that no longer exists."""
    for path in NETNS_FOLDER.glob("sml*-*"):
        match = re.fullmatch(r"sml(\d+)-(edge|host\d+)", path.name)
        if match and not Path(f"/proc/{match[1]}").exists():
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                _ip("netns", "delete", path.name)


@contextlib.contextmanager
def network_of_hosts(count: int, subnet: str = SUBNET) -> Iterator[Network]:
    """Create an edge namespace and `count` host namespaces wired to it; delete them all after."""
    if not 1 <= count <= 8:
        raise ValueError("between 1 and 8 hosts")
    _delete_leftovers()
    prefix = f"sml{os.getpid()}"
    edge = Host(f"{prefix}-edge", f"{subnet}.1")
    hosts = [Host(f"{prefix}-host{i}", f"{subnet}.{10 + i}") for i in range(1, count + 1)]
    made: list[str] = []
    try:
        for host in (edge, *hosts):
            _ip("netns", "add", host.namespace)
            made.append(host.namespace)
            _ip("-n", host.namespace, "link", "set", "lo", "up")
        _ip("-n", edge.namespace, "link", "add", "br0", "type", "bridge")
        _ip("-n", edge.namespace, "addr", "add", f"{edge.address}/24", "dev", "br0")
        _ip("-n", edge.namespace, "link", "set", "br0", "up")
        for index, host in enumerate(hosts, start=1):
            # The cable: `port{index}` stays in the edge (plugged into the bridge), `eth0` goes
            # into the host. Both ends are created inside namespaces, never on the machine.
            port = f"port{index}"
            _ip("-n", edge.namespace, "link", "add", port, "type", "veth",
                "peer", "name", "eth0", "netns", host.namespace)  # fmt: skip
            _ip("-n", edge.namespace, "link", "set", port, "master", "br0", "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", host.namespace, "link", "set", "eth0", "up")
        yield Network(edge, hosts)
    finally:
        # Deleting a namespace removes its interfaces, and with them the cables' other ends.
        for name in reversed(made):
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                _ip("netns", "delete", name)


def _enter(host: Host) -> None:
    """Move the calling thread (only it) into the host's network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = os.open(NETNS_FOLDER / host.namespace, os.O_RDONLY)
    try:
        if libc.setns(descriptor, _CLONE_NEWNET) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"setns into {host.namespace}: {os.strerror(number)}")
    finally:
        os.close(descriptor)


def run_inside(host: Host, function: Callable[..., T], *args, **kwargs) -> T:
    """Call `function` in a new thread that has joined the host's network namespace, and wait.

    Sockets it opens, threads it starts and programs it runs all live on that host's network;
    the caller's own thread never changes namespace.
    """
    outcome: dict = {}

    def body() -> None:
        try:
            _enter(host)
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the caller below
            outcome["error"] = error

    thread = threading.Thread(target=body, name=f"in-{host.namespace}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
