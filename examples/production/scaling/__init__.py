"""Scaling out on one machine: nginx as a reverse proxy and load balancer in front of several
gunicorn instances, all on 127.0.0.1."""

from examples.production.scaling.nginx import (
    NGINX,
    NginxSettings,
    read_access_log,
    render_nginx_config,
    run_gunicorn_instances,
    run_nginx,
)

__all__ = [
    "NGINX",
    "NginxSettings",
    "read_access_log",
    "render_nginx_config",
    "run_gunicorn_instances",
    "run_nginx",
]
