# The reference service as a container image: gunicorn serving examples.serving.wsgi:app.
# Build:  docker build -t wine-api .
# Run:    docker run --rm -p 127.0.0.1:8000:8000 --env-file .env wine-api
# Secrets (API key hashes, the JWT secret) are never written here: they arrive at run time.

# A slim Debian image with CPython 3.11, pinned to an exact patch release and Debian release
# (bookworm), so a rebuild next month starts from the same system, not whatever "latest" became.
# 3.11.7 is the Python the book's tests run on, so requirements.txt's pins are the tested ones.
FROM python:3.11.7-slim-bookworm

# Python does not try to write .pyc files next to the code at run time (the service's user may
# not write there, and compose and Kubernetes make the file system read-only), and does not buffer
# stdout/stderr, so every log line reaches `docker logs` at once, even if the process crashes.
# pip keeps no download cache (it would only make the layer larger), does not look for a newer pip,
# and does not warn about running as root (an image build is the one place where that is normal).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# An unprivileged user with a fixed numeric id: an attacker who takes over the process cannot
# change the image's programs and libraries, and Kubernetes' runAsNonRoot can check the number.
# No home folder, no login shell.
RUN groupadd --system --gid 10001 serving \
    && useradd --system --uid 10001 --gid serving --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin serving

# Everything the service writes lives under /var/lib/serving: the model (trained on first start if
# missing) and the SQLite database. Owned by the service's user; a named volume mounted here
# starts with this ownership.
RUN mkdir -p /var/lib/serving/model && chown -R serving:serving /var/lib/serving

WORKDIR /app

# Dependencies before the code: this layer is rebuilt only when the requirements change, not on
# every edit of the code. requirements-service.txt holds only what the service imports (not the
# book's tools), with the same pins as requirements.txt and the SHA-256 of every file:
# --require-hashes makes pip refuse any file that is not byte for byte the one we tested.
COPY requirements-service.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements-service.txt

# Now the code, installed the way requirements.txt's last line does on a laptop: editable, so the
# one copy in /app/examples is what Python imports (its dependencies are all installed above).
COPY pyproject.toml ./
COPY examples ./examples
RUN pip install --no-cache-dir --no-deps --editable .

# The service's settings for a container (every one can be overridden with -e or an env file).
# It listens on all of the container's interfaces (the container's own network, not the host's:
# publishing the port is the host's decision), and keeps its state in /var/lib/serving (the
# defaults would write under /app, which the service's user cannot write to).
ENV SERVING_BIND=0.0.0.0:8000 \
    SERVING_MODEL_DIR=/var/lib/serving/model \
    SERVING_DATABASE_URL=sqlite:////var/lib/serving/predictions.sqlite3 \
    SERVING_RATE_LIMIT_DATABASE=/var/lib/serving/rate_limits.sqlite3

# From here on, nothing runs as root: not the health check, not the server.
USER 10001:10001

# Documentation for people and tools: the port the server listens on inside the container.
EXPOSE 8000

# Ask /healthz every 30 s. The slim image has no curl, so Python does it: urlopen raises on a
# refused connection, a timeout or a status of 400 or more, and the exception makes the exit code 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

# The exec form (a JSON list): gunicorn is process 1 and receives SIGTERM from `docker stop`
# itself, so it can finish the requests in flight (its graceful_timeout) before it exits.
# gunicorn 27 would also open a control socket under $HOME, which this user does not have (an
# error line at every start); nothing here uses it.
CMD ["gunicorn", "--config", "examples/serving/gunicorn.conf.py", "--no-control-socket", \
     "examples.serving.wsgi:app"]
