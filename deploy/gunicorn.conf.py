"""gunicorn settings for the web container (the image's default command). Every value can still be
overridden on the command line or through GUNICORN_CMD_ARGS; WEB_CONCURRENCY sets the worker count."""

import os

from egressui.logging import logging_config

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = 30
graceful_timeout = 25  # below Kubernetes' default 30 s termination grace period
keepalive = 5
# Recycle workers now and then so a slow leak can never take a pod down.
max_requests = 2000
max_requests_jitter = 200
# The root filesystem is read-only: heartbeat files go to memory, and the control socket
# (which would be created under $HOME) is not used.
worker_tmp_dir = "/dev/shm"
control_socket_disable = True
# Django's RequestLogMiddleware writes one structured line per request, with its correlation id.
accesslog = None
logconfig_dict = logging_config(
    level=os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper(),
    log_format=os.environ.get("EGRESSUI_LOG_FORMAT", "json"),
)
