"""Structured logs (egressui/logging.py) and the per-request log line (RequestLogMiddleware)."""

import io
import json
import logging

import pytest
import structlog

from egressui.correlation import correlation_scope
from egressui.logging import logging_config


def _handler(log_format: str) -> tuple[logging.Handler, io.StringIO]:
    """The configured formatter on a private stream, so tests never touch the global logging setup."""
    options = dict(logging_config(log_format=log_format)["formatters"]["structlog"])
    factory = options.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**options))
    return handler, stream


@pytest.fixture
def capture(request):
    """Attach a handler to the named loggers for one test; yields a function returning the lines."""
    attached = []

    def start(*names: str, log_format: str = "json"):
        handler, stream = _handler(log_format)
        for name in names:
            logger = logging.getLogger(name)
            attached.append((logger, handler, logger.level))
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        return lambda: stream.getvalue().splitlines()

    yield start
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


class StructuredLogTests:
    def test_stdlib_records_become_json_with_the_correlation_id(self, capture):
        lines = capture("tests.deploy.stdlib")
        with correlation_scope("req-123"):
            logging.getLogger("tests.deploy.stdlib").warning("cluster %s unreachable", "prod-1", extra={"tries": 3})
        (line,) = lines()
        entry = json.loads(line)
        assert entry["event"] == "cluster prod-1 unreachable"
        assert entry["correlation_id"] == "req-123"
        assert entry["level"] == "warning"
        assert entry["logger"] == "tests.deploy.stdlib"
        assert entry["tries"] == 3
        assert entry["timestamp"].endswith("Z")

    def test_structlog_loggers_share_the_pipeline(self, capture):
        lines = capture("tests.deploy.native")
        with correlation_scope("task-9"):
            structlog.get_logger("tests.deploy.native").info("reconciled", cluster="prod-1", created=2)
        entry = json.loads(lines()[0])
        assert entry == {
            "event": "reconciled",
            "cluster": "prod-1",
            "created": 2,
            "correlation_id": "task-9",
            "level": "info",
            "logger": "tests.deploy.native",
            "timestamp": entry["timestamp"],
        }

    def test_exceptions_are_structured_not_multiline(self, capture):
        lines = capture("tests.deploy.errors")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("tests.deploy.errors").exception("failed")
        (line,) = lines()
        (exception,) = json.loads(line)["exception"]
        assert exception["exc_type"] == "RuntimeError" and exception["exc_value"] == "boom"

    @pytest.mark.parametrize("log_format", ["json", "console"])
    def test_tracebacks_leave_out_local_variables(self, capture, log_format):
        lines = capture("tests.deploy.secrets", log_format=log_format)

        def connect(token: str):
            raise ConnectionError("refused")

        secret = "-".join(("s3cr3t", "bearer", "token"))  # not in any source line a traceback quotes
        try:
            connect(token=secret)
        except ConnectionError:
            logging.getLogger("tests.deploy.secrets").exception("cannot reach the cluster")
        text = "\n".join(lines())
        assert "ConnectionError" in text and "connect" in text  # the traceback is there
        assert "s3cr3t-bearer-token" not in text

    def test_no_correlation_id_outside_a_request_or_task(self, capture):
        lines = capture("tests.deploy.bare")
        logging.getLogger("tests.deploy.bare").info("startup")
        assert "correlation_id" not in json.loads(lines()[0])

    def test_console_format_is_readable_text(self, capture):
        lines = capture("tests.deploy.console", log_format="console")
        with correlation_scope("req-7"):
            logging.getLogger("tests.deploy.console").info("hello")
        (line,) = lines()
        assert "hello" in line and "correlation_id=req-7" in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)

    def test_celery_task_lines_leave_out_the_task_arguments(self, capture):
        lines = capture("celery.worker.strategy", "tests.deploy.other")
        data = {"id": "t-1", "name": "policies.tasks.send_email_task", "kwargs": "{'to': ['lead@example.com']}"}
        logging.getLogger("celery.worker.strategy").info(
            "Task %s received", "send_email_task[t-1]", extra={"data": data}
        )
        logging.getLogger("tests.deploy.other").info("kept", extra={"data": {"n": 1}})
        task, other = (json.loads(line) for line in lines())
        assert task["event"] == "Task send_email_task[t-1] received" and "data" not in task
        assert "lead@example.com" not in json.dumps(task)
        assert other["data"] == {"n": 1}

    def test_quiet_start(self):
        """No version banner from axes in every process; emails a task prints are not warnings."""
        from django.conf import settings

        assert settings.LOGGING["loggers"]["axes.apps"]["level"] == "WARNING"
        assert settings.CELERY_WORKER_REDIRECT_STDOUTS_LEVEL == "INFO"

    def test_unknown_format_is_refused(self):
        with pytest.raises(ValueError, match="json, console"):
            logging_config(log_format="xml")


class RequestLogTests:
    def test_one_line_per_request_with_the_id_sent_back_to_the_client(self, client, capture, django_user_model):
        lines = capture("egressui.request", "django.request")
        user = django_user_model.objects.create_user("alice", password="x")
        client.force_login(user)
        # /healthz answers GET only: a 405 is logged by us (info) and by Django (warning).
        response = client.post("/healthz?token=secret-value", headers={"X-Request-ID": "client-id-1"})
        djangos, ours = (json.loads(line) for line in lines())  # the view logs first
        assert response["X-Request-ID"] == ours["correlation_id"] == "client-id-1"
        assert ours["event"] == "request" and ours["level"] == "info"
        assert (ours["method"], ours["path"], ours["status"], ours["user_id"]) == ("POST", "/healthz", 405, user.pk)
        assert isinstance(ours["duration_ms"], float)
        assert djangos["logger"] == "django.request" and djangos["request"] == "POST /healthz"
        assert "secret-value" not in "".join(lines()), "query strings may carry tokens"

    def test_successful_health_probes_log_at_debug(self, client, capture):
        lines = capture("egressui.request")
        client.get("/healthz")
        assert json.loads(lines()[0])["level"] == "debug"
