"""Sending a request body chunked (without Content-Length), which Flask's test client cannot do."""

import http.client
import json


def post_chunked(server, path: str, body: bytes) -> tuple[int, dict]:
    """POST `body` as JSON to a real server in one chunk, with no Content-Length; the status and
    the decoded reply."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        # An iterable body without Content-Length: http.client sends it chunked.
        headers = {"Content-Type": "application/json"}
        connection.request("POST", path, body=iter([body]), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
