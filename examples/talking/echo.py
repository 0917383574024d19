"""A TCP echo server and client written with the `socket` module (chapter 2).

The server sends every byte it receives straight back. It runs in a background thread and stops
cleanly: `with EchoServer() as server:` starts it, leaving the block stops it and joins the thread.
"""

from __future__ import annotations

import socket
import threading

LOOPBACK = "127.0.0.1"


class EchoServer:
    """Listen on 127.0.0.1 (port 0: the operating system picks a free one) and echo every byte."""

    def __init__(self, host: str = LOOPBACK, port: int = 0):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, port))
        self._listener.listen()
        # accept() wakes up every 0.1 s to check whether we were asked to stop.
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()
        self.connections_served = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="echo-server", daemon=True)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _client_address = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                self._echo(connection)
            self.connections_served += 1

    def _echo(self, connection: socket.socket) -> None:
        """Send back what arrives until the client closes its side (recv returns b"")."""
        connection.settimeout(5.0)
        while not self._stopping.is_set():
            try:
                chunk = connection.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return
            connection.sendall(chunk)

    def start(self) -> EchoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to finish, wait for it, and release the port."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._listener.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def echo_once(host: str, port: int, message: bytes, timeout: float = 5.0) -> bytes:
    """Connect, send `message`, close our sending side, and return everything that comes back."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(message)
        # "I have nothing more to send": the server's recv() then returns b"" and it hangs up.
        connection.shutdown(socket.SHUT_WR)
        received = bytearray()
        while chunk := connection.recv(4096):
            received += chunk
    return bytes(received)
