"""The Celery application. Configuration lives in Django settings (CELERY_ prefix)."""

import os

from celery import Celery, signals

from egressui.correlation import _correlation_id, sanitize_correlation_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "egressui.settings")

app = Celery("egressui")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_tokens: dict[str, object] = {}


@signals.task_prerun.connect
def _enter_correlation_scope(task_id=None, **_):
    """Audit events written by a task carry the task id as their correlation id."""
    _tokens[task_id] = _correlation_id.set(sanitize_correlation_id(task_id))


@signals.task_postrun.connect
def _leave_correlation_scope(task_id=None, **_):
    token = _tokens.pop(task_id, None)
    if token is not None:
        _correlation_id.reset(token)
