"""gunicorn's configuration for the reference service: `gunicorn -c examples/serving/gunicorn.conf.py
examples.serving.wsgi:app` (what `make serve` runs). gunicorn executes this file before it loads the
app; every name below that gunicorn knows is a setting, and the functions are hooks it calls.

Each setting can be changed through the environment, so one file serves a laptop and a server.
"""

import gc
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

# Where to listen: the loopback interface only, unless told otherwise (a container binds 0.0.0.0).
bind = os.environ.get("SERVING_BIND", "127.0.0.1:8000")
# Processes that handle requests. One per core: the model's work is CPU-bound, and Python runs
# one thread of Python code at a time per process, so more workers than cores only queue.
workers = int(os.environ.get("SERVING_WORKERS", os.cpu_count() or 1))
# Threads per worker: more than 1 selects the gthread worker, which helps when requests wait
# (on the database, a slow client) rather than compute.
threads = int(os.environ.get("SERVING_THREADS", "1"))
# Load the app, and so the model, once in the master process before forking the workers: they
# share its memory pages, start faster, and a broken model stops the start-up instead of every worker.
preload_app = True
# A worker silent for this many seconds is killed and replaced (a hung request must not last).
timeout = int(os.environ.get("SERVING_TIMEOUT", "30"))
# On SIGTERM, workers finish the requests they hold for up to this long, then are killed.
graceful_timeout = int(os.environ.get("SERVING_GRACEFUL_TIMEOUT", "20"))
# How long an idle keep-alive connection stays open waiting for the client's next request.
keepalive = int(os.environ.get("SERVING_KEEPALIVE", "5"))
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
# gunicorn with signals instead (TERM: graceful stop, HUP: reload, TTIN/TTOU: more/fewer workers).
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


def when_ready(server):
    """In the master, after the app and its model are loaded, before the workers are forked.

    gc.freeze() moves every object that exists now (the model, scikit-learn, pandas) out of the
    garbage collector's sight. A full collection in a worker then no longer walks those millions
    of objects: measured here, it took 70-80 ms and showed up as the p99 of large batches.
    """
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
