"""Where async wins: a service whose requests wait on another service (chapter 17's section on
async). The upstream answers after a fixed wait without using the CPU; the three front services
call it once per request and differ only in how they wait:

- `create_flask_app()` under gunicorn's sync workers: one waiting request holds one process;
- the same Flask app under gunicorn's gthread workers: one waiting request holds one thread;
- `create_async_app()` under uvicorn: a waiting request holds neither, only a suspended coroutine
  on the worker's event loop.

    uvicorn examples.production.demos.upstream_calls:create_upstream_app --factory --port 9000
    UPSTREAM_URL=http://127.0.0.1:9000/wait gunicorn -w 2 \
        'examples.production.demos.upstream_calls:create_flask_app()'
"""

from __future__ import annotations

import asyncio
import os
import threading
from contextlib import asynccontextmanager

import aiohttp
import requests
from fastapi import FastAPI
from flask import Flask

# How long the upstream takes to answer: a stand-in for a database or another model's service.
UPSTREAM_WAIT_SECONDS = 0.05


def create_upstream_app() -> FastAPI:
    """The slow service being called: it waits without holding the CPU, which it uses only to parse
    and answer; at a few hundred calls a second on two shared cores that too becomes a limit."""
    app = FastAPI()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/wait")
    async def wait():
        await asyncio.sleep(UPSTREAM_WAIT_SECONDS)
        return {"waited_s": UPSTREAM_WAIT_SECONDS}

    return app


def create_flask_app() -> Flask:
    """A WSGI front: each request calls the upstream and waits for it, holding its worker (or its
    thread). Each thread keeps its own `requests` session, so connections to the upstream are
    reused, as the async front's are."""
    upstream = os.environ["UPSTREAM_URL"]
    local = threading.local()
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/call")
    def call():
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return {"upstream": local.session.get(upstream, timeout=5).json()}

    return app


def create_async_app() -> FastAPI:
    """An ASGI front: while a request awaits the upstream, the event loop serves other requests."""
    upstream = os.environ["UPSTREAM_URL"]
    sessions: list[aiohttp.ClientSession] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # One HTTP client per worker, made on the worker's own event loop and closed with it.
        sessions.append(aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)))
        yield
        await sessions.pop().close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/call")
    async def call():
        async with sessions[0].get(upstream) as reply:
            return {"upstream": await reply.json()}

    return app
