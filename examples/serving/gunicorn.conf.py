"""gunicorn's configuration for the reference service: `gunicorn -c examples/serving/gunicorn.conf.py
examples.serving.wsgi:app` (what `make serve` runs). gunicorn executes this file before it loads the
app; every name below that gunicorn knows is a setting, and the functions are hooks it calls.

Each setting can be changed through the environment, so one file serves a laptop and a server.
"""

import gc
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

# One BLAS thread per worker. numpy's linear algebra library starts one thread per core the first
# time it is imported; with two workers on two cores that is four threads fighting for two cores
# (oversubscription), which slows large matrix products. The variables are read when numpy loads,
# so they must be set here, before the app (and numpy) is imported. An operator's value wins.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Prometheus multiprocess mode needs a folder shared by the workers, known before
# prometheus_client is imported. Without one from the operator, we make a temporary folder.
_OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="serving-metrics-")
# Numbers left by a previous run must not be added to this one's. This runs before the app is
# loaded (preloading writes the model-version gauge), so it cannot wait for a start-up hook.
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
_metrics_dir.mkdir(parents=True, exist_ok=True)
for _stale in _metrics_dir.glob("*.db"):
    _stale.unlink()


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may run on: its CPU affinity, capped by a container's CPU quota.

    os.cpu_count() counts the host's cores, so a container allowed two of 32 would start 32
    workers. A fractional quota (1.5 cores) rounds up; macOS has neither affinity nor cgroups.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    quota = None
    try:
        # cgroup v2: "200000 100000", or "max 100000" without a quota
        limit, period = (cgroup / "cpu.max").read_text().split()
        if limit != "max":
            quota = int(limit) / int(period)
    except (OSError, ValueError):
        try:  # cgroup v1: the quota is -1 when there is none
            limit = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
            quota = limit / period if limit > 0 and period > 0 else None
        except (OSError, ValueError):
            pass
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return cores


# Where to listen: the loopback interface only, unless told otherwise (a container binds 0.0.0.0).
bind = os.environ.get("SERVING_BIND", "127.0.0.1:8000")
# Processes that handle requests. One per usable core: the model's work is CPU-bound, and Python
# runs one thread of Python code at a time per process, so more workers than cores only queue.
workers = int(os.environ.get("SERVING_WORKERS", usable_cores()))
# Threads per worker: more than 1 selects the gthread worker, which helps when requests wait
# (on the database, a slow client) rather than compute.
threads = int(os.environ.get("SERVING_THREADS", "1"))
# Load the app, and so the model, once in the master process before forking the workers: they
# share its memory pages and start faster. A model that fails to load then fails once, in the
# master: with SERVING_MODEL_REQUIRED=true the master exits before any worker starts; by default
# the workers start unready (503). The price: HUP forks new workers from the master's copy, so a
# new model or new code needs a full restart. "false" for development with gunicorn's --reload.
preload_app = os.environ.get("SERVING_PRELOAD", "true") == "true"
# A sync worker silent for this many seconds is killed and replaced, with the request it holds.
# A gthread worker (threads > 1) reports in from its main loop every second, whatever its threads
# do, so there this bounds no request: a hung one holds its thread until the process ends.
timeout = int(os.environ.get("SERVING_TIMEOUT", "30"))
# On SIGTERM, workers finish the requests they hold for up to this long, then are killed.
graceful_timeout = int(os.environ.get("SERVING_GRACEFUL_TIMEOUT", "20"))
# How long an idle keep-alive connection stays open waiting for the client's next request. The
# threaded and the asynchronous workers keep connections; a sync worker closes each one after its
# answer and ignores this, one more reason to put a buffering proxy (nginx) in front of sync workers.
keepalive = int(os.environ.get("SERVING_KEEPALIVE", "5"))
# Connections the kernel queues until a worker accepts one (the listen backlog, gunicorn's default).
# Beyond it Linux drops new connection attempts (tcp_abort_on_overflow is 0 by default), so clients
# retry and wait rather than being refused. Linux silently caps it at net.core.somaxconn.
backlog = 2048
# Replace a worker after this many requests, plus a random 0 to 10 % so that workers do not all
# restart at once. A remedy for a slow memory leak, which we have not seen (chapter 16 measures a
# worker's memory after requests), so 0, off. With preloading a new worker costs only a fork.
max_requests = int(os.environ.get("SERVING_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# Each worker proves it is alive by touching a file that the master watches. On a disk that
# stalls (a container's overlay filesystem under load) the touch can block past the timeout, so
# the file lives in memory where Linux offers it (/dev/shm), else in the default temporary folder.
_IN_MEMORY = "/dev/shm"  # noqa: S108 - gunicorn makes its file there with mkstemp and unlinks it
worker_tmp_dir = _IN_MEMORY if os.path.isdir(_IN_MEMORY) else None
# "-": a stream, which JsonLogger below makes stdout; a container platform or systemd collects
# what a process writes there.
errorlog = "-"
# gunicorn's own line per request, off unless SERVING_ACCESS_LOG=- asks for it: the app already
# writes one JSON line per request with more in it (request id, client, model version), and a
# second line for the same request cost about 100 µs of CPU here (benchmarks/ measured it).
accesslog = "-" if os.environ.get("SERVING_ACCESS_LOG", "off") == "-" else None
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus request_id=%({x-request-id}o)s'
loglevel = os.environ.get("SERVING_LOG_LEVEL", "info").lower()
# gunicorn 25+ opens a control socket at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl),
# so two gunicorns on one machine (tests, chapters, nginx's upstreams) would share it. We steer
# gunicorn with signals instead (TERM: graceful stop, HUP: new workers and re-read settings, not
# new code while preloading; TTIN/TTOU: one worker more/fewer).
control_socket_disable = True
# Where the operator reads /metrics: a second port, served by the master process (when_ready
# below), which a firewall or a Kubernetes NetworkPolicy keeps away from the public. The public
# port (bind) has no /metrics: its numbers reveal traffic and the mix of predicted classes.
# "off" serves no metrics at all. Not 9100: that is node_exporter's port on many hosts.
metrics_bind = os.environ.get("SERVING_METRICS_BIND", "127.0.0.1:8001")


class JsonLogger(Logger):
    """gunicorn's own lines (start-up, workers, access) as JSON on stdout, like the app's, so every
    line the service writes can be parsed the same way."""

    def _set_handler(self, log, output, fmt, stream=None):
        from examples.serving.production.request_logging import JsonFormatter

        super()._set_handler(log, output, JsonFormatter(), stream or sys.stdout)


logger_class = JsonLogger


# SERVING_GC_FREEZE=false leaves the collector alone (chapter 16 measures what the freeze changes).
freeze_after_load = os.environ.get("SERVING_GC_FREEZE", "true") == "true"


def when_ready(server):
    """In the master, once the socket is open and before the first worker is forked; with
    preloading (our default) the app and its model are loaded by then.

    gc.freeze() moves every object that exists now (the model, scikit-learn, pandas) out of the
    garbage collector's sight. A full collection in a worker then no longer walks those millions
    of objects: measured here, it took 70-80 ms and showed up as the p99 of large batches.
    """
    if freeze_after_load:
        gc.collect()
        gc.freeze()
    if metrics_bind != "off":
        # A thread of the master: it answers scrapes even while every worker is busy, and adds
        # up the workers' files (multiprocess mode). It reads those files and nothing the
        # workers share with the master, so a fork while it runs cannot leave a worker a lock
        # held by this thread that the worker would then need.
        from examples.serving.production.metrics import serve_to_operator

        host, _, port = metrics_bind.rpartition(":")
        try:
            metrics_server = serve_to_operator(host, int(port))
        except OSError as error:
            # Predictions matter more than their metrics: say so loudly and keep serving.
            server.log.error("no metrics served: cannot listen on %s: %s", metrics_bind, error)
            return
        server.log.info("metrics for the operator on http://%s:%s/metrics", host,
                        metrics_server.server_port)  # fmt: skip


def post_fork(server, worker):
    """In each new worker: count it as alive (the saturation alert divides by this)."""
    from examples.serving.production.metrics import service_metrics

    service_metrics().workers.set(1)


def child_exit(server, worker):
    """In the master, when a worker ends: drop its per-process gauge values from the metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
