"""HTTP/1.1 written and read by hand over a plain TCP socket (chapter 3).

Nothing here is needed in practice (`requests` does all of it); it exists so that a reader can see
every byte of a request and of a response.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

CRLF = b"\r\n"


def build_request(
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    """The bytes of one HTTP/1.1 request: request line, headers, an empty line, then the body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        if any(character in f"{name}{value}" for character in "\r\n"):
            raise ValueError(f"header {name!r}: a line break would start a header of its own")
        if name.lower() != "content-length":  # computed from the body below, never sent twice
            lines.append(f"{name}: {value}")
    if body or method in {"POST", "PUT", "PATCH"}:  # RFC 9110 8.6: send 0 rather than nothing
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines).encode("ascii")
    return head + CRLF + CRLF + body


@dataclass
class RawResponse:
    """One HTTP response taken apart: the status line, the header fields in order, the body."""

    status_line: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_code(self) -> int:
        return int(self.status_line.split(" ", 2)[1])

    def header(self, name: str) -> str | None:
        """The value of a header field; names are case-insensitive in HTTP."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    """Split the part before the empty line into the status line and (name, value) pairs."""
    status_line, *header_lines = head.decode("iso-8859-1").split("\r\n")
    headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return status_line, headers


def read_response(stream) -> RawResponse | None:
    """Read exactly one response from a socket's file object; None if the server has hung up.

    The end of the head is the empty line; the end of the body is given by Content-Length. That
    is what lets one connection carry several responses one after another (keep-alive).
    A simplification: HEAD, 1xx/204/304, chunked and close-delimited bodies need RFC 9112's rules.
    """
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        byte = stream.read(1)
        if not byte:
            return None
        head += byte
    status_line, headers = parse_head(bytes(head[:-4]))
    response = RawResponse(status_line, headers, b"")
    length = int(response.header("Content-Length") or 0)
    response.body = stream.read(length) if length else b""
    return response


def send_request(host: str, port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Open a TCP connection, send the request bytes, and return every byte until the server closes."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(request)
        received = bytearray()
        while chunk := connection.recv(4096):
            received += chunk
    return bytes(received)


def split_response(raw: bytes) -> RawResponse:
    """Take one complete response apart at the first empty line."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, headers = parse_head(head)
    return RawResponse(status_line, headers, body)
