# The reference service as a container image: gunicorn serving examples.serving.wsgi:app.
# Build:  docker build -t wine-api .
# Run:    docker run --rm -p 127.0.0.1:8000:8000 --env-file .env \
#           -v "$PWD/models/wine-classifier:/var/lib/serving/model:ro" wine-api
# The image holds no model and never trains one: the model is an input, mounted read-only at
# /var/lib/serving/model (a folder `make model` wrote, or on Kubernetes a model image copied by an
# init container: deploy/kubernetes/). Without one the service stops at start with a clear error.
# Secrets (API key hashes, the JWT secret) are never written here: they arrive at run time.

# A slim Debian image with CPython 3.11, pinned to an exact patch release and Debian release
# (bookworm). 3.11.7 is the Python the book's tests run on, so requirements.txt's pins are the
# tested ones. The tag still moves: its publishers rebuild it when Debian ships security fixes.
# Adding its digest after the tag (`-slim-bookworm@sha256:` and 64 hex digits) freezes it exactly,
# and then fixes arrive only when someone changes the digest. The trade-off we recommend at work:
# tag and digest together, kept current by Dependabot's "docker" ecosystem (or Renovate), which
# opens a pull request with the new digest of the same tag, so CI tests every change of base.
# This book cannot look digests up offline, so it keeps the tag alone; .github/dependabot.yml
# says which updates then arrive by pull request and which arrive unannounced.
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

# /var/lib/serving/model receives the model (mounted read-only); /var/lib/serving/data is where the
# service writes (the SQLite files). Owned by the service's user: a new named volume mounted on
# /var/lib/serving/data starts with this ownership.
RUN mkdir -p /var/lib/serving/model /var/lib/serving/data \
    && chown -R serving:serving /var/lib/serving

WORKDIR /app

# Dependencies before the code: this layer is rebuilt only when the requirements change, not on
# every edit of the code. requirements-service.txt holds only what the service imports (not the
# book's tools), with the same pins as requirements.txt, plus the build backend (setuptools), and
# the SHA-256 of every file for x86-64 and arm64: --require-hashes makes pip refuse any file
# that is not byte for byte the one we locked.
COPY requirements-service.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements-service.txt

# Now the code, installed the way requirements.txt's last line does on a laptop: editable, so the
# one copy in /app/examples is what Python imports (its dependencies are all installed above).
# --no-build-isolation: build with the hashed setuptools installed above, instead of letting pip
# fetch the newest setuptools, unpinned and unhashed, into a throwaway environment.
COPY pyproject.toml ./
COPY examples ./examples
RUN pip install --no-cache-dir --no-deps --no-build-isolation --editable .

# The service's settings for a container (every one can be overridden with -e or an env file).
# It listens on all of the container's interfaces (the container's own network, not the host's:
# publishing the port is the host's decision), and keeps its state in /var/lib/serving/data (the
# defaults would write under /app, which the service's user cannot write to).
# The model is read, never trained: SERVING_TRAIN_IF_MISSING=false makes a missing model an error.
# Two workers unless told otherwise. Without SERVING_WORKERS, gunicorn.conf.py would start one per
# os.cpu_count(), which in a container counts the host's cores (64 on a big server), not the CPU
# the container may use:
# a CPU limit is a cgroup quota (so many microseconds of CPU per 100 ms period), and the kernel
# still shows every core. Set SERVING_WORKERS to the limit's number of CPUs (compose.yaml and the
# Kubernetes ConfigMap do).
ENV SERVING_BIND=0.0.0.0:8000 \
    SERVING_WORKERS=2 \
    SERVING_MODEL_DIR=/var/lib/serving/model \
    SERVING_TRAIN_IF_MISSING=false \
    SERVING_DATABASE_URL=sqlite:////var/lib/serving/data/predictions.sqlite3 \
    SERVING_RATE_LIMIT_DATABASE=/var/lib/serving/data/rate_limits.sqlite3

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
